/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.cloudbees.plugins.credentials.impl;

import com.cloudbees.plugins.credentials.BaseCredentials;
import com.cloudbees.plugins.credentials.CredentialsScope;
import com.cloudbees.plugins.credentials.common.StandardCredentials;
import edu.umd.cs.findbugs.annotations.CheckForNull;
import edu.umd.cs.findbugs.annotations.NonNull;
import java.util.UUID;

/**
 * As jenkinsci/credentials-plugin's (checked at commit d96751bc): {@code public abstract class
 * BaseStandardCredentials extends BaseCredentials implements StandardCredentials}, equal by id.
 * Stand-in: without {@code @ExportedBean} and the nested descriptor; an empty id becomes a random
 * UUID, as {@code IdCredentials.Helpers.fixEmptyId} does.
 */
public abstract class BaseStandardCredentials extends BaseCredentials implements StandardCredentials {
    @NonNull
    private final String id;
    @NonNull
    private final String description;

    public BaseStandardCredentials(@CheckForNull String id, @CheckForNull String description) {
        this(null, id, description);
    }

    public BaseStandardCredentials(@CheckForNull CredentialsScope scope, @CheckForNull String id,
            @CheckForNull String description) {
        super(scope);
        this.id = id == null || id.isEmpty() ? UUID.randomUUID().toString() : id;
        this.description = description == null ? "" : description;
    }

    @NonNull
    @Override
    public String getDescription() {
        return description;
    }

    @NonNull
    @Override
    public String getId() {
        return id;
    }

    @Override
    public final int hashCode() {
        return id.hashCode();
    }

    @Override
    public final boolean equals(Object o) {
        return o instanceof BaseStandardCredentials b && id.equals(b.getId());
    }
}
