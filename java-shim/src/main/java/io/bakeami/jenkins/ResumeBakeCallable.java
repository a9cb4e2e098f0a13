package io.bakeami.jenkins;

import hudson.model.TaskListener;
import hudson.remoting.VirtualChannel;
import io.bakeami.nativelib.BakeException;
import io.bakeami.nativelib.BakeOptions;
import io.bakeami.nativelib.Cleanup;
import io.bakeami.nativelib.NativeBaker;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import jenkins.MasterToSlaveFileCallable;

/**
 * Finds, on the agent, the bake a step started before the controller restarted, by its key and
 * its files in the workspace ({@link BakeFiles}), not by this JVM's memory: the reconnected
 * agent loads these classes anew, out of sight of the thread that runs the bake.
 * <ul>
 * <li>still running (its lock held): reattaches, printing bake.log from where the controller
 *     stopped listening and following it to the end; the outcome is then read back;
 * <li>ended: the outcome it recorded, after the lines logged since the controller left;
 * <li>gone without an outcome (the agent restarted too): cleans up from its journal, as
 *     {@code bakeami cleanup --journal} does, and fails with what that removed.
 * </ul>
 * An abort while following interrupts this thread; the controller then cancels by key.
 */
final class ResumeBakeCallable extends MasterToSlaveFileCallable<BakeOutcome> {
    private static final long serialVersionUID = 1L;
    private static final long POLL_MS = 250;

    private final String key;
    /** The bake's keys and role for its cleanup (BakeOptions.credentialsOnly); null: the agent's chain. */
    private final BakeOptions credentials;
    private final TaskListener listener;

    ResumeBakeCallable(String key, BakeOptions credentials, TaskListener listener) {
        this.key = key;
        this.credentials = credentials;
        this.listener = listener;
    }

    @Override
    public BakeOutcome invoke(File ws, VirtualChannel channel) throws IOException, InterruptedException {
        BakeFiles files = new BakeFiles(ws, key);
        PrintStream console = listener.getLogger();
        long offset = files.offsetAfterDetached();
        if (files.isRunning()) {
            BakeFiles.touch(files.attached); // its watcher no longer cancels it for want of a controller
            console.println("[bakeAmi] reattached to the bake, still running on the agent; its lines since Jenkins"
                    + " stopped listening follow (from " + files.logPath() + ")");
            while (files.isRunning()) {
                offset = files.printFrom(offset, console);
                Thread.sleep(POLL_MS);
            }
            files.printFrom(offset, console);
        } else if (files.outcome.isFile()) {
            console.println("[bakeAmi] the bake ended while Jenkins was away; its lines since then (from "
                    + files.logPath() + "):");
            files.printFrom(offset, console);
        }
        AgentBakes.Running mine = AgentBakes.get(key); // this JVM ran it without a reconnect (tests)
        if (mine != null && mine.isDone()) {
            AgentBakes.forget(mine);
        }
        BakeOutcome ended = files.readOutcome();
        if (ended != null) {
            return ended.withLogs(BakeCallable.logs(ws, ended));
        }
        List<File> journals = files.journals(); // several builds: one each
        if (journals.isEmpty()) {
            return gone(" and left no journal in " + files.journal.getParent() + " (was the workspace wiped?)");
        }
        console.println("[bakeAmi] the bake is gone from the agent without an outcome (did the agent restart?):"
                + " cleaning up from its journal " + names(journals));
        String[] last = {null};
        try {
            NativeBaker.load();
            for (File j : journals) {
                Cleanup.fromJournal(j.getPath(), null, credentials, e -> {
                    console.println(e.line());
                    console.flush();
                    last[0] = e.line();
                });
            }
        } catch (BakeException | UnsatisfiedLinkError e) {
            return gone("; the cleanup from its journal failed: " + e.getMessage() + "; run `bakeami cleanup --journal "
                    + names(journals) + "` on the agent");
        }
        return gone("; cleaned up from its journal " + names(journals) + (last[0] != null ? ": " + last[0].trim() : ""));
    }

    private static String names(List<File> journals) {
        List<String> paths = new ArrayList<>();
        journals.forEach(j -> paths.add(j.getPath()));
        return String.join(", ", paths);
    }

    private static BakeOutcome gone(String what) {
        return BakeOutcome.of(BakeException.ENOTFOUND, 1, "the bake is gone from the agent without an outcome" + what,
                null, null, null, List.of());
    }
}
