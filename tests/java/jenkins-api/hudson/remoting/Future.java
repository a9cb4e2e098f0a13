/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.remoting;

public interface Future<V> extends java.util.concurrent.Future<V> {}
