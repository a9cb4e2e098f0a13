/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.util;

import edu.umd.cs.findbugs.annotations.CheckForNull;
import edu.umd.cs.findbugs.annotations.NonNull;
import java.io.Serializable;

/**
 * As jenkinsci/jenkins core's (checked at 2.555.3): {@code public final class Secret implements
 * Serializable}. Stand-in: keeps the plain text (the real one encrypts it at rest with the
 * controller's key); the members the shim and its tests use only.
 */
public final class Secret implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String value;

    private Secret(String value) {
        this.value = value;
    }

    @NonNull
    public String getPlainText() {
        return value;
    }

    /** As the real one: null reads as the empty secret. */
    @NonNull
    public static Secret fromString(@CheckForNull String data) {
        return new Secret(data == null ? "" : data);
    }

    @NonNull
    public static String toString(@CheckForNull Secret s) {
        return s == null ? "" : s.value;
    }
}
