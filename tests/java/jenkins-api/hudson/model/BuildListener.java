/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

/** Stand-in: the real one adds default started(List<Cause>) and finished(Result). */
public interface BuildListener extends TaskListener {
}
