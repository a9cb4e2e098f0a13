/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package jenkins.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.security.ACL;
import hudson.security.AccessControlled;
import hudson.security.Permission;
import org.springframework.security.core.Authentication;

/** Stand-in: one instance; tests decide what the current user may do. */
public class Jenkins implements AccessControlled {
    public static final Permission ADMINISTER = new Permission("Hudson", "Administer");
    private static final Jenkins INSTANCE = new Jenkins();
    /** Stand-in only: what hasPermission answers. */
    public static volatile boolean standInAdmin = true;

    public static final Authentication ANONYMOUS2 = new Authentication() {
        private static final long serialVersionUID = 1L;

        @Override
        public String getName() {
            return "anonymous";
        }

        @Override
        public boolean isAuthenticated() {
            return false;
        }
    };

    /** As core 2.555.3: this thread's authentication, else ANONYMOUS2. */
    @NonNull
    public static Authentication getAuthentication2() {
        Authentication a = ACL.STAND_IN_CURRENT.get();
        return a != null ? a : ANONYMOUS2;
    }

    @NonNull
    public static Jenkins get() throws IllegalStateException {
        return INSTANCE;
    }

    @Override
    public boolean hasPermission(@NonNull Permission permission) {
        return standInAdmin;
    }
}
