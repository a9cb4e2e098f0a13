/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package org.jenkinsci.plugins.workflow.steps;

/** Stand-in: the real one takes (Result, CauseOfInterruption...). */
public final class FlowInterruptedException extends InterruptedException {
    private static final long serialVersionUID = 1L;

    public FlowInterruptedException(String message) {
        super(message);
    }

    public boolean isActualInterruption() {
        return true;
    }
}
