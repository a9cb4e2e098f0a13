/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.cloudbees.plugins.credentials;

import java.io.Serializable;

/**
 * As jenkinsci/credentials-plugin's (checked at commit d96751bc, 2026-04-22): the three scopes.
 * Stand-in: without their display names and {@code isVisible(ModelObject)}.
 */
public enum CredentialsScope implements Serializable {
    SYSTEM,
    GLOBAL,
    USER
}
