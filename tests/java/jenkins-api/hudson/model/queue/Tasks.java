/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model.queue;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.model.Queue;
import org.springframework.security.core.Authentication;

public class Tasks {
    /** Stand-in: the real one asks each QueueItemAuthenticator first (none here), then the task. */
    @NonNull
    public static Authentication getAuthenticationOf2(@NonNull Queue.Task t) {
        return t.getDefaultAuthentication2();
    }
}
