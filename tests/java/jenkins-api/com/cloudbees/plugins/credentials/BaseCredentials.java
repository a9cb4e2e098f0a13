/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.cloudbees.plugins.credentials;

import edu.umd.cs.findbugs.annotations.CheckForNull;

/**
 * As jenkinsci/credentials-plugin's (checked at commit d96751bc): {@code public class
 * BaseCredentials implements Credentials}. Stand-in: no {@code getDescriptor()} override (the
 * real one asks Jenkins for the registered descriptor).
 */
public class BaseCredentials implements Credentials {
    private static final long serialVersionUID = 1L;

    @CheckForNull
    private final CredentialsScope scope;

    protected BaseCredentials() {
        this.scope = null;
    }

    public BaseCredentials(@CheckForNull CredentialsScope scope) {
        this.scope = scope;
    }

    @CheckForNull
    public CredentialsScope getScope() {
        return scope;
    }
}
