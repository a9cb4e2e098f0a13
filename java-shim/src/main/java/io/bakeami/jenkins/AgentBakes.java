package io.bakeami.jenkins;

import io.bakeami.nativelib.Bake;
import io.bakeami.nativelib.BakeException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The bakes running in this JVM (the agent's), by the key the controller chose. A native bake
 * runs on its own thread, so the thread that serves the controller's call can be interrupted
 * (abort, channel closed) and still cancel the bake and wait for its cleanup; a later call with
 * the same key ({@link AwaitBakeCallable}) waits for that cleanup too.
 */
final class AgentBakes {
    private static final ConcurrentHashMap<String, Running> RUNNING = new ConcurrentHashMap<>();

    private AgentBakes() {}

    static Running start(String key, Bake bake) {
        Running r = new Running(key, bake);
        if (RUNNING.putIfAbsent(key, r) != null) {
            bake.close();
            throw new IllegalStateException("a bake with key " + key + " is already running");
        }
        r.thread.start();
        return r;
    }

    static Running get(String key) {
        return RUNNING.get(key);
    }

    static final class Running {
        private final String key;
        private final Bake bake;
        private final Thread thread;
        private final CountDownLatch done = new CountDownLatch(1);
        private volatile BakeOutcome outcome;

        private Running(String key, Bake bake) {
            this.key = key;
            this.bake = bake;
            this.thread = new Thread(this::run, "bakeAmi " + key);
            this.thread.setDaemon(true);
        }

        private void run() {
            try {
                bake.run();
                outcome = BakeOutcome.succeeded(bake);
            } catch (BakeException e) {
                outcome = BakeOutcome.failed(bake, e);
            } catch (Throwable t) {
                outcome = BakeOutcome.crashed(bake, t);
            } finally {
                bake.close();
                RUNNING.remove(key, this);
                done.countDown();
            }
        }

        void cancel() {
            bake.cancel();
        }

        /** Waits for the bake (its cleanup included) to end; interruptible. */
        BakeOutcome await() throws InterruptedException {
            done.await();
            return outcome;
        }

        /** Waits up to timeoutMs; interruptible. True when it ended. */
        boolean await(long timeoutMs) throws InterruptedException {
            return done.await(timeoutMs, TimeUnit.MILLISECONDS);
        }

        /** Waits up to timeoutMs, ignoring interrupts (re-asserted on return). True when it ended. */
        boolean awaitUninterruptibly(long timeoutMs) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            boolean interrupted = false;
            try {
                while (true) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return done.getCount() == 0;
                    }
                    try {
                        return done.await(left, TimeUnit.NANOSECONDS);
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}
