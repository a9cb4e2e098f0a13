/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.EnvVars;
import java.io.IOException;
import jenkins.model.ArtifactManager;

public abstract class Run<JobT extends Job<JobT, RunT>, RunT extends Run<JobT, RunT>> extends Actionable {
    @NonNull
    public abstract String getExternalizableId();

    @NonNull
    public abstract String getUrl();

    public abstract int getNumber();

    private ArtifactManager artifactManager;

    /**
     * Stand-in: the real one, the first time, asks ArtifactManagerConfiguration's factories and
     * falls back to StandardArtifactManager (the build's archive folder); here a test sets it.
     */
    public final synchronized @NonNull ArtifactManager pickArtifactManager() throws IOException {
        if (artifactManager == null) {
            throw new IOException("stand-in: no artifact manager (Run.standInArtifactManager)");
        }
        return artifactManager;
    }

    /** Stand-in only: what pickArtifactManager returns. */
    public final synchronized void standInArtifactManager(ArtifactManager m) {
        this.artifactManager = m;
    }

    @NonNull
    public EnvVars getEnvironment(@NonNull TaskListener listener) throws IOException, InterruptedException {
        EnvVars env = new EnvVars();
        for (EnvironmentContributingAction a : getActions(EnvironmentContributingAction.class)) {
            a.buildEnvironment(this, env);
        }
        return env;
    }
}
