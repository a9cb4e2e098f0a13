/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.security;

import org.springframework.security.core.Authentication;

/** Stand-in: restores the authentication ACL.as2 replaced (the real one, Spring's SecurityContext). */
public class ACLContext implements AutoCloseable {
    private final Authentication previous;

    ACLContext(Authentication previous) {
        this.previous = previous;
    }

    @Override
    public void close() {
        ACL.STAND_IN_CURRENT.set(previous);
    }
}
