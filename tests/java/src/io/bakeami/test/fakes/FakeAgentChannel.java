package io.bakeami.test.fakes;

import hudson.remoting.Callable;
import hudson.remoting.Future;
import hudson.remoting.VirtualChannel;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.Collection;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import jenkins.security.Roles;
import org.jenkinsci.remoting.Role;
import org.jenkinsci.remoting.RoleChecker;

/**
 * A channel to a pretend agent in this JVM, with remoting's semantics where they matter here:
 * the callable is role-checked (must be controller-to-agent) and serialized to the "agent", runs
 * on an agent thread, and its result is serialized back. When the calling thread is interrupted,
 * the agent thread is interrupted (Request.Cancel) and the call returns at once with
 * InterruptedException, without waiting for the agent (Request.call). {@link #terminate} is
 * Channel.terminate (a controller restart, a network cut): every running agent call is
 * interrupted, and every controller call fails with an IOException.
 */
public final class FakeAgentChannel implements VirtualChannel {
    private final ExecutorService agent = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "fake agent");
        t.setDaemon(true);
        return t;
    });

    /** Where the "agent" loads the classes of the callables it receives. */
    private final ClassLoader agentLoader;

    public FakeAgentChannel() {
        this(FakeAgentChannel.class.getClassLoader());
    }

    /** An agent whose plugin classes come from this loader (a reconnected agent's: ReconnectedAgentLoader). */
    public FakeAgentChannel(ClassLoader agentLoader) {
        this.agentLoader = agentLoader;
    }

    private final java.util.Set<java.util.concurrent.Future<?>> calls = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /** Closes the channel as Channel.terminate does: agent threads interrupted, calls failed. */
    public void terminate() {
        closed = true;
        for (java.util.concurrent.Future<?> f : calls) {
            f.cancel(true);
        }
    }

    @Override
    public <V, T extends Throwable> V call(Callable<V, T> callable) throws IOException, T, InterruptedException {
        if (closed) {
            throw new IOException("the channel is closed");
        }
        callable.checkRoles(new RoleChecker() {
            @Override
            public void check(org.jenkinsci.remoting.RoleSensitive subject, Collection<Role> expected) {
                if (!expected.contains(Roles.SLAVE)) {
                    throw new SecurityException(subject + " is not meant to run on an agent");
                }
            }
        });
        byte[] wire = serialize(callable);
        java.util.concurrent.Future<byte[]> f = agent.submit(() -> {
            @SuppressWarnings("unchecked")
            Callable<V, T> onAgent = (Callable<V, T>) deserialize(wire, agentLoader);
            try {
                return serialize(onAgent.call());
            } catch (Throwable t) {
                throw new Carried(t);
            }
        });
        calls.add(f);
        try {
            @SuppressWarnings("unchecked")
            V v = (V) deserialize(f.get(), FakeAgentChannel.class.getClassLoader());
            return v;
        } catch (java.util.concurrent.CancellationException e) {
            throw new IOException("the channel is closed", e); // terminate()
        } catch (InterruptedException e) {
            f.cancel(true); // Request.Cancel: interrupts the agent thread
            throw e;        // and the controller does not wait
        } catch (ExecutionException e) {
            Throwable c = e.getCause() instanceof Carried carried ? carried.getCause() : e.getCause();
            if (c instanceof IOException io) {
                throw io;
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error err) {
                throw err;
            }
            @SuppressWarnings("unchecked")
            T t = (T) c;
            throw t;
        } finally {
            calls.remove(f);
        }
    }

    @Override
    public <V, T extends Throwable> Future<V> callAsync(Callable<V, T> callable) {
        throw new UnsupportedOperationException();
    }

    /** What the agent's callable threw, carried through the executor. */
    private static final class Carried extends Exception {
        private static final long serialVersionUID = 1L;

        Carried(Throwable t) {
            super(t);
        }
    }

    private static byte[] serialize(Object o) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        return bytes.toByteArray();
    }

    private static Object deserialize(byte[] b, ClassLoader loader) throws IOException {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(b)) {
            @Override
            protected Class<?> resolveClass(java.io.ObjectStreamClass desc) throws IOException, ClassNotFoundException {
                return Class.forName(desc.getName(), false, loader);
            }
        }) {
            return in.readObject();
        } catch (ClassNotFoundException e) {
            throw new IOException(e);
        }
    }
}
