package io.bakeami.nativelib;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
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

    private Bake(long handle, BakeListener listener) {
        this.handle = handle;
        this.listener = listener;
    }

    /** Makes a bake (no network call yet). Loads the native library if needed. */
    public static Bake create(BakeOptions o, BakeListener listener) throws BakeException {
        NativeBaker.load();
        byte[] secret = utf8(o.secretAccessKey);
        byte[] token = utf8(o.sessionToken);
        try {
            long h = new0(utf8(o.templatePath), utf8(o.vars), utf8(o.varFiles), utf8(o.region),
                    utf8(o.accessKeyId), secret, token, utf8(o.journalPath), utf8(o.manifestPath),
                    utf8(o.junitPath), utf8(o.resultPath), o.onErrorAbort, o.debug, utf8(o.extraTags));
            return new Bake(h, listener != null ? listener : e -> {});
        } finally {
            wipe(secret);
            wipe(token);
        }
    }

    /** Validates the template and its variables without any network call. */
    public static void validate(BakeOptions o) throws BakeException {
        NativeBaker.load();
        byte[] secret = utf8(o.secretAccessKey);
        byte[] token = utf8(o.sessionToken);
        try {
            validate0(utf8(o.templatePath), utf8(o.vars), utf8(o.varFiles), utf8(o.region),
                    utf8(o.accessKeyId), secret, token, utf8(o.journalPath), utf8(o.manifestPath),
                    utf8(o.junitPath), utf8(o.resultPath), o.onErrorAbort, o.debug, utf8(o.extraTags));
        } finally {
            wipe(secret);
            wipe(token);
        }
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

    /** Called from C (Bake.c) on the baking thread, once per event. Never throws. */
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

    static byte[][] utf8(List<String> list) {
        byte[][] out = new byte[list.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = utf8(list.get(i));
            if (out[i] == null) {
                throw new IllegalArgumentException("a bake option list holds null");
            }
        }
        return out;
    }

    static String str(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    private static void wipe(byte[] b) {
        if (b != null) {
            Arrays.fill(b, (byte) 0);
        }
    }

    // ---- natives (native/jni/Bake.c) ---------------------------------------------------------

    private static native long new0(byte[] template, byte[][] vars, byte[][] varFiles, byte[] region,
            byte[] accessKey, byte[] secretKey, byte[] sessionToken, byte[] journal, byte[] manifest,
            byte[] junit, byte[] result, boolean onErrorAbort, boolean debug, byte[][] extraTags)
            throws BakeException;

    private static native void validate0(byte[] template, byte[][] vars, byte[][] varFiles, byte[] region,
            byte[] accessKey, byte[] secretKey, byte[] sessionToken, byte[] journal, byte[] manifest,
            byte[] junit, byte[] result, boolean onErrorAbort, boolean debug, byte[][] extraTags)
            throws BakeException;

    private native void run0(long handle) throws BakeException;

    private static native void cancel0(long handle);

    private static native byte[] runId0(long handle);

    private static native byte[] ami0(long handle, byte[] region);

    private static native byte[] resultJson0(long handle);

    private static native byte[] error0(long handle);

    private static native void free0(long handle);
}
