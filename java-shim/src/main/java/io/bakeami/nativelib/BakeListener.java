package io.bakeami.nativelib;

/**
 * Receives a bake's log events as they come, one at a time: on the thread that called {@link
 * Bake#run()} or on one of the library's threads (promotion's copies), never two at once for one
 * bake, so a listener needs no lock of its own for one bake. Whatever it throws is dropped: a
 * log problem never stops a bake or its cleanup.
 */
@FunctionalInterface
public interface BakeListener {
    void onEvent(BakeEvent event);
}
