/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.cloudbees.jenkins.plugins.awscredentials;

import com.amazonaws.auth.AWSCredentials;
import com.cloudbees.plugins.credentials.CredentialsScope;
import edu.umd.cs.findbugs.annotations.CheckForNull;
import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.util.Secret;
import java.util.concurrent.atomic.AtomicInteger;
import org.kohsuke.stapler.DataBoundConstructor;
import org.kohsuke.stapler.DataBoundSetter;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentials;

/**
 * The "AWS Credentials" kind, checked member by member against jenkinsci/aws-credentials-plugin
 * at commit 0efb28f71f9469677d7a64595fbfc4a32e2ed25b (release 262.v0efb_28f71f94, 2026-06-12;
 * the SDK v2 one): the same declaration, serialVersionUID, constant, three constructors (blank
 * strings fixed to "", the secret a {@link Secret}), getters, {@code getStsTokenDuration}'s
 * default and {@code setStsTokenDuration}'s "default is null", {@code requiresToken} and
 * {@code getDisplayName}.
 *
 * <p>Stand-in: {@code resolveCredentials()} without a role is the real one (null for blank keys,
 * else the keys); with a role, and {@code resolveCredentials(mfaToken)}, the real ones call STS
 * AssumeRole on the controller (session name "Jenkins", {@code DurationSeconds} =
 * getStsTokenDuration, SerialNumber/TokenCode for MFA; the MFA form always signs with the keys,
 * never the controller's chain): this one counts the call ({@link #standInAssumeRoleCalls}) and
 * throws, so a test sees the controller never assumes a role. Left out: the nested
 * {@code DescriptorImpl} (its {@code DEFAULT_STS_TOKEN_DURATION} is {@link
 * #STS_CREDENTIALS_DURATION_SECONDS}; its {@code doCheckSecretKey} form check), the SDK v1
 * {@code getCredentials} bodies (they throw here) and the proxy-aware STS client.
 */
public class AWSCredentialsImpl extends BaseAmazonWebServicesCredentials {
    private static final long serialVersionUID = -3167989896315282034L;

    public static final int STS_CREDENTIALS_DURATION_SECONDS = 3600;

    /** Stand-in only: the AssumeRole calls the real class would have made on the controller. */
    public static final AtomicInteger standInAssumeRoleCalls = new AtomicInteger();

    private final String accessKey;
    private final Secret secretKey;
    private final String iamRoleArn;
    private final String iamExternalId;
    private final String iamMfaSerialNumber;
    private volatile Integer stsTokenDuration;

    public AWSCredentialsImpl(@CheckForNull CredentialsScope scope, @CheckForNull String id,
            @CheckForNull String accessKey, @CheckForNull String secretKey, @CheckForNull String description) {
        this(scope, id, accessKey, secretKey, description, null, null, null);
    }

    public AWSCredentialsImpl(@CheckForNull CredentialsScope scope, @CheckForNull String id,
            @CheckForNull String accessKey, @CheckForNull String secretKey, @CheckForNull String description,
            @CheckForNull String iamRoleArn, @CheckForNull String iamMfaSerialNumber) {
        this(scope, id, accessKey, secretKey, description, iamRoleArn, iamMfaSerialNumber, null);
    }

    @DataBoundConstructor
    public AWSCredentialsImpl(@CheckForNull CredentialsScope scope, @CheckForNull String id,
            @CheckForNull String accessKey, @CheckForNull String secretKey, @CheckForNull String description,
            @CheckForNull String iamRoleArn, @CheckForNull String iamMfaSerialNumber, String iamExternalId) {
        super(scope, id, description);
        this.accessKey = fixNull(accessKey);
        this.secretKey = Secret.fromString(secretKey);
        this.iamRoleArn = fixNull(iamRoleArn);
        this.iamExternalId = fixNull(iamExternalId);
        this.iamMfaSerialNumber = fixNull(iamMfaSerialNumber);
    }

    public String getAccessKey() {
        return accessKey;
    }

    public Secret getSecretKey() {
        return secretKey;
    }

    public String getIamRoleArn() {
        return iamRoleArn;
    }

    public String getIamExternalId() {
        return iamExternalId;
    }

    public String getIamMfaSerialNumber() {
        return iamMfaSerialNumber;
    }

    @NonNull
    public Integer getStsTokenDuration() {
        return stsTokenDuration == null ? STS_CREDENTIALS_DURATION_SECONDS : stsTokenDuration;
    }

    @DataBoundSetter
    public void setStsTokenDuration(Integer stsTokenDuration) {
        this.stsTokenDuration = stsTokenDuration == null
                || stsTokenDuration.equals(STS_CREDENTIALS_DURATION_SECONDS) ? null : stsTokenDuration;
    }

    public boolean requiresToken() {
        return !isBlank(iamMfaSerialNumber);
    }

    @Override
    public AwsCredentials resolveCredentials() {
        if (isBlank(iamRoleArn)) {
            if (isBlank(accessKey) && isBlank(secretKey.getPlainText())) {
                return null; // AWS SDK v2 does not allow blank keys
            }
            return AwsBasicCredentials.create(accessKey, secretKey.getPlainText());
        }
        return assumeRoleOnTheController();
    }

    @Override
    public AwsCredentials resolveCredentials(String mfaToken) {
        return assumeRoleOnTheController();
    }

    private AwsCredentials assumeRoleOnTheController() {
        standInAssumeRoleCalls.incrementAndGet();
        throw new IllegalStateException("stand-in: AWSCredentialsImpl would call STS AssumeRole for "
                + iamRoleArn + " on the controller");
    }

    @Deprecated
    @Override
    public AWSCredentials getCredentials() {
        throw new UnsupportedOperationException("stand-in: the shim uses the SDK v2 view");
    }

    @Deprecated
    @Override
    public AWSCredentials getCredentials(String mfaToken) {
        throw new UnsupportedOperationException("stand-in: the shim uses the SDK v2 view");
    }

    @Deprecated
    @Override
    public void refresh() {}

    @Override
    public String getDisplayName() {
        return isBlank(iamRoleArn) ? accessKey : accessKey + ":" + iamRoleArn;
    }

    private static String fixNull(String s) {
        return s == null ? "" : s;
    }

    private static boolean isBlank(String s) {
        return s == null || s.trim().isEmpty();
    }
}
