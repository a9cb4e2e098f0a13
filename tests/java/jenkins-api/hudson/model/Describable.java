/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

public interface Describable<T extends Describable<T>> {
    /** Stand-in: the real default asks Jenkins for the registered descriptor. */
    default Descriptor<T> getDescriptor() {
        throw new UnsupportedOperationException("stand-in: no Jenkins here");
    }
}
