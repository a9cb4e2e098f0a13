/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package software.amazon.awssdk.auth.credentials;

public final class AwsBasicCredentials implements AwsCredentials {
    private final String accessKeyId;
    private final String secretAccessKey;

    private AwsBasicCredentials(String accessKeyId, String secretAccessKey) {
        this.accessKeyId = accessKeyId;
        this.secretAccessKey = secretAccessKey;
    }

    public static AwsBasicCredentials create(String accessKeyId, String secretAccessKey) {
        return new AwsBasicCredentials(accessKeyId, secretAccessKey);
    }

    @Override
    public String accessKeyId() {
        return accessKeyId;
    }

    @Override
    public String secretAccessKey() {
        return secretAccessKey;
    }

    @Override
    public String toString() {
        return "AwsBasicCredentials(accessKeyId=" + accessKeyId + ")";
    }
}
