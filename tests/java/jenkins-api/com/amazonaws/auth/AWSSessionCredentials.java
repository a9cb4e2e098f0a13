/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.amazonaws.auth;

public interface AWSSessionCredentials extends AWSCredentials {
    String getSessionToken();
}
