package io.bakeami.nativelib;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * One native bake (a bakeami_bake handle). {@link #run()} runs it on the calling thread and
 * delivers its log events to the listener as they come; {@link #cancel()} may be called from any
 * thread; {@link #close()} frees the handle, at once or, while {@code run()} is still going, when
 * it returns. Natives live in native/jni/Bake.c.
 */
public final class Bake implements AutoCloseable {
    private final Object lock = new Object();
    private final BakeListener listener;
    private long handle; // guarded by lock; 0 once freed
    private boolean started;
    private boolean running;
    private boolean closeRequested;

    /** The C side keeps a global reference to this object for events, from new0 to free0. */
    private Bake(BakeOptions o, BakeListener listener) throws BakeException {
        this.listener = listener;
        byte[] json = o.toJson();
        try {
            this.handle = new0(json);
        } finally {
            Arrays.fill(json, (byte) 0); // it holds the credentials
        }
    }

    /** Makes a bake (no network call yet). Loads the native library if needed. */
    public static Bake create(BakeOptions o, BakeListener listener) throws BakeException {
        NativeBaker.load();
        return new Bake(o, listener != null ? listener : e -> {});
    }

    /** Validates the template and its variables without any network call. */
    public static void validate(BakeOptions o) throws BakeException {
        NativeBaker.load();
        byte[] json = o.toJson();
        try {
            validate0(json);
        } finally {
            Arrays.fill(json, (byte) 0);
        }
    }

    /**
     * A JSON options document as the library read it, written back by bakeami_options_to_json
     * (credentials included: for tests of the encoding, never for a log). Throws what
     * bakeami_options_from_json refuses.
     */
    static String libraryView(byte[] json) throws BakeException {
        NativeBaker.load();
        return str(optionsJson0(json));
    }

    /**
     * Runs the bake to the end on this thread. Returns when it succeeded; throws BakeException
     * otherwise (cancelled: {@link BakeException#isCancelled()}). Cleanup has run either way.
     * Runs once.
     */
    public void run() throws BakeException {
        long h;
        synchronized (lock) {
            if (handle == 0) {
                throw new IllegalStateException("the bake is closed");
            }
            if (started) {
                throw new IllegalStateException("a bake runs once");
            }
            started = running = true;
            h = handle;
        }
        try {
            run0(h);
        } finally {
            synchronized (lock) {
                running = false;
                if (closeRequested) {
                    free();
                }
                lock.notifyAll();
            }
        }
    }

    /** Asks a running bake to stop and clean up; harmless before run and after close. Any thread. */
    public void cancel() {
        synchronized (lock) {
            if (handle != 0) {
                cancel0(handle);
            }
        }
    }

    /** Waits until {@link #run()} returned (or it never started). */
    public boolean awaitRun(long timeout, TimeUnit unit) throws InterruptedException {
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        synchronized (lock) {
            while (running) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
            return true;
        }
    }

    /** The run id ("bk-..."), known from creation on. */
    public String runId() {
        synchronized (lock) {
            return handle != 0 ? str(runId0(handle)) : null;
        }
    }

    /** The AMI id in the build region, or null. */
    public String ami() {
        return ami(null);
    }

    /** The AMI id in {@code region} (null: the build region), or null. After run. */
    public String ami(String region) {
        synchronized (lock) {
            return finished() ? str(ami0(handle, utf8(region))) : null;
        }
    }

    /** The build region (option, template or AWS_REGION), or null if the run never resolved it. After run. */
    public String region() {
        synchronized (lock) {
            return finished() ? str(region0(handle)) : null;
        }
    }

    /** The result document (JSON, see README), or null. After run. */
    public String resultJson() {
        synchronized (lock) {
            return finished() ? str(resultJson0(handle)) : null;
        }
    }

    /** The run's error message, or null. After run. */
    public String error() {
        synchronized (lock) {
            return finished() ? str(error0(handle)) : null;
        }
    }

    @Override
    public void close() {
        synchronized (lock) {
            if (running) {
                closeRequested = true; // run() frees it when the C side is done with it
            } else {
                free();
            }
        }
    }

    private boolean finished() {
        if (running) {
            throw new IllegalStateException("the bake is still running");
        }
        return handle != 0;
    }

    private void free() {
        if (handle != 0) {
            free0(handle);
            handle = 0;
        }
    }

    /**
     * Called from C (Bake.c) once per event: on the thread in {@link #run()} or on a library
     * thread, never two at once for one bake (bakeami.h). Never throws.
     */
    @SuppressWarnings("unused")
    private void event(int kind, int stream, double elapsed, byte[] stage, byte[] line) {
        try {
            listener.onEvent(new BakeEvent(BakeEvent.Kind.of(kind), stream, elapsed, str(stage), str(line)));
        } catch (Throwable t) {
            // a log problem must not stop the bake, nor its cleanup
        }
    }

    // ---- UTF-8 byte[] both ways (never JNI's modified UTF-8) -----------------------------

    static byte[] utf8(String s) {
        if (s == null) {
            return null;
        }
        if (s.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("a bake option holds a NUL character");
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String str(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    // ---- natives (native/jni/Bake.c) ---------------------------------------------------------

    /** options: the JSON of {@link BakeOptions#toJson()}. */
    private native long new0(byte[] options) throws BakeException;

    private static native void validate0(byte[] options) throws BakeException;

    private static native byte[] optionsJson0(byte[] options) throws BakeException;

    private native void run0(long handle) throws BakeException;

    private static native void cancel0(long handle);

    private static native byte[] runId0(long handle);

    private static native byte[] ami0(long handle, byte[] region);

    private static native byte[] region0(long handle);

    private static native byte[] resultJson0(long handle);

    private static native byte[] error0(long handle);

    private static native void free0(long handle);
}
