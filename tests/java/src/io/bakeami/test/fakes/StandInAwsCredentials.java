package io.bakeami.test.fakes;

import com.amazonaws.auth.AWSCredentials;
import com.cloudbees.jenkins.plugins.awscredentials.AmazonWebServicesCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentials;

/** An "AWS Credentials" entry: what the aws-credentials plugin's AWSCredentialsImpl resolves to. */
public final class StandInAwsCredentials implements AmazonWebServicesCredentials {
    private static final long serialVersionUID = 1L;

    private final String id;
    private final transient AwsCredentials resolved;
    private final transient RuntimeException failure;

    /** resolved null: what AWSCredentialsImpl.resolveCredentials returns for blank keys without a role. */
    public StandInAwsCredentials(String id, AwsCredentials resolved) {
        this.id = id;
        this.resolved = resolved;
        this.failure = null;
    }

    /** Resolving throws, as the SDK's STS client does when AssumeRole fails (unchecked). */
    public StandInAwsCredentials(String id, RuntimeException failure) {
        this.id = id;
        this.resolved = null;
        this.failure = failure;
    }

    @Override
    public String getId() {
        return id;
    }

    @Override
    public String getDescription() {
        return "stand-in " + id;
    }

    @Override
    public String getDisplayName() {
        return id;
    }

    @Override
    public AwsCredentials resolveCredentials() {
        if (failure != null) {
            throw failure;
        }
        return resolved;
    }

    @Override
    public AwsCredentials resolveCredentials(String mfaToken) {
        return resolveCredentials();
    }

    @Override
    @Deprecated
    public AWSCredentials getCredentials(String mfaToken) {
        throw new UnsupportedOperationException("the shim uses the SDK v2 view");
    }

    @Override
    public AWSCredentials getCredentials() {
        throw new UnsupportedOperationException("the shim uses the SDK v2 view");
    }

    @Override
    public void refresh() {}
}
