package io.bakeami.jenkins;

import hudson.remoting.VirtualChannel;
import java.io.File;
import jenkins.MasterToSlaveFileCallable;

/**
 * Waits, on the agent, for the bake with this key to end (its cleanup included), bounded. The
 * controller sends it after its own call was interrupted: remoting returns the interrupted call
 * at once, while the agent's BakeCallable is still cleaning up and logging.
 */
final class AwaitBakeCallable extends MasterToSlaveFileCallable<Boolean> {
    private static final long serialVersionUID = 1L;

    private final String key;
    private final long timeoutMs;

    AwaitBakeCallable(String key, long timeoutMs) {
        this.key = key;
        this.timeoutMs = timeoutMs;
    }

    @Override
    public Boolean invoke(File ws, VirtualChannel channel) throws InterruptedException {
        AgentBakes.Running r = AgentBakes.get(key);
        return r == null || r.await(timeoutMs); // a second abort interrupts this wait
    }
}
