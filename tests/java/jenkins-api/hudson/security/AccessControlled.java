/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.security;

import edu.umd.cs.findbugs.annotations.NonNull;

public interface AccessControlled {
    /** Stand-in: the real default asks getACL(). */
    boolean hasPermission(@NonNull Permission permission);
}
