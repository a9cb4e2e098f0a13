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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jenkins.MasterToSlaveFileCallable;

/**
 * Runs one bake in the agent JVM, in the workspace: loads the native library, hands the bake
 * (every build the options select, baked in parallel) to {@link AgentBakes} (its own thread, to
 * its end), streams every log line to the build's listener as it comes (flushed, so Pipeline's
 * buffered remote log forwards it at once) and to the workspace's bake.log ({@link BakeFiles}),
 * then lists the provisioning logs the builds left in the workspace for the controller to archive.
 *
 * <p>When this thread is interrupted (an abort: remoting turns the controller's interrupt into
 * an interrupt here; or the channel closed) it stops watching and returns; the bake goes on. On
 * an abort the controller cancels it by key at once ({@link CancelBakeCallable}); after a
 * restart a resumed step reattaches ({@link ResumeBakeCallable}); if neither comes within
 * {@code reattachMs}, the bake cancels itself and cleans up.
 *
 * <p>It carries the bake's {@link BakeOptions} (the one request object: paths relative to the
 * workspace, credentials resolved on the controller, provenance tags) and the (remotable)
 * listener. The credentials travel inside the controller-agent channel like any step argument
 * and are never printed; the native library masks them in everything it writes.
 */
final class BakeCallable extends MasterToSlaveFileCallable<BakeOutcome> {
    private static final long serialVersionUID = 1L;
    /** The provisioning logs' folder in the workspace: the CLI's default, there. */
    static final String LOG_DIR = "bakeami-logs";

    private final String key;
    private final BakeOptions options;
    private final long reattachMs;
    private final TaskListener listener;

    BakeCallable(String key, BakeOptions options, long reattachMs, TaskListener listener) {
        this.key = key;
        this.options = options.copy();
        this.reattachMs = reattachMs;
        this.listener = listener;
    }

    @Override
    public BakeOutcome invoke(File ws, VirtualChannel channel) throws IOException, InterruptedException {
        try {
            NativeBaker.load();
        } catch (UnsatisfiedLinkError e) {
            throw new AbortException(e.getMessage());
        }
        BakeFiles files = new BakeFiles(ws, key);
        BakeFiles.Log log = new BakeFiles.Log(files, listener.getLogger());
        Bake bake;
        try {
            bake = Bake.create(options(ws, files), event -> log.line(event.line()));
        } catch (BakeException e) {
            log.close();
            return BakeOutcome.failed(null, e);
        }
        if (bake.count() == 0) {
            bake.close();
            log.close();
            return BakeOutcome.failed(null, noBuild());
        }
        AgentBakes.Running running;
        try {
            running = AgentBakes.start(key, bake, ws, files, log);
        } catch (IllegalStateException e) {
            throw new AbortException("bakeAmi: " + e.getMessage());
        }
        try {
            BakeOutcome out = running.await();
            AgentBakes.forget(running);
            return out.withLogs(logs(ws, out));
        } catch (InterruptedException e) {
            running.detach(reattachMs);
            throw e;
        }
    }

    /** The options with every path made absolute in this workspace, and the journal put there. */
    private BakeOptions options(File ws, BakeFiles files) throws IOException {
        List<String> varFiles = new ArrayList<>();
        options.varFiles().forEach(f -> varFiles.add(resolve(ws, f)));
        BakeOptions o = options.copy()
                .template(resolve(ws, options.templatePath()))
                .varFiles(varFiles)
                .journal(files.journal.getPath());
        if (options.junitPath() != null) {
            o.junit(output(ws, options.junitPath()));
        }
        if (options.manifestPath() != null) {
            o.manifest(output(ws, options.manifestPath()));
        }
        if (options.resultPath() != null) {
            o.result(output(ws, options.resultPath()));
        }
        return o.logDir(resolve(ws, LOG_DIR));
    }

    /**
     * Packer runs nothing and succeeds then; a step that returned nothing would only puzzle the
     * Jenkinsfile after it, so the step says what it was given, before any AWS call.
     */
    private BakeException noBuild() {
        return new BakeException(BakeException.EINVALID, NativeBaker.exitCode(BakeException.EINVALID),
                "only " + options.only() + " / except " + options.except() + " leave no build of "
                        + options.templatePath() + " to bake (a build's name is its builder's \"name\", else its type)");
    }

    /**
     * The provisioning logs each build wrote (LOG_DIR/run-id/NN-type.log), workspace-relative:
     * what the controller archives.
     */
    static List<String> logs(File ws, BakeOutcome out) {
        List<String> found = new ArrayList<>();
        for (Bake.Build b : out.builds) {
            String dir = LOG_DIR + "/" + b.runId();
            String[] names = new File(ws, dir).list();
            if (names == null) {
                continue; // no provisioner ran (a reused image, or a failure before PROVISION)
            }
            Arrays.sort(names);
            for (String n : names) {
                if (new File(ws, dir + "/" + n).isFile()) {
                    found.add(dir + "/" + n);
                }
            }
        }
        return found;
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

    private static String resolve(File ws, String relative) {
        return new File(ws, relative).getAbsolutePath();
    }

    @Override
    public String toString() { // never the credentials
        return "BakeCallable[" + key + ", " + options + "]";
    }
}
