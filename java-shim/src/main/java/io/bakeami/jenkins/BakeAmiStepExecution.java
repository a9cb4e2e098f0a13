package io.bakeami.jenkins;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.AbortException;
import hudson.EnvVars;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.Run;
import hudson.model.TaskListener;
import hudson.security.ACL;
import hudson.security.ACLContext;
import hudson.util.ClassLoaderSanityThreadFactory;
import hudson.util.DaemonThreadFactory;
import hudson.util.NamingThreadFactory;
import io.bakeami.nativelib.BakeOptions;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.PrintStream;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import jenkins.model.Jenkins;
import org.jenkinsci.plugins.workflow.steps.StepContext;
import org.jenkinsci.plugins.workflow.steps.StepExecution;
import org.springframework.security.core.Authentication;

/**
 * Runs a bake off the CPS thread. Unlike SynchronousNonBlockingStepExecution, whose stop() fails
 * the step at once, {@link #stop} only interrupts the bake: the agent cancels the native bake,
 * its cleanup lines reach the console, and only then does the step fail with the stop cause
 * (bounded by bakeami.cleanupTimeoutSeconds, default 600, plus a minute's grace). The agent owns
 * the bake to its end: if Pipeline fails the step sooner (timeout, forced termination), the
 * cleanup still runs and the workspace's bake.log has it.
 *
 * <p>Serialized with the program, as Pipeline saves it: the bake's key (which names its files in
 * the workspace and finds it on the agent) and its options, so that after a restart {@link
 * #onResume} reattaches to the bake, reports how it ended, or says it is gone.
 */
public class BakeAmiStepExecution extends StepExecution {
    private static final long serialVersionUID = 1L;
    private static final long RETRY_MS = 5_000;
    private static final ExecutorService POOL = Executors.newCachedThreadPool(threads("bakeAmi step"));
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(
            threads("bakeAmi stop timer"));

    private final BakeOptions options;
    private final String credentialsId;
    private final String key = BakeAmiRunner.newKey();
    private final AtomicBoolean done = new AtomicBoolean();
    private volatile String status;
    // This JVM's attempt (start, or onResume after a restart): the task, whether it began, and
    // the cause of a stop. Each attempt sets them anew.
    private transient volatile Future<?> task;
    private transient volatile AtomicBoolean began;
    private transient volatile Throwable stopCause;
    /** The MFA code: used once, by the bake, then dropped; never saved with the program. */
    private transient volatile String mfaToken;

    BakeAmiStepExecution(BakeOptions options, String credentialsId, String mfaToken, @NonNull StepContext context) {
        super(context);
        this.options = options;
        this.credentialsId = credentialsId;
        this.mfaToken = mfaToken;
    }

