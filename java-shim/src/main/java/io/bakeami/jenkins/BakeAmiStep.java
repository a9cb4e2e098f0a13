package io.bakeami.jenkins;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.AbortException;
import hudson.EnvVars;
import hudson.Extension;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.bakeami.nativelib.BakeOptions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jenkinsci.plugins.workflow.steps.Step;
import org.jenkinsci.plugins.workflow.steps.StepContext;
import org.jenkinsci.plugins.workflow.steps.StepDescriptor;
import org.jenkinsci.plugins.workflow.steps.StepExecution;
import org.kohsuke.stapler.DataBoundConstructor;
import org.kohsuke.stapler.DataBoundSetter;

/**
 * {@code def ami = bakeAmi template: 'images/web.json', vars: [version: env.BUILD_NUMBER]}: bakes
 * a tested AMI on the current node and returns its id in the build region (with
 * skip_save_build_region, which keeps none there, its first copy's); when several builds
 * (builders) of the template ran, a map of build name to AMI id.
 */
public class BakeAmiStep extends Step {
    private final String template;
    private Map<String, String> vars = Collections.emptyMap();
    private List<String> varFiles = Collections.emptyList();
    private String region;
    private String credentialsId;
    private String mfaToken;
    private String junit;
    private String manifest;
    private String onError = BakeAmiForms.ON_ERROR_CLEANUP;
    private Boolean reuse;
    private List<String> only = Collections.emptyList();
    private List<String> except = Collections.emptyList();
    private String resultFile;

    /**
     * @param template the template, relative to the workspace. Checked in {@link #start}, not
     *     here: Pipeline would bury an exception from the constructor under "Could not instantiate".
     */
    @DataBoundConstructor
    public BakeAmiStep(String template) {
        this.template = template == null ? null : template.trim();
    }

    public String getTemplate() {
        return template;
    }

    public Map<String, String> getVars() {
        return vars;
    }

    /** Template variables; values are turned into strings (Pipeline may pass GStrings or numbers). */
    @DataBoundSetter
    public void setVars(Map<String, String> vars) {
        Map<String, String> copy = new LinkedHashMap<>();
        if (vars != null) {
            for (Map.Entry<?, ?> e : ((Map<?, ?>) vars).entrySet()) {
                copy.put(String.valueOf(e.getKey()), e.getValue() == null ? "" : String.valueOf(e.getValue()));
            }
        }
        this.vars = copy;
    }

    public List<String> getVarFiles() {
        return varFiles;
    }

    @DataBoundSetter
    public void setVarFiles(List<String> varFiles) {
        this.varFiles = strings(varFiles);
    }

    /** The list as strings (Pipeline may pass GStrings). */
    private static List<String> strings(List<String> list) {
        List<String> copy = new ArrayList<>();
        if (list != null) {
            for (Object f : list) {
                copy.add(String.valueOf(f));
            }
        }
        return copy;
    }

    public String getRegion() {
        return region;
    }

    @DataBoundSetter
    public void setRegion(String region) {
        this.region = BakeAmiForms.fixEmpty(region);
    }

    public String getCredentialsId() {
        return credentialsId;
    }

    @DataBoundSetter
    public void setCredentialsId(String credentialsId) {
        this.credentialsId = BakeAmiForms.fixEmpty(credentialsId);
    }

    public String getMfaToken() {
        return mfaToken;
    }

    /**
     * The code the MFA device of the credentials' IAM role shows now, for the role's first
     * AssumeRole (made by the library on the agent). A String, not a Secret: the code is good
     * for seconds and once (STS refuses it again), so once the step starts it is spent, and
     * Pipeline passes a build parameter ({@code mfaToken: params.MFA_CODE}) as a string. It is
     * still kept out of the step's label, the execution's saved state and every log.
     */
    @DataBoundSetter
    public void setMfaToken(String mfaToken) {
        this.mfaToken = BakeAmiForms.fixEmpty(mfaToken);
    }

    public String getJunit() {
        return junit;
    }

    @DataBoundSetter
    public void setJunit(String junit) {
        this.junit = BakeAmiForms.fixEmpty(junit);
    }

    public String getManifest() {
        return manifest;
    }

    @DataBoundSetter
    public void setManifest(String manifest) {
        this.manifest = BakeAmiForms.fixEmpty(manifest);
    }

    public String getOnError() {
        return onError;
    }

    /** "cleanup" (default): delete what the bake made on failure; "abort": leave it for debugging. */
    @DataBoundSetter
    public void setOnError(String onError) {
        String v = BakeAmiForms.fixEmpty(onError);
        this.onError = v == null ? BakeAmiForms.ON_ERROR_CLEANUP : v.trim();
    }

    public Boolean getReuse() {
        return reuse;
    }

    /**
     * true: use a tested image of the same inputs if there is one; false: always bake; not given:
     * as the template's "reuse" says (the CLI's --reuse / --no-reuse).
     */
    @DataBoundSetter
    public void setReuse(Boolean reuse) {
        this.reuse = reuse;
    }

    public List<String> getOnly() {
        return only;
    }

    /** Bake only these builds (Packer's -only: a builder's name, else its type). */
    @DataBoundSetter
    public void setOnly(List<String> only) {
        this.only = strings(only);
    }

    public List<String> getExcept() {
        return except;
    }

    /** Bake every build but these (Packer's -except). */
    @DataBoundSetter
    public void setExcept(List<String> except) {
        this.except = strings(except);
    }

    public String getResultFile() {
        return resultFile;
    }

    /** Where the bake's JSON result is written, relative to the workspace (the CLI's --result). */
    @DataBoundSetter
    public void setResultFile(String resultFile) {
        this.resultFile = BakeAmiForms.fixEmpty(resultFile);
    }

    /** One line naming the bad parameter and what it must be, or null. */
    String problem() {
        if (!BakeAmiForms.ON_ERROR_CLEANUP.equals(onError) && !BakeAmiForms.ON_ERROR_ABORT.equals(onError)) {
            return "onError: must be 'cleanup' or 'abort', not '" + onError + "'";
        }
        return BakeAmiForms.problem(toOptions());
    }

    /** The library options this call asks for (paths relative to the workspace). */
    BakeOptions toOptions() {
        BakeOptions o = new BakeOptions().template(template).region(region).junit(junit).manifest(manifest)
                .onErrorAbort(BakeAmiForms.ON_ERROR_ABORT.equals(onError)).varFiles(varFiles)
                .reuse(reuse).only(only).except(except).result(resultFile);
        vars.forEach(o::var);
        return o;
    }

    @Override
    public StepExecution start(StepContext context) throws Exception {
        String p = problem();
        if (p != null) {
            throw new AbortException("bakeAmi: " + p);
        }
        return new BakeAmiStepExecution(toOptions(), credentialsId, mfaToken, context);
    }

    @Extension
    public static class DescriptorImpl extends StepDescriptor implements BakeAmiDescriptor {
        @Override
        public String getFunctionName() {
            return "bakeAmi";
        }

        @NonNull
        @Override
        public String getDisplayName() {
            return DISPLAY_NAME;
        }

        /** The label Pipeline shows for the step: the template, not a dump of every argument. */
        @Override
        public String argumentsToString(@NonNull Map<String, Object> namedArgs) {
            Object t = namedArgs.get("template");
            return t instanceof String s ? s : null;
        }

        @Override
        public Set<? extends Class<?>> getRequiredContext() {
            return Set.of(FilePath.class, Launcher.class, TaskListener.class, Run.class, EnvVars.class);
        }
    }
}
