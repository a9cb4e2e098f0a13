/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package jenkins.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.security.AccessControlled;
import hudson.security.Permission;

/** Stand-in: one instance; tests decide what the current user may do. */
public class Jenkins implements AccessControlled {
    public static final Permission ADMINISTER = new Permission("Hudson", "Administer");
    private static final Jenkins INSTANCE = new Jenkins();
    /** Stand-in only: what hasPermission answers. */
    public static volatile boolean standInAdmin = true;

    @NonNull
    public static Jenkins get() throws IllegalStateException {
        return INSTANCE;
    }

    @Override
    public boolean hasPermission(@NonNull Permission permission) {
        return standInAdmin;
    }
}
