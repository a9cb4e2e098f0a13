package io.bakeami.nativelib;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One native bake of a template: a bakeami_builds handle, i.e. one bake per build (builder) that
 * the options' only/except select, run in parallel by the library; a one-builder template is one
 * build, baked as before. {@link #run()} runs them on the calling thread and delivers their log
 * events to the listener as they come (with several builds each console line carries the
 * build's name, as the CLI prints it); {@link #cancel()} may be called from any thread; {@link
 * #close()} frees the handle, at once or, while {@code run()} is still going, when it returns.
 * Natives live in native/jni/Bake.c.
 */
public final class Bake implements AutoCloseable {
    private final Object lock = new Object();
    private final BakeListener listener;
    private long handle; // guarded by lock; 0 once freed
    private boolean started;
    private boolean running;
    private boolean closeRequested;

    /**
     * What one build came to, after {@link #run()}: its name (the builder's name, else its type)
     * and type, run id, AMI (as {@link #ami()}: null when it failed or kept none), that AMI's
     * region (else the build region), and its error (null when it succeeded).
     */
    public record Build(String name, String type, String runId, String ami, String region, String error)
            implements Serializable {
        private static final long serialVersionUID = 1L;

        public boolean succeeded() {
            return error == null;
        }
    }

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

    /**
     * Makes the bake of every build the options select (no network call yet); a template that
     * cannot be read still makes one build, whose run fails with the template's error. Loads the
     * native library if needed.
     */
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
     * Runs every build to the end on this thread. Returns when all succeeded; throws
     * BakeException otherwise, with the worst failure (cancelled: {@link
     * BakeException#isCancelled()}; with several builds the message names the build). Cleanup has
     * run either way; each build's own outcome is in {@link #builds()}. Runs once.
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

    /**
     * Asks every build to stop and clean up (those not started do not start); harmless before run
     * and after close. Any thread.
     */
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

    /** How many builds the options selected (0 when only/except left none); 0 once closed. */
    public int count() {
        synchronized (lock) {
            return handle != 0 ? count0(handle) : 0;
        }
    }

    /** Every build's outcome, in the library's order (by name). After run. */
    public List<Build> builds() {
        synchronized (lock) {
            List<Build> out = new ArrayList<>();
            for (int i = 0; finished() && i < count0(handle); i++) {
                out.add(new Build(str(name0(handle, i)), str(type0(handle, i)), str(runId0(handle, i)),
                        str(ami0(handle, i, null)), str(region0(handle, i)), str(error0(handle, i))));
            }
            return out;
        }
    }

    /** The one build's run id ("bk-..."), known from creation on; null with several (see {@link #builds()}). */
    public String runId() {
        synchronized (lock) {
            return one() ? str(runId0(handle, 0)) : null;
        }
    }

    /**
     * The one build's AMI id: in the build region, or with {@code skip_save_build_region} (which
     * keeps none there) the first copy's; null if it kept none.
     */
    public String ami() {
        return ami(null);
    }

    /** The one build's AMI id in {@code region} (null: {@link #ami()}'s), or null. After run. */
    public String ami(String region) {
        synchronized (lock) {
            return finished() && one() ? str(ami0(handle, 0, utf8(region))) : null;
        }
    }

    /**
     * The region of {@link #ami()}, else the one build's region (option, template or AWS_REGION), or
     * null if it never resolved it. After run.
     */
    public String region() {
        synchronized (lock) {
            return finished() && one() ? str(region0(handle, 0)) : null;
        }
    }

    /**
     * The result document (JSON, see README): the one build's, or with several builds the
     * combined {"status", "builds": [...]} (bakeami_builds_result_json). After run.
     */
    public String resultJson() {
        synchronized (lock) {
            return finished() ? str(resultJson0(handle, one() ? 0 : -1)) : null;
        }
    }

    /** The one build's error message, or null. After run. */
    public String error() {
        synchronized (lock) {
            return finished() && one() ? str(error0(handle, 0)) : null;
        }
    }

    private boolean one() {
        return handle != 0 && count0(handle) == 1;
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

    private static native int count0(long handle);

    private static native byte[] name0(long handle, int build);

    private static native byte[] type0(long handle, int build);

    private static native byte[] runId0(long handle, int build);

    private static native byte[] ami0(long handle, int build, byte[] region);

    private static native byte[] region0(long handle, int build);

    /** build < 0: the combined document of every build. */
    private static native byte[] resultJson0(long handle, int build);

    private static native byte[] error0(long handle, int build);

    private static native void free0(long handle);
}
