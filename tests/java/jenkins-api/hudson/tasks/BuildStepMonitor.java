/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.tasks;

/** Stand-in: the real constants also implement perform(BuildStep, AbstractBuild, Launcher, BuildListener). */
public enum BuildStepMonitor {
    NONE,
    STEP,
    BUILD
}
