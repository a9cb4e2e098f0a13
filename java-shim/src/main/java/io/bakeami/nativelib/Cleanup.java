package io.bakeami.nativelib;

/**
 * {@code bakeami cleanup --journal F} in this JVM: for a bake that is gone without an outcome
 * (its process or agent died), undoes, newest first, what its journal says is still there, plus
 * anything tagged with its run id. AWS credentials come from the JVM's own chain (the
 * environment, profile, instance role). Natives live in native/jni/Cleanup.c.
 */
public final class Cleanup {
    private final BakeListener listener;

    private Cleanup(BakeListener listener) {
        this.listener = listener;
    }

    /**
     * Runs it on this thread, delivering its lines to the listener as they come. Returns when
     * everything the journal names is gone; throws BakeException otherwise (its lines name
     * what is left).
     */
    public static void fromJournal(String journalPath, String region, BakeListener listener) throws BakeException {
        NativeBaker.load();
        new Cleanup(listener != null ? listener : e -> {}).run0(Bake.utf8(journalPath), Bake.utf8(region));
    }

    /** Called from C (Cleanup.c) once per event. Never throws. */
    @SuppressWarnings("unused")
    private void event(int kind, int stream, double elapsed, byte[] stage, byte[] line) {
        try {
            listener.onEvent(new BakeEvent(BakeEvent.Kind.of(kind), stream, elapsed, Bake.str(stage), Bake.str(line)));
        } catch (Throwable t) {
            // a log problem must not stop the cleanup
        }
    }

    private native void run0(byte[] journal, byte[] region) throws BakeException;
}
