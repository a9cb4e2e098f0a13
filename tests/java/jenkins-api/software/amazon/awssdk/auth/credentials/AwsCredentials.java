/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package software.amazon.awssdk.auth.credentials;

import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

public interface AwsCredentials extends AwsCredentialsIdentity {}
