/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package jenkins.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.BuildListener;
import hudson.model.Run;
import java.io.IOException;
import java.util.Map;

/** Stand-in: the real class also has {@code public abstract VirtualFile root()} (no VirtualFile here). */
public abstract class ArtifactManager {
    public abstract void onLoad(@NonNull Run<?, ?> build);

    /** artifacts: paths in the archive area -> paths relative to workspace, '/'-separated. */
    public abstract void archive(FilePath workspace, Launcher launcher, BuildListener listener,
            Map<String, String> artifacts) throws IOException, InterruptedException;

    public abstract boolean delete() throws IOException, InterruptedException;
}
