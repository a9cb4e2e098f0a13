package io.bakeami.jenkins;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.AbortException;
import hudson.EnvVars;
import hudson.Extension;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.AbstractProject;
import hudson.model.Run;
import hudson.model.TaskListener;
import hudson.tasks.BuildStepDescriptor;
import hudson.tasks.Builder;
import hudson.util.FormValidation;
import io.bakeami.nativelib.BakeOptions;
import java.io.IOException;
import java.util.List;
import jenkins.tasks.SimpleBuildStep;
import org.jenkinsci.Symbol;
import org.kohsuke.stapler.DataBoundConstructor;
import org.kohsuke.stapler.DataBoundSetter;
import org.kohsuke.stapler.QueryParameter;

/**
 * The freestyle "Bake a tested AMI" build step. Same parameters as the {@code bakeAmi} Pipeline
 * step, except that variables and variable files are text (one {@code key=value} or path per
 * line) and only/except are names separated by commas, as a freestyle form edits them. Later
 * steps get the AMI as {@code $BAKEAMI_AMI_ID} (with several builds, {@code
 * $BAKEAMI_AMI_ID_<BUILD>} each).
 * Its symbol differs from the step's name because Pipeline resolves step names first.
 */
public class BakeAmiBuilder extends Builder implements SimpleBuildStep {
    private final String template;
    private String vars = "";
    private String varFiles = "";
    private String region;
    private String credentialsId;
    private String mfaToken;
    private String junit;
    private String manifest;
    private String onError = BakeAmiForms.ON_ERROR_CLEANUP;
    private String reuse = "";
    private String only = "";
    private String except = "";
    private String resultFile;

    @DataBoundConstructor
    public BakeAmiBuilder(String template) {
        this.template = template == null ? null : template.trim();
    }

    public String getTemplate() {
        return template;
    }

    public String getVars() {
        return vars;
    }

    /** One key=value per line. */
    @DataBoundSetter
    public void setVars(String vars) {
        this.vars = vars == null ? "" : vars;
    }

    public String getVarFiles() {
        return varFiles;
    }

    /** One workspace-relative JSON file per line. */
    @DataBoundSetter
    public void setVarFiles(String varFiles) {
        this.varFiles = varFiles == null ? "" : varFiles;
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
     * The MFA code for the credentials' IAM role; build variables expanded, so it is meant to
     * name a build parameter (${MFA_CODE}): a code written here would be spent by the first
     * build. A String, as the step's (see BakeAmiStep#setMfaToken).
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

    @DataBoundSetter
    public void setOnError(String onError) {
        this.onError = BakeAmiForms.checkedOnError(BakeAmiForms.fixEmpty(onError));
    }

    public String getReuse() {
        return reuse;
    }

    /**
     * "true": use a tested image of the same inputs if there is one; "false": always bake; empty:
     * as the template's "reuse" says. Text, as the form's select sends it.
     */
    @DataBoundSetter
    public void setReuse(String reuse) {
        this.reuse = reuse == null ? "" : reuse.trim();
    }

    public String getOnly() {
        return only;
    }

    /** Build names, separated by commas or lines (Packer's -only=a,b). */
    @DataBoundSetter
    public void setOnly(String only) {
        this.only = only == null ? "" : only;
    }

    public String getExcept() {
        return except;
    }

    @DataBoundSetter
    public void setExcept(String except) {
        this.except = except == null ? "" : except;
    }

    public String getResultFile() {
        return resultFile;
    }

    @DataBoundSetter
    public void setResultFile(String resultFile) {
        this.resultFile = BakeAmiForms.fixEmpty(resultFile);
    }

    /**
     * The library options this step asks for (paths relative to the workspace), with build
     * variables in the variables' values expanded.
     */
    BakeOptions toOptions(EnvVars env) throws AbortException {
        BakeOptions o = new BakeOptions().template(template).region(region).junit(junit).manifest(manifest)
                .onErrorAbort(BakeAmiForms.ON_ERROR_ABORT.equals(onError)).varFiles(BakeAmiForms.lines(varFiles))
                .reuse(reuseFlag()).only(BakeAmiForms.names(only)).except(BakeAmiForms.names(except))
                .result(resultFile);
        for (String line : BakeAmiForms.lines(vars)) {
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw new AbortException("bakeAmi: vars: '" + line + "' must read key=value");
            }
            o.var(line.substring(0, eq), env.expand(line.substring(eq + 1)));
        }
        return o;
    }

    private Boolean reuseFlag() throws AbortException {
        return switch (reuse) {
            case "" -> null;
            case "true" -> Boolean.TRUE;
            case "false" -> Boolean.FALSE;
            default -> throw new AbortException("bakeAmi: reuse: must be 'true', 'false' or empty (the template"
                    + " decides), not '" + reuse + "'");
        };
    }

    /**
     * Bakes in the workspace (on the agent). An abort interrupts this thread; the runner then waits,
     * bounded, for the agent's cleanup before the InterruptedException ends the build.
     */
    @Override
    public void perform(@NonNull Run<?, ?> run, @NonNull FilePath workspace, @NonNull EnvVars env,
            @NonNull Launcher launcher, @NonNull TaskListener listener) throws InterruptedException, IOException {
        String code = mfaToken != null ? BakeAmiForms.fixEmpty(env.expand(mfaToken)) : null;
        BakeOutcome out = BakeAmiRunner.bake(BakeAmiRunner.newKey(), toOptions(env), credentialsId, code, run,
                workspace, env, launcher, listener);
        for (BakeAmiAction a : BakeAmiAction.of(out)) {
            run.addAction(a);
        }
    }

    @Symbol("bakeAmiBuilder")
    @Extension
    public static final class DescriptorImpl extends BuildStepDescriptor<Builder> implements BakeAmiDescriptor {
        /**
         * Fields whose help the Pipeline step's files give, word for word. Jenkins looks for
         * help-FIELD.html up this class's superclasses, which the step is not among (a Builder
         * cannot extend a Step): so the help is redirected, and exists once, under BakeAmiStep/.
         * vars, varFiles, only and except are edited differently here and keep their own help.
         */
        static final List<String> SHARED_HELP = List.of("template", "region", "credentialsId", "mfaToken", "junit",
                "manifest", "onError", "reuse", "resultFile");

        public DescriptorImpl() {
            for (String field : SHARED_HELP) {
                addHelpFileRedirect(field, BakeAmiStep.class, field);
            }
        }

        @SuppressWarnings("rawtypes")
        @Override
        public boolean isApplicable(Class<? extends AbstractProject> jobType) {
            return true;
        }

        @NonNull
        @Override
        public String getDisplayName() {
            return DISPLAY_NAME;
        }

        @SuppressWarnings("lgtm[jenkins/no-permission-check]") // parses the given text only
        public FormValidation doCheckVars(@QueryParameter String value) {
            for (String line : BakeAmiForms.lines(value)) {
                if (line.indexOf('=') <= 0) {
                    return FormValidation.error("'" + line + "' must read key=value");
                }
            }
            return FormValidation.ok();
        }

        @SuppressWarnings("lgtm[jenkins/no-permission-check]") // parses the given text only
        public FormValidation doCheckVarFiles(@QueryParameter String value) {
            for (String line : BakeAmiForms.lines(value)) {
                FormValidation v = BakeAmiForms.checkOptionalPath(line);
                if (v.kind != FormValidation.Kind.OK) {
                    return v;
                }
            }
            return FormValidation.ok();
        }
    }
}
