/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.EnvVars;
import java.io.IOException;

public abstract class Run<JobT extends Job<JobT, RunT>, RunT extends Run<JobT, RunT>> extends Actionable {
    @NonNull
    public abstract String getExternalizableId();

    @NonNull
    public abstract String getUrl();

    public abstract int getNumber();

    @NonNull
    public EnvVars getEnvironment(@NonNull TaskListener listener) throws IOException, InterruptedException {
        EnvVars env = new EnvVars();
        for (EnvironmentContributingAction a : getActions(EnvironmentContributingAction.class)) {
            a.buildEnvironment(this, env);
        }
        return env;
    }
}
