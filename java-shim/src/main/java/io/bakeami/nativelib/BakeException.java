package io.bakeami.nativelib;

/**
 * A native bake failed. Thrown from C through {@link NativeBaker#throwex(int, byte[])}: {@link
 * #getCode()} is the library's error code (BAKEAMI_E*, negative), {@link #getExitCode()} what the
 * CLI would exit with (0, 1, 2, 3 or 130) and the message the bake's one-line error, secrets
 * masked.
 */
public class BakeException extends Exception {
    private static final long serialVersionUID = 1L;

    public static final int ERROR = -1;
    public static final int EINVALID = -2;
    public static final int EAWS = -3;
    public static final int ESSH = -4;
    public static final int ETIMEOUT = -5;
    public static final int ECANCELLED = -6;
    public static final int ETESTFAIL = -7;
    public static final int ENOMEM = -8;
    public static final int ENOTFOUND = -9;
    public static final int EPROVISION = -10;
    public static final int EIO = -11;

    private final int code;
    private final int exitCode;

    public BakeException(int code, int exitCode, String message) {
        super(message);
        this.code = code;
        this.exitCode = exitCode;
    }

    public int getCode() {
        return code;
    }

    public int getExitCode() {
        return exitCode;
    }

    public boolean isCancelled() {
        return code == ECANCELLED;
    }
}
