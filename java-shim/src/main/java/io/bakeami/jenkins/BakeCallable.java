package io.bakeami.jenkins;

import hudson.AbortException;
import hudson.model.TaskListener;
import hudson.remoting.VirtualChannel;
import io.bakeami.nativelib.Bake;
import io.bakeami.nativelib.BakeException;
import io.bakeami.nativelib.BakeOptions;
import io.bakeami.nativelib.NativeBaker;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jenkins.MasterToSlaveFileCallable;

/**
 * Runs one bake in the agent JVM, in the workspace: loads the native library, runs the bake on
 * its own thread and streams every log line to the build's listener as it comes (flushed, so
 * Pipeline's buffered remote log forwards it at once).
 *
 * <p>When this thread is interrupted (the build was aborted: remoting turns the controller's
 * interrupt into an interrupt here; or the channel closed) it cancels the native bake, keeps
 * waiting for its cleanup, bounded, so the cleanup lines reach the console, then rethrows.
 *
 * <p>It carries the bake's {@link BakeOptions} (the one request object: paths relative to the
 * workspace, credentials resolved on the controller, provenance tags) and the (remotable)
 * listener. The credentials travel inside the controller-agent channel like any step argument
 * and are never printed; the native library masks them in everything it writes.
 */
final class BakeCallable extends MasterToSlaveFileCallable<BakeOutcome> {
    private static final long serialVersionUID = 1L;

    private final String key;
    private final BakeOptions options;
    private final long cleanupTimeoutMs;
    private final TaskListener listener;

    BakeCallable(String key, BakeOptions options, long cleanupTimeoutMs, TaskListener listener) {
        this.key = key;
        this.options = options.copy();
        this.cleanupTimeoutMs = cleanupTimeoutMs;
        this.listener = listener;
    }

    @Override
    public BakeOutcome invoke(File ws, VirtualChannel channel) throws IOException, InterruptedException {
        PrintStream log = listener.getLogger();
        try {
            NativeBaker.load();
        } catch (UnsatisfiedLinkError e) {
            throw new AbortException(e.getMessage());
        }
        Bake bake;
        try {
            bake = Bake.create(options(ws), event -> print(log, event.line()));
        } catch (BakeException e) {
            return BakeOutcome.failed(null, e);
        }
        AgentBakes.Running running;
        try {
            running = AgentBakes.start(key, bake);
        } catch (RuntimeException e) {
            throw new AbortException("bakeAmi: " + e.getMessage());
        }
        try {
            return running.await();
        } catch (InterruptedException e) {
            print(log, "[bakeAmi] interrupted: cancelling the bake; waiting up to " + cleanupTimeoutMs / 1000
                    + " s for its cleanup");
            running.cancel();
            if (!running.awaitUninterruptibly(cleanupTimeoutMs)) {
                print(log, "[bakeAmi] the cleanup did not finish in time; it goes on in the agent. If the agent"
                        + " stops first, run `bakeami cleanup --journal " + journal(ws) + "`");
            }
            Thread.interrupted();
            throw e;
        }
    }

    /** The options with every path made absolute in this workspace, and the journal put there. */
    private BakeOptions options(File ws) throws IOException {
        List<String> varFiles = new ArrayList<>();
        options.varFiles().forEach(f -> varFiles.add(resolve(ws, f)));
        BakeOptions o = options.copy()
                .template(resolve(ws, options.templatePath()))
                .varFiles(varFiles)
                .journal(journal(ws).getPath());
        if (options.junitPath() != null) {
            o.junit(output(ws, options.junitPath()));
        }
        if (options.manifestPath() != null) {
            o.manifest(output(ws, options.manifestPath()));
        }
        return o;
    }

    /** An output file in the workspace; its directory is made now (the library writes, not mkdirs). */
    private static String output(File ws, String relative) throws IOException {
        Path f = new File(ws, relative).toPath().toAbsolutePath();
        Path dir = f.getParent();
        if (dir != null) {
            Files.createDirectories(dir); // throws, naming the directory, when it cannot
        }
        return f.toString();
    }

    /** The journal: in the workspace, not in the agent JVM's working directory. */
    private File journal(File ws) {
        return new File(ws, ".bakeami/journal/jenkins-" + key + ".jsonl");
    }

    private static String resolve(File ws, String relative) {
        return new File(ws, relative).getAbsolutePath();
    }

    /** One line, flushed now: Pipeline's remote log would otherwise hold it for up to seconds. */
    private static void print(PrintStream log, String line) {
        synchronized (log) {
            log.println(line);
            log.flush();
        }
    }

    @Override
    public String toString() { // never the credentials
        return "BakeCallable[" + key + ", " + options + "]";
    }
}
