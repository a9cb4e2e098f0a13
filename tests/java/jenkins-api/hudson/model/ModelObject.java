/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

public interface ModelObject {
    String getDisplayName();
}
