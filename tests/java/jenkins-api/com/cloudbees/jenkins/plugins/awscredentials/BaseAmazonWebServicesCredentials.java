/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.cloudbees.jenkins.plugins.awscredentials;

import com.cloudbees.plugins.credentials.CredentialsScope;
import com.cloudbees.plugins.credentials.impl.BaseStandardCredentials;
import edu.umd.cs.findbugs.annotations.CheckForNull;

/**
 * As jenkinsci/aws-credentials-plugin's (checked at commit 0efb28f7, release 262.v0efb_28f71f94,
 * 2026-06-12): the same declaration and constructor.
 */
public abstract class BaseAmazonWebServicesCredentials extends BaseStandardCredentials
        implements AmazonWebServicesCredentials {
    public BaseAmazonWebServicesCredentials(@CheckForNull CredentialsScope scope, @CheckForNull String id,
            @CheckForNull String description) {
        super(scope, id, description);
    }
}
