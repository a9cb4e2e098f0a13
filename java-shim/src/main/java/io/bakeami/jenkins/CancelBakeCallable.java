package io.bakeami.jenkins;

import hudson.model.TaskListener;
import hudson.remoting.VirtualChannel;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.TimeUnit;
import jenkins.MasterToSlaveFileCallable;

/**
 * Cancels, on the agent, the bake with this key and waits, bounded, for its cleanup. The
 * controller sends it when its own call was interrupted (an abort: remoting returns the
 * interrupted call at once). If the bake has not started yet, it never will.
 */
final class CancelBakeCallable extends MasterToSlaveFileCallable<Boolean> {
    private static final long serialVersionUID = 1L;

    private final String key;
    private final long timeoutMs;
    private final TaskListener listener;

    CancelBakeCallable(String key, long timeoutMs, TaskListener listener) {
        this.key = key;
        this.timeoutMs = timeoutMs;
        this.listener = listener;
    }

    /** True when the bake ended (or never started); false when its cleanup is still going on. */
    @Override
    public Boolean invoke(File ws, VirtualChannel channel) throws IOException, InterruptedException {
        BakeFiles files = new BakeFiles(ws, key);
        AgentBakes.Running r = AgentBakes.cancel(key, files);
        if (r != null) {
            if (r.await(timeoutMs)) { // a second abort interrupts this wait; the bake goes on
                AgentBakes.forget(r);
                return true;
            }
            return false;
        }
        // Run by an earlier class loader (a resumed step on a reconnected agent): its watcher
        // cancels it; its console is the old controller's, so its lines are followed in bake.log.
        PrintStream console = listener.getLogger();
        long offset = files.log.length();
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (files.isRunning()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            offset = files.printFrom(offset, console);
            Thread.sleep(250);
        }
        files.printFrom(offset, console);
        return true;
    }
}
