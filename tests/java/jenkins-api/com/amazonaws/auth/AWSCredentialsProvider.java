/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.amazonaws.auth;

public interface AWSCredentialsProvider {
    AWSCredentials getCredentials();

    void refresh();
}
