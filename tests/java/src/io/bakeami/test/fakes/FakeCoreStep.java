package io.bakeami.test.fakes;

import hudson.EnvVars;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.Run;
import hudson.model.TaskListener;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jenkins.tasks.SimpleBuildStep;

/**
 * {@code step(bakeAmiBuilder(...))} in a Pipeline: CoreStep (workflow-basic-steps) runs the
 * builder's perform in a SynchronousNonBlockingStepExecution, whose stop() interrupts the thread
 * and fails the step at once (task.cancel(true), then StepExecution.stop's onFailure), without
 * waiting for perform to return.
 */
public final class FakeCoreStep {
    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "SynchronousNonBlockingStepExecution");
        t.setDaemon(true);
        return t;
    });

    private final FakeStepContext context;
    private volatile Future<?> task;
    private volatile Throwable stopCause;

    public FakeCoreStep(FakeStepContext context) {
        this.context = context;
    }

    public void start(SimpleBuildStep step) {
        task = POOL.submit(() -> {
            try {
                step.perform(context.get(Run.class), context.get(FilePath.class), context.get(EnvVars.class),
                        context.get(Launcher.class), context.get(TaskListener.class));
                context.onSuccess(null);
            } catch (Throwable x) {
                if (stopCause == null) {
                    context.onFailure(x);
                } else {
                    stopCause.addSuppressed(x);
                }
            }
        });
    }

    public void stop(Throwable cause) {
        stopCause = cause;
        task.cancel(true);
        context.onFailure(cause);
    }
}
