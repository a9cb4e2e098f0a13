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
 * <p>Fields are strings, primitives and the (remotable) listener. The credentials travel inside
 * the controller-agent channel like any step argument and are never printed; the native library
 * masks them in everything it writes.
 */
final class BakeCallable extends MasterToSlaveFileCallable<BakeOutcome> {
    private static final long serialVersionUID = 1L;

    private final String key;
    private final String template;
    private final ArrayList<String> vars;
    private final ArrayList<String> varFiles;
    private final String region;
    private final String accessKeyId;
    private final String secretAccessKey;
    private final String sessionToken;
    private final String junit;
    private final String manifest;
    private final boolean onErrorAbort;
    private final ArrayList<String> extraTags;
    private final long cleanupTimeoutMs;
    private final TaskListener listener;

    BakeCallable(String key, BakeRequest r, String[] credentials, List<String> extraTags, long cleanupTimeoutMs,
            TaskListener listener) {
        this.key = key;
        this.template = r.template;
        this.vars = new ArrayList<>(r.vars);
        this.varFiles = new ArrayList<>(r.varFiles);
        this.region = r.region;
        this.accessKeyId = credentials != null ? credentials[0] : null;
        this.secretAccessKey = credentials != null ? credentials[1] : null;
        this.sessionToken = credentials != null ? credentials[2] : null;
        this.junit = r.junit;
        this.manifest = r.manifest;
        this.onErrorAbort = r.onErrorAbort;
        this.extraTags = new ArrayList<>(extraTags);
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

    private BakeOptions options(File ws) {
        BakeOptions o = new BakeOptions()
                .template(resolve(ws, template))
                .journal(journal(ws).getPath())
                .onErrorAbort(onErrorAbort);
        varFiles.forEach(f -> o.varFile(resolve(ws, f)));
        vars.forEach(o::var);
        extraTags.forEach(o::extraTag);
        if (region != null) {
            o.region(region);
        }
        if (accessKeyId != null) {
            o.credentials(accessKeyId, secretAccessKey, sessionToken);
        }
        if (junit != null) {
            o.junit(output(ws, junit));
        }
        if (manifest != null) {
            o.manifest(output(ws, manifest));
        }
        return o;
    }

    /** An output file in the workspace; its directory is made now (the library writes, not mkdirs). */
    private static String output(File ws, String relative) {
        File f = new File(ws, relative).getAbsoluteFile();
        File dir = f.getParentFile();
        if (dir != null) {
            dir.mkdirs();
        }
        return f.getPath();
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
        return "BakeCallable[" + key + ", " + template + "]";
    }
}
