package io.bakeami.jenkins;

import io.bakeami.nativelib.Bake;
import io.bakeami.nativelib.BakeException;
import java.io.File;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The bakes this agent JVM owns, by the key the controller chose. A bake runs on a thread of its
 * own and to its end, cleanup included, whatever happens to the controller's call: the call only
 * watches it ({@link BakeCallable}), an abort cancels it by key ({@link CancelBakeCallable}), a
 * resumed step reattaches to it ({@link ResumeBakeCallable}). A key cancelled before its bake
 * started is remembered, so that bake never starts.
 */
final class AgentBakes {
    private static final Object LOCK = new Object();
    private static final Map<String, Running> RUNNING = new HashMap<>(); // guarded by LOCK
    private static final Set<String> CANCELLED = new HashSet<>();        // guarded by LOCK

    private AgentBakes() {}

    /**
     * Starts the bake on its own thread. Refuses (closing it, nothing made) when its key was
     * cancelled first or this thread was interrupted: the abort came before the bake began.
     */
    static Running start(String key, Bake bake, File ws, BakeFiles files, BakeFiles.Log log)
            throws InterruptedException {
        Running r;
        synchronized (LOCK) {
            boolean cancelled = CANCELLED.remove(key);
            boolean interrupted = Thread.interrupted(); // cleared: the InterruptedException below says it
            if (cancelled || interrupted) {
                bake.close();
                log.line("[bakeAmi] the bake was cancelled before it started: nothing was made");
                log.close();
                throw new InterruptedException("bakeAmi: the bake was cancelled before it started");
            }
            if (RUNNING.containsKey(key)) {
                bake.close();
                log.close();
                throw new IllegalStateException("a bake with key " + key + " is already running");
            }
            FileChannel lock;
            try {
                lock = files.lockRunning();
            } catch (IOException e) {
                bake.close();
                log.close();
                throw new IllegalStateException(e.getMessage(), e);
            }
            r = new Running(key, bake, ws, files, log, lock);
            RUNNING.put(key, r);
        }
        r.thread.start();
        return r;
    }

    static Running get(String key) {
        synchronized (LOCK) {
            return RUNNING.get(key);
        }
    }

    /**
     * Cancels the bake with this key: run by these classes, at once; run by an earlier class
     * loader of this agent (before a reconnect), through its cancel file, which its watcher
     * reads; not started yet, it never will. Null unless these classes run it.
     */
    static Running cancel(String key, BakeFiles files) throws IOException {
        synchronized (LOCK) {
            Running r = RUNNING.get(key);
            if (r != null) {
                r.bake.cancel(); // harmless once it ended
            } else if (files.isRunning()) {
                BakeFiles.touch(files.cancel);
            } else {
                CANCELLED.add(key);
            }
            return r;
        }
    }

    /** Forgets a bake whose outcome reached a controller. */
    static void forget(Running r) {
        synchronized (LOCK) {
            RUNNING.remove(r.key, r);
        }
    }

    static final class Running {
        /** bake.log's copy in each build's provisioning-log folder. */
        static final String CONSOLE_LOG = "console.log";

        final String key;
        private final File ws;
        final BakeFiles files;
        private final Bake bake;
        private final BakeFiles.Log log;
        private final FileChannel lock;
        private final Thread thread;
        private final CountDownLatch done = new CountDownLatch(1);
        private volatile BakeOutcome outcome;
        private boolean watched;          // guarded by this
        private long reattachDeadline;    // guarded by this; 0 while a controller listens

        private Running(String key, Bake bake, File ws, BakeFiles files, BakeFiles.Log log, FileChannel lock) {
            this.key = key;
            this.ws = ws;
            this.bake = bake;
            this.files = files;
            this.log = log;
            this.lock = lock;
            this.thread = new Thread(this::run, "bakeAmi " + key);
            this.thread.setDaemon(true);
        }

        private void run() {
            BakeOutcome o;
            try {
                bake.run();
                o = BakeOutcome.succeeded(bake);
            } catch (BakeException e) {
                o = BakeOutcome.failed(bake, e);
            } catch (Throwable t) {
                o = BakeOutcome.crashed(bake, t);
            }
            bake.close();
            try {
                files.writeOutcome(o);
            } catch (IOException e) {
                log.line("[bakeAmi] could not record how the bake ended in " + files.outcome + ": " + e.getMessage());
            }
            log.close();
            copyToLogFolders(o);
            outcome = o;
            try {
                lock.close(); // after the outcome: whoever sees the lock free finds it
            } catch (IOException e) {
                // released with the channel anyway
            }
            done.countDown();
        }

        /**
         * bake.log into each build's provisioning-log folder (when a provisioner made it), next to
         * its NN-type.log: archived with them, it keeps the cleanup's lines with the build's
         * logs after the workspace (or an ephemeral agent) is gone.
         */
        private void copyToLogFolders(BakeOutcome o) {
            List<String> runIds = new ArrayList<>();
            o.builds.forEach(b -> runIds.add(b.runId()));
            if (runIds.isEmpty()) {
                runIds.add(o.runId);
            }
            for (String id : runIds) {
                File dir = new File(ws, BakeCallable.LOG_DIR + "/" + id);
                if (id != null && dir.isDirectory()) {
                    try {
                        Files.copy(files.log.toPath(), new File(dir, CONSOLE_LOG).toPath(),
                                StandardCopyOption.REPLACE_EXISTING);
                    } catch (IOException e) {
                        // bake.log has it
                    }
                }
            }
        }

        boolean isDone() {
            return done.getCount() == 0;
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

        /**
         * The controller stopped listening without cancelling: its call was interrupted (an abort,
         * whose cancel follows at once) or the channel closed (a restart, a network cut). The bake
         * goes on and logs to bake.log; unless a resumed step reattaches within reattachMs, it is
         * cancelled, since no one would learn its outcome.
         */
        synchronized void detach(long reattachMs) {
            log.detach();
            try {
                Files.deleteIfExists(files.attached.toPath()); // an earlier reattach's
            } catch (IOException e) {
                // then that one counts
            }
            reattachDeadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Math.max(reattachMs, 1));
            if (!watched) {
                watched = true;
                Thread w = new Thread(this::watch, "bakeAmi detached " + key);
                w.setDaemon(true);
                w.start();
            }
        }

        /**
         * While detached, once a second: a resumed step (whose classes cannot see this object
         * after a reconnect) reattaches and cancels through files in the bake's folder.
         */
        private void watch() {
            boolean cancelled = false;
            try {
                while (!done.await(1, TimeUnit.SECONDS)) {
                    if (!cancelled && files.cancel.isFile()) {
                        log.line("[bakeAmi] the resumed build was aborted: cancelling the bake");
                        cancelled = true;
                        bake.cancel();
                    } else if (!cancelled && reattachTimedOut()) {
                        log.line("[bakeAmi] no Jenkins controller came back for the bake: cancelling it");
                        cancelled = true;
                        bake.cancel();
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private synchronized boolean reattachTimedOut() {
            if (reattachDeadline != 0 && files.attached.isFile()) {
                reattachDeadline = 0; // a resumed step follows bake.log
            }
            return reattachDeadline != 0 && System.nanoTime() - reattachDeadline > 0;
        }
    }
}
