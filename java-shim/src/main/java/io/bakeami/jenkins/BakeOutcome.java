package io.bakeami.jenkins;

import io.bakeami.nativelib.Bake;
import io.bakeami.nativelib.BakeException;
import java.io.Serializable;

/** What a bake on the agent came to; travels back to the controller (plugin-defined, JEP-200 safe). */
public final class BakeOutcome implements Serializable {
    private static final long serialVersionUID = 1L;

    /** 0, or the library's error code (BakeException.E*). */
    public final int code;
    public final int exitCode;
    public final String message;
    public final String ami;
    public final String region;
    public final String runId;
    public final String resultJson;

    private BakeOutcome(int code, int exitCode, String message, Bake bake, boolean withAmi) {
        this.code = code;
        this.exitCode = exitCode;
        this.message = message;
        this.ami = withAmi ? bake.ami() : null;
        this.region = bake != null ? bake.region() : null; // the library's bakeami_bake_region
        this.runId = bake != null ? bake.runId() : null;
        this.resultJson = bake != null ? bake.resultJson() : null;
    }

    private BakeOutcome(int code, int exitCode, String message, String ami, String region, String runId) {
        this.code = code;
        this.exitCode = exitCode;
        this.message = message;
        this.ami = ami;
        this.region = region;
        this.runId = runId;
        this.resultJson = null;
    }

    /** An outcome read back from the workspace (BakeFiles): the result document stays there. */
    static BakeOutcome of(int code, int exitCode, String message, String ami, String region, String runId) {
        return new BakeOutcome(code, exitCode, message, ami, region, runId);
    }

    static BakeOutcome succeeded(Bake bake) {
        return new BakeOutcome(0, 0, null, bake, true);
    }

    static BakeOutcome failed(Bake bake, BakeException e) {
        return new BakeOutcome(e.getCode(), e.getExitCode(), e.getMessage(), bake, false);
    }

    static BakeOutcome crashed(Bake bake, Throwable t) {
        return new BakeOutcome(BakeException.ERROR, 1, "internal error: " + t, bake, false);
    }

    public boolean succeeded() {
        return code == 0;
    }

    public boolean cancelled() {
        return code == BakeException.ECANCELLED;
    }
}
