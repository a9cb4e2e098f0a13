package io.bakeami.jenkins;

import io.bakeami.nativelib.Bake;
import io.bakeami.nativelib.BakeException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/** What a bake on the agent came to; travels back to the controller (plugin-defined, JEP-200 safe). */
public final class BakeOutcome implements Serializable {
    private static final long serialVersionUID = 1L;

    /** 0, or the library's error code (BakeException.E*): the worst of the builds. */
    public final int code;
    public final int exitCode;
    public final String message;
    /**
     * The one build's AMI (in the build region, or its first copy's with skip_save_build_region),
     * that AMI's region and the run id (null with several builds).
     */
    public final String ami;
    public final String region;
    public final String runId;
    /** The result document: the one build's, or the combined one of several (as resultFile gets it). */
    public final String resultJson;
    /** Every build's outcome, in the library's (name) order; empty when the bake could not be made. */
    public final List<Bake.Build> builds;
    /** The provisioning logs the builds wrote, relative to the workspace, '/'-separated. */
    public final List<String> logs;

    private BakeOutcome(int code, int exitCode, String message, Bake bake, boolean withAmi) {
        this.code = code;
        this.exitCode = exitCode;
        this.message = message;
        this.ami = withAmi ? bake.ami() : null;
        this.region = bake != null ? bake.region() : null; // the AMI's, else bakeami_bake_region
        this.runId = bake != null ? bake.runId() : null;
        this.resultJson = bake != null ? bake.resultJson() : null;
        this.builds = bake != null ? new ArrayList<>(bake.builds()) : new ArrayList<>();
        this.logs = new ArrayList<>();
    }

    private BakeOutcome(BakeOutcome o, List<String> logs) {
        this.code = o.code;
        this.exitCode = o.exitCode;
        this.message = o.message;
        this.ami = o.ami;
        this.region = o.region;
        this.runId = o.runId;
        this.resultJson = o.resultJson;
        this.builds = o.builds;
        this.logs = new ArrayList<>(logs);
    }

    private BakeOutcome(int code, int exitCode, String message, String ami, String region, String runId,
            List<Bake.Build> builds) {
        this.code = code;
        this.exitCode = exitCode;
        this.message = message;
        this.ami = ami;
        this.region = region;
        this.runId = runId;
        this.resultJson = null;
        this.builds = new ArrayList<>(builds);
        this.logs = new ArrayList<>();
    }

    /** An outcome read back from the workspace (BakeFiles): the result document stays there. */
    static BakeOutcome of(int code, int exitCode, String message, String ami, String region, String runId,
            List<Bake.Build> builds) {
        return new BakeOutcome(code, exitCode, message, ami, region, runId, builds);
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

    /** The same outcome with the provisioning logs found in the workspace. */
    BakeOutcome withLogs(List<String> found) {
        return new BakeOutcome(this, found);
    }

    public boolean succeeded() {
        return code == 0;
    }

    public boolean cancelled() {
        return code == BakeException.ECANCELLED;
    }

    /**
     * What the Pipeline step returns: the AMI id in the build region when one build ran
     * (unchanged from a one-builder template), or, when several did, a map of build name to
     * that build's AMI id (null for one that kept none), in the builds' order.
     */
    public Serializable value() {
        if (builds.size() <= 1) {
            return ami;
        }
        LinkedHashMap<String, String> amis = new LinkedHashMap<>();
        for (Bake.Build b : builds) {
            amis.put(b.name(), b.ami());
        }
        return amis;
    }

    /** "run bk-1", or with several builds "runs web bk-1, db bk-2": for the console. */
    String runs() {
        if (builds.size() <= 1) {
            return runId != null ? "run " + runId : null;
        }
        List<String> each = new ArrayList<>();
        for (Bake.Build b : builds) {
            each.add(b.name() + " " + b.runId());
        }
        return "runs " + String.join(", ", each);
    }
}
