package io.bakeami.jenkins;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.EnvVars;
import hudson.model.EnvironmentContributingAction;
import hudson.model.Run;
import io.bakeami.nativelib.Bake;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Exports the AMI a freestyle bakeAmi step made to the steps after it: BAKEAMI_AMI_ID and
 * BAKEAMI_AMI_REGION; when several builds ran, one action per build, its variables suffixed
 * with the build's name (BAKEAMI_AMI_ID_WEB, BAKEAMI_AMI_ID_AMAZON_EBS).
 */
public class BakeAmiAction implements EnvironmentContributingAction {
    public static final String AMI_ID = "BAKEAMI_AMI_ID";
    public static final String AMI_REGION = "BAKEAMI_AMI_REGION";

    private final String ami;
    private final String region;
    private final String runId;
    private final String build; // null: the one build

    public BakeAmiAction(String ami, String region, String runId) {
        this(ami, region, runId, null);
    }

    public BakeAmiAction(String ami, String region, String runId, String build) {
        this.ami = ami;
        this.region = region;
        this.runId = runId;
        this.build = build;
    }

    /** The actions for what a bake kept: one for one build, one per build that kept an AMI of several. */
    static List<BakeAmiAction> of(BakeOutcome out) {
        List<BakeAmiAction> actions = new ArrayList<>();
        if (out.builds.size() <= 1) {
            if (out.ami != null) {
                actions.add(new BakeAmiAction(out.ami, out.region, out.runId));
            }
            return actions;
        }
        for (Bake.Build b : out.builds) {
            if (b.ami() != null) {
                actions.add(new BakeAmiAction(b.ami(), b.region(), b.runId(), b.name()));
            }
        }
        return actions;
    }

    /** "_WEB" for build "web", "_AMAZON_EBS" for "amazon-ebs"; "" for the one build. */
    private String suffix() {
        return build == null ? "" : "_" + build.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
    }

    public String getBuild() {
        return build;
    }

    public String getAmi() {
        return ami;
    }

    public String getRegion() {
        return region;
    }

    public String getRunId() {
        return runId;
    }

    @Override
    public void buildEnvironment(@NonNull Run<?, ?> run, @NonNull EnvVars env) {
        env.put(AMI_ID + suffix(), ami);
        if (region != null) {
            env.put(AMI_REGION + suffix(), region);
        }
    }

    @Override
    public String getIconFileName() {
        return null;
    }

    @Override
    public String getDisplayName() {
        return null;
    }

    @Override
    public String getUrlName() {
        return null;
    }
}
