/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.security;

import edu.umd.cs.findbugs.annotations.NonNull;
import org.springframework.security.core.Authentication;

public abstract class ACL {
    /** Stand-in only: this thread's authentication (the real one lives in Spring's SecurityContextHolder). */
    public static final ThreadLocal<Authentication> STAND_IN_CURRENT = new ThreadLocal<>();

    /** As core 2.555.3: this thread runs as auth until the returned context is closed. */
    @NonNull
    public static ACLContext as2(@NonNull Authentication auth) {
        ACLContext context = new ACLContext(STAND_IN_CURRENT.get());
        STAND_IN_CURRENT.set(auth);
        return context;
    }

    public static final Authentication SYSTEM2 = new Authentication() {
        private static final long serialVersionUID = 1L;

        @Override
        public String getName() {
            return "SYSTEM";
        }

        @Override
        public boolean isAuthenticated() {
            return true;
        }
    };
}
