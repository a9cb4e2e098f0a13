package io.bakeami.test.fakes;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jenkinsci.plugins.workflow.steps.StepContext;

/**
 * A StepContext that hands out the objects it was given and records how the step ended.
 * Serialized with a step execution (as Pipeline saves the program), it comes back as the
 * context registered under its id when it is read: {@link #resumed} makes the one a fresh
 * controller hands out after a restart, as CpsStepContext re-resolves its run and node.
 */
public final class FakeStepContext extends StepContext {
    private static final long serialVersionUID = 1L;
    private static final Map<String, FakeStepContext> LIVE = new java.util.concurrent.ConcurrentHashMap<>();

    private final String id;

    public FakeStepContext() {
        this(java.util.UUID.randomUUID().toString());
    }

    private FakeStepContext(String id) {
        this.id = id;
        LIVE.put(id, this);
    }

    /** The context of the same step in a restarted controller: what reading `before` yields from now on. */
    public static FakeStepContext resumed(FakeStepContext before) {
        return new FakeStepContext(before.id);
    }

    private Object readResolve() {
        return LIVE.get(id);
    }

    private final transient Map<Class<?>, Object> objects = new java.util.concurrent.ConcurrentHashMap<>();
    private final transient CompletableFuture<Object> result = new CompletableFuture<>();
    private transient volatile long completedNanos;
    private transient volatile int completions;

    public <T> FakeStepContext with(Class<T> key, T value) {
        objects.put(key, value);
        return this;
    }

    private transient volatile int gets;
    private transient volatile org.springframework.security.core.Authentication getAs;

    @Override
    public <T> T get(Class<T> key) {
        gets++;
        getAs = jenkins.model.Jenkins.getAuthentication2();
        return key.cast(objects.get(key));
    }

    /** The authentication of the thread that last asked for an object. */
    public org.springframework.security.core.Authentication lastGetAs() {
        return getAs;
    }

    /** How many times the step asked for an object (0: it never began its work). */
    public int gets() {
        return gets;
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
