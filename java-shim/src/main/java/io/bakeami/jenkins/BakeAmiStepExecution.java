package io.bakeami.jenkins;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.AbortException;
import hudson.EnvVars;
import hudson.FilePath;
import hudson.model.Run;
import hudson.model.TaskListener;
import hudson.util.ClassLoaderSanityThreadFactory;
import hudson.util.DaemonThreadFactory;
import hudson.util.NamingThreadFactory;
import io.bakeami.nativelib.BakeOptions;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.jenkinsci.plugins.workflow.steps.StepContext;
import org.jenkinsci.plugins.workflow.steps.StepExecution;

/**
 * Runs a bake off the CPS thread. Unlike SynchronousNonBlockingStepExecution, whose stop() fails
 * the step at once, {@link #stop} only interrupts the bake: the agent cancels the native bake,
 * its cleanup lines reach the console, and only then does the step fail with the stop cause
 * (bounded by bakeami.cleanupTimeoutSeconds, default 600, plus a minute's grace).
 */
public class BakeAmiStepExecution extends StepExecution {
    private static final long serialVersionUID = 1L;
    private static final ExecutorService POOL = Executors.newCachedThreadPool(threads("bakeAmi step"));
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(
            threads("bakeAmi stop timer"));

    // Serialized with the execution (as Pipeline saves it), so a resumed execution still knows
    // what it baked and whether it already reported.
    private final BakeOptions options;
    private final String credentialsId;
    private final AtomicBoolean done = new AtomicBoolean();
    private transient volatile Future<?> task;
    private transient volatile Throwable stopCause;
    private volatile String status;

    BakeAmiStepExecution(BakeOptions options, String credentialsId, @NonNull StepContext context) {
        super(context);
        this.options = options;
        this.credentialsId = credentialsId;
    }

    @Override
    public boolean start() {
        status = "baking " + options.templatePath();
        task = POOL.submit(this::work);
        return false;
    }

    private void work() {
        StepContext ctx = getContext();
        try {
            Run<?, ?> run = ctx.get(Run.class);
            FilePath ws = ctx.get(FilePath.class);
            EnvVars env = ctx.get(EnvVars.class);
            TaskListener listener = ctx.get(TaskListener.class);
            if (run == null || ws == null || listener == null) {
                throw new AbortException("bakeAmi needs a workspace: call it inside node { }");
            }
            BakeOutcome out = BakeAmiRunner.bake(options, credentialsId, run, ws, env != null ? env : new EnvVars(),
                    listener);
            if (stopCause != null) {
                finish(null, stopCause); // stopped after the bake had ended
            } else {
                finish(out.ami, null);
            }
        } catch (Throwable t) {
            finish(null, stopCause != null ? stopCause : t);
        }
    }

    private void finish(String ami, Throwable failure) {
        if (!done.compareAndSet(false, true)) {
            return;
        }
        status = failure == null ? "baked " + ami : "failed";
        if (failure == null) {
            getContext().onSuccess(ami);
        } else {
            getContext().onFailure(failure);
        }
    }

    /**
     * Interrupts the bake and returns; the step fails once the agent has cleaned up. Interrupting
     * the worker interrupts its remote call, which remoting turns into an interrupt of the agent
     * thread running {@link BakeCallable}, which cancels the native bake.
     */
    @Override
    public void stop(@NonNull Throwable cause) {
        stopCause = cause;
        Future<?> t = task;
        if (t == null || done == null) {
            getContext().onFailure(cause);
            return;
        }
        status = "stopping: cleaning up";
        t.cancel(true);
        long graceMs = BakeAmiRunner.cleanupTimeoutMs() + 60_000L;
        TIMER.schedule(() -> finish(null, cause), graceMs, TimeUnit.MILLISECONDS);
    }

    /** A bake does not survive a controller restart: the channel dropped, so the agent cancelled it. */
    @Override
    public void onResume() {
        getContext().onFailure(new AbortException("bakeAmi: Jenkins restarted during the bake; the agent cancelled"
                + " it and cleaned up (after a crashed agent, run `bakeami cleanup --stale`)"));
    }

    @Override
    public String getStatus() {
        return status;
    }

    @Override
    public boolean blocksRestart() {
        return done != null && task != null && !done.get();
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
