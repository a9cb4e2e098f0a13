/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package software.amazon.awssdk.identity.spi;

public interface AwsCredentialsIdentity {
    String accessKeyId();

    String secretAccessKey();
}
