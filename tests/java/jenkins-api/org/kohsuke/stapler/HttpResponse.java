/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package org.kohsuke.stapler;

/** Stand-in: the real interface has generateResponse(StaplerRequest2, StaplerResponse2, Object). */
public interface HttpResponse {}
