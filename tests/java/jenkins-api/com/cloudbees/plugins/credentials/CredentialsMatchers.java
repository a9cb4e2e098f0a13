/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.cloudbees.plugins.credentials;

import edu.umd.cs.findbugs.annotations.NonNull;

public class CredentialsMatchers {
    private CredentialsMatchers() {}

    @NonNull
    public static CredentialsMatcher always() {
        return c -> true;
    }

    @NonNull
    public static CredentialsMatcher withId(@NonNull String id) {
        return c -> c instanceof com.cloudbees.plugins.credentials.common.IdCredentials i && id.equals(i.getId());
    }

    @NonNull
    public static CredentialsMatcher instanceOf(@NonNull Class clazz) {
        return clazz::isInstance;
    }
}
