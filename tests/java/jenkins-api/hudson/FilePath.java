/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson;

import hudson.remoting.Callable;
import hudson.remoting.Future;
import hudson.remoting.VirtualChannel;
import java.io.File;
import java.io.IOException;
import java.io.Serializable;
import org.jenkinsci.remoting.RoleChecker;
import org.jenkinsci.remoting.RoleSensitive;
import org.jenkinsci.remoting.SerializableOnlyOverRemoting;

/**
 * Stand-in. Like the real one: on the built-in node (no channel) act() runs the callable in the
 * calling thread, so an interrupt of that thread reaches the callable directly; with a channel it
 * wraps the callable and hands it to channel.call (tests supply a channel that behaves like
 * remoting's: serialized, run on another thread, interrupt = cancel and return at once).
 */
public final class FilePath implements SerializableOnlyOverRemoting {
    private static final long serialVersionUID = 1L;

    public static final VirtualChannel localChannel = new VirtualChannel() {
        @Override
        public <V, T extends Throwable> V call(Callable<V, T> callable) throws T {
            return callable.call();
        }

        @Override
        public <V, T extends Throwable> Future<V> callAsync(Callable<V, T> callable) {
            throw new UnsupportedOperationException("stand-in");
        }
    };

    private final transient VirtualChannel channel;
    private final String remote;

    public FilePath(VirtualChannel channel, String remote) {
        this.channel = channel == localChannel ? null : channel;
        this.remote = remote;
    }

    public FilePath(File localPath) {
        this.channel = null;
        this.remote = localPath.getPath();
    }

    public String getRemote() {
        return remote;
    }

    public boolean isRemote() {
        return channel != null;
    }

    public VirtualChannel getChannel() {
        return channel != null ? channel : localChannel;
    }

    public FilePath child(String relOrAbsolute) {
        return new FilePath(channel, new File(new File(remote), relOrAbsolute).getPath());
    }

    public <T> T act(final FileCallable<T> callable) throws IOException, InterruptedException {
        if (channel == null) {
            return callable.invoke(new File(remote), localChannel);
        }
        try {
            return channel.call(new FileCallableWrapper<>(callable, remote));
        } catch (TunneledInterruptedException e) {
            InterruptedException ie = new InterruptedException(e.getMessage());
            ie.initCause(e);
            throw ie;
        }
    }

    private static final class FileCallableWrapper<T> implements Callable<T, IOException> {
        private static final long serialVersionUID = 1L;
        private final FileCallable<T> callable;
        private final String remote;

        FileCallableWrapper(FileCallable<T> callable, String remote) {
            this.callable = callable;
            this.remote = remote;
        }

        @Override
        public T call() throws IOException {
            try {
                return callable.invoke(new File(remote), localChannel);
            } catch (InterruptedException e) {
                throw new TunneledInterruptedException(e);
            }
        }

        @Override
        public void checkRoles(RoleChecker checker) throws SecurityException {
            callable.checkRoles(checker);
        }
    }

    private static final class TunneledInterruptedException extends IOException {
        private static final long serialVersionUID = 1L;

        TunneledInterruptedException(InterruptedException cause) {
            super(cause);
        }
    }

    public <V, E extends Throwable> V act(Callable<V, E> callable) throws IOException, InterruptedException, E {
        return callable.call();
    }

    @Override
    public String toString() {
        return remote;
    }

    public interface FileCallable<T> extends Serializable, RoleSensitive {
        T invoke(File f, VirtualChannel channel) throws IOException, InterruptedException;
    }
}