    /** A resumed execution has no MFA code: it was good once, for the bake this one started. */
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        mfaToken = null;
    }

    @Override
    public boolean start() {
        status = "baking " + options.templatePath();
        submit(this::bake, false);
        return false;
    }

    /**
     * Runs {@code body} on the pool unless stop() came first: whichever of the two claims the
     * attempt first decides, so a stop before the pool thread began fails the step at once and
     * no bake starts. The pool thread runs as the build (the authentication of the CPS VM thread
     * that calls this), as SynchronousNonBlockingStepExecution's does.
     */
    private void submit(Body body, boolean resuming) {
        Authentication auth = Jenkins.getAuthentication2();
        AtomicBoolean claim = new AtomicBoolean();
        FutureTask<Void> t = new FutureTask<>(() -> {
            if (claim.compareAndSet(false, true)) {
                try (ACLContext as = ACL.as2(auth)) {
                    run(body, resuming);
                }
            }
        }, null);
        began = claim;
        task = t;
        executor().execute(t);
    }

    /** Where an attempt runs: the pool (a test holds it back, to stop before it begins). */
    Executor executor() {
        return POOL;
    }

    @FunctionalInterface
    private interface Body {
        BakeOutcome run(Run<?, ?> run, FilePath ws, EnvVars env, Launcher launcher, TaskListener listener)
                throws Exception;
    }

    private void run(Body body, boolean resuming) {
        StepContext ctx = getContext();
        try {
            Run<?, ?> run = ctx.get(Run.class);
            FilePath ws = ctx.get(FilePath.class);
            EnvVars env = ctx.get(EnvVars.class);
            TaskListener listener = ctx.get(TaskListener.class);
            Launcher launcher = ctx.get(Launcher.class);
            if (run == null || ((ws == null || launcher == null) && !resuming) || listener == null) {
                throw new AbortException("bakeAmi needs a workspace: call it inside node { }");
            }
            BakeOutcome out = body.run(run, ws, env != null ? env : new EnvVars(), launcher, listener);
            if (stopCause != null) {
                finish(null, stopCause); // stopped after the bake had ended
            } else {
                finish(out.value(), null);
            }
        } catch (Throwable t) {
            finish(null, stopCause != null ? stopCause : t);
        }
    }

    private BakeOutcome bake(Run<?, ?> run, FilePath ws, EnvVars env, Launcher launcher, TaskListener listener)
            throws Exception {
        String code = mfaToken;
        mfaToken = null; // good once: a second bake of this execution could not use it anyway
        return BakeAmiRunner.bake(key, options, credentialsId, code, run, ws, env, launcher, listener);
    }

    /**
     * After a restart: the bake by its key on the agent (ResumeBakeCallable), reported as a bake.
     * The agent may reconnect after the program resumed: until bakeami.reattachTimeoutSeconds,
     * a missing workspace or an unreachable channel is tried again (the workspace asked anew).
     */
    private BakeOutcome resume(Run<?, ?> run, FilePath first, EnvVars env, Launcher launcher, TaskListener listener)
            throws Exception {
        PrintStream log = listener.getLogger();
        log.println("[bakeAmi] Jenkins restarted during the bake: looking for it on the agent");
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BakeAmiRunner.reattachTimeoutMs());
        FilePath ws = first;
        BakeOptions credentials = cleanupCredentials(run, listener);
        while (true) {
            BakeOutcome out;
            try {
                if (ws == null) {
                    throw new IOException("the step has no workspace yet");
                }
                BakeAmiRunner.refuseBuiltInNode(ws);
                out = BakeAmiRunner.watch(ws, key, new ResumeBakeCallable(key, credentials, listener), listener);
            } catch (IOException e) {
                if (e instanceof AbortException || System.nanoTime() - deadline > 0) {
                    throw e;
                }
                log.println("[bakeAmi] the agent is not reachable yet (" + e.getMessage() + "); trying again in "
                        + RETRY_MS / 1000 + " s");
                Thread.sleep(RETRY_MS);
                ws = getContext().get(FilePath.class);
                launcher = getContext().get(Launcher.class);
                continue;
            }
            return BakeAmiRunner.report(out, run, ws, launcher, listener);
        }
    }

    /**
     * What a cleanup of the lost bake would sign with: the entry's keys and role, as the bake had
     * them (no MFA code: the cleanup then says it cannot assume that role); null: the agent's
     * chain. A problem is logged and leaves the agent's chain.
     */
    private BakeOptions cleanupCredentials(Run<?, ?> run, TaskListener listener) {
        if (credentialsId == null) {
            return null;
        }
        BakeOptions c = new BakeOptions();
        try {
            BakeAmiRunner.applyCredentials(c, credentialsId, null, run, true);
            return c;
        } catch (AbortException e) {
            listener.getLogger().println("[bakeAmi] WARNING: " + e.getMessage() + "; a cleanup, if one is needed,"
                    + " signs with the agent's own AWS chain");
            return null;
        }
    }

    /** value: the step's return (the AMI id, or a map of build name to AMI id). */
    private void finish(Object value, Throwable failure) {
        if (!done.compareAndSet(false, true)) {
            return;
        }
        status = failure == null ? "baked " + value : "failed";
        if (failure == null) {
            getContext().onSuccess(value);
        } else {
            getContext().onFailure(failure);
        }
    }

    /**
     * Interrupts the bake and returns; the step fails once the agent has cleaned up. Interrupting
     * the worker interrupts its remote call; the worker then cancels the bake on the agent by key.
     * A stop before the worker began fails the step now, and the bake never starts.
     */
    @Override
    public void stop(@NonNull Throwable cause) {
        stopCause = cause;
        Future<?> t = task;
        AtomicBoolean claim = began;
        if (t == null || claim == null || claim.compareAndSet(false, true)) {
            finish(null, cause);
            return;
        }
        status = "stopping: cleaning up";
        t.cancel(true);
        long graceMs = BakeAmiRunner.cleanupTimeoutMs() + 60_000L;
        TIMER.schedule(() -> finish(null, cause), graceMs, TimeUnit.MILLISECONDS);
    }

    /** Jenkins restarted: find the bake on the agent (never throws; the work is on the pool). */
    @Override
    public void onResume() {
        if (done.get()) {
            return;
        }
        status = "resuming " + options.templatePath();
        submit(this::resume, true);
    }

    /** The bake's key: names its files in the workspace (BakeFiles). */
    String key() {
        return key;
    }

    @Override
    public String getStatus() {
        return status;
    }

    @Override
    public boolean blocksRestart() {
        return false; // a restart no longer loses the bake: onResume finds it on the agent
    }

    /**
     * Core's factories, as SynchronousNonBlockingStepExecution uses them: the TIMER's thread is
     * made lazily inside stop() on the CPS VM thread, whose context class loader is the build's
     * script loader; without the sanity factory the thread would pin it for the JVM's life
     * (JENKINS-49206).
     */
    static ThreadFactory threads(String name) {
        return new NamingThreadFactory(new ClassLoaderSanityThreadFactory(new DaemonThreadFactory()), name);
    }
}
