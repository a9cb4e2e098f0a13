package io.bakeami.nativelib;

/**
 * {@code bakeami cleanup --journal F} in this JVM: for a bake that is gone without an outcome
 * (its process or agent died), undoes, newest first, what its journal says is still there, plus
 * anything tagged with its run id. AWS credentials: the bake's (its keys, its role, as {@link
 * BakeOptions#credentialsOnly()} gives them), else the JVM's own chain (the environment,
 * profile, instance role). Natives live in native/jni/Cleanup.c.
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
        fromJournal(journalPath, region, null, listener);
    }

    /**
     * The same, signed with {@code credentials}' keys and role (null: the JVM's chain). An MFA
     * role cannot be assumed here: its code was good once, for the bake.
     */
    public static void fromJournal(String journalPath, String region, BakeOptions credentials, BakeListener listener)
            throws BakeException {
        BakeOptions c = credentials != null ? credentials : new BakeOptions();
        if (c.roleMfaSerial() != null) {
            throw new BakeException(BakeException.EINVALID, 2, "the role " + c.roleArn() + " asks for a code from MFA"
                    + " device " + c.roleMfaSerial() + ", which a cleanup cannot ask for; run `bakeami cleanup"
                    + " --journal " + journalPath + "` with credentials that need none");
        }
        NativeBaker.load();
        byte[][] strings = {Bake.utf8(journalPath), Bake.utf8(region), Bake.utf8(c.accessKeyId()),
            Bake.utf8(c.secretAccessKey()), Bake.utf8(c.sessionToken()), Bake.utf8(c.roleArn()),
            Bake.utf8(c.roleExternalId()), Bake.utf8(c.roleSessionName())};
        new Cleanup(listener != null ? listener : e -> {}).run0(strings, c.roleDurationSeconds());
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

    /** strings: journal, region, access key, secret, session token, role ARN, external id, session name. */
    private native void run0(byte[][] strings, int roleDurationSeconds) throws BakeException;
}
