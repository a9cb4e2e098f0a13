package io.bakeami.nativelib;

/**
 * Receives a bake's log events as they come, on the thread that called {@link Bake#run()}.
 * Whatever it throws is dropped: a log problem never stops a bake or its cleanup.
 */
@FunctionalInterface
public interface BakeListener {
    void onEvent(BakeEvent event);
}
