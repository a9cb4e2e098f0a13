package io.bakeami.test.fakes;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jenkinsci.plugins.workflow.steps.StepContext;

/** A StepContext that hands out the objects it was given and records how the step ended. */
public final class FakeStepContext extends StepContext {
    private static final long serialVersionUID = 1L;

    private final transient Map<Class<?>, Object> objects = new HashMap<>();
    private final transient CompletableFuture<Object> result = new CompletableFuture<>();
    private transient volatile long completedNanos;
    private transient volatile int completions;

    public <T> FakeStepContext with(Class<T> key, T value) {
        objects.put(key, value);
        return this;
    }

    @Override
    public <T> T get(Class<T> key) {
        return key.cast(objects.get(key));
    }

    @Override
    public boolean isReady() {
        return true;
    }

    @Override
    public synchronized void onSuccess(Object value) {
        completions++;
        completedNanos = System.nanoTime();
        result.complete(value);
    }

    @Override
    public synchronized void onFailure(Throwable t) {
        completions++;
        completedNanos = System.nanoTime();
        result.completeExceptionally(t);
    }

    /** The step's value; throws ExecutionException with the step's failure. */
    public Object await(long timeoutSeconds) throws InterruptedException, ExecutionException, TimeoutException {
        return result.get(timeoutSeconds, TimeUnit.SECONDS);
    }

    public long completedNanos() {
        return completedNanos;
    }

    public int completions() {
        return completions;
    }
}
