/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package software.amazon.awssdk.auth.credentials;

public final class AwsSessionCredentials implements AwsCredentials {
    private final String accessKeyId;
    private final String secretAccessKey;
    private final String sessionToken;

    private AwsSessionCredentials(String accessKeyId, String secretAccessKey, String sessionToken) {
        this.accessKeyId = accessKeyId;
        this.secretAccessKey = secretAccessKey;
        this.sessionToken = sessionToken;
    }

    public static AwsSessionCredentials create(String accessKey, String secretKey, String sessionToken) {
        return new AwsSessionCredentials(accessKey, secretKey, sessionToken);
    }

    @Override
    public String accessKeyId() {
        return accessKeyId;
    }

    @Override
    public String secretAccessKey() {
        return secretAccessKey;
    }

    public String sessionToken() {
        return sessionToken;
    }

    @Override
    public String toString() {
        return "AwsSessionCredentials(accessKeyId=" + accessKeyId + ")";
    }
}
