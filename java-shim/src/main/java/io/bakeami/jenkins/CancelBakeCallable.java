package io.bakeami.jenkins;

import hudson.remoting.VirtualChannel;
import java.io.File;
import java.io.IOException;
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

    CancelBakeCallable(String key, long timeoutMs) {
        this.key = key;
        this.timeoutMs = timeoutMs;
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
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (files.isRunning()) { // run by an earlier class loader: its watcher cancels it
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(500);
        }
        return true;
    }
}
