package io.bakeami.jenkins;

import io.bakeami.nativelib.Bake;
import io.bakeami.nativelib.BakeException;
import java.io.Serializable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** What a bake on the agent came to; travels back to the controller (plugin-defined, JEP-200 safe). */
public final class BakeOutcome implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Pattern BUILD_REGION = Pattern.compile("\"build_region\"\\s*:\\s*\"([^\"\\\\]*)\"");

    /** 0, or the library's error code (BakeException.E*). */
    public final int code;
    public final int exitCode;
    public final String message;
    public final String ami;
    public final String region;
    public final String runId;
    public final String resultJson;

    private BakeOutcome(int code, int exitCode, String message, String ami, String runId, String resultJson) {
        this.code = code;
        this.exitCode = exitCode;
        this.message = message;
        this.ami = ami;
        this.runId = runId;
        this.resultJson = resultJson;
        Matcher m = resultJson == null ? null : BUILD_REGION.matcher(resultJson);
        this.region = m != null && m.find() ? m.group(1) : null;
    }

    static BakeOutcome succeeded(Bake bake) {
        return new BakeOutcome(0, 0, null, bake.ami(), bake.runId(), bake.resultJson());
    }

    static BakeOutcome failed(Bake bake, BakeException e) {
        String runId = bake != null ? bake.runId() : null;
        String json = bake != null ? bake.resultJson() : null;
        return new BakeOutcome(e.getCode(), e.getExitCode(), e.getMessage(), null, runId, json);
    }

    static BakeOutcome crashed(Bake bake, Throwable t) {
        return new BakeOutcome(BakeException.ERROR, 1, "internal error: " + t, null, bake.runId(), null);
    }

    public boolean succeeded() {
        return code == 0;
    }

    public boolean cancelled() {
        return code == BakeException.ECANCELLED;
    }
}
