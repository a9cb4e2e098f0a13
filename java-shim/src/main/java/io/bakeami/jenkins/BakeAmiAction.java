package io.bakeami.jenkins;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.EnvVars;
import hudson.model.EnvironmentContributingAction;
import hudson.model.Run;

/** Exports the AMI a freestyle bakeAmi step made to the steps after it: BAKEAMI_AMI_ID. */
public class BakeAmiAction implements EnvironmentContributingAction {
    public static final String AMI_ID = "BAKEAMI_AMI_ID";
    public static final String AMI_REGION = "BAKEAMI_AMI_REGION";

    private final String ami;
    private final String region;
    private final String runId;

    public BakeAmiAction(String ami, String region, String runId) {
        this.ami = ami;
        this.region = region;
        this.runId = runId;
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
        env.put(AMI_ID, ami);
        if (region != null) {
            env.put(AMI_REGION, region);
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
