/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.security.ACL;
import org.springframework.security.core.Authentication;

/** Stand-in: only the nested Task, with the one member the plugin reaches. */
public class Queue {
    /** Stand-in: the real one extends FullyNamedModelObject and SubTask, with many more members. */
    public interface Task extends ModelObject {
        /** As core 2.555.3 (without the deprecated Acegi fallback): ACL.SYSTEM2 unless overridden. */
        @NonNull
        default Authentication getDefaultAuthentication2() {
            return ACL.SYSTEM2;
        }
    }
}
