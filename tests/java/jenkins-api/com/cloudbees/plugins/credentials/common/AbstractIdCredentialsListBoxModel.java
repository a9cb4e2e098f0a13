/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.cloudbees.plugins.credentials.common;

import com.cloudbees.plugins.credentials.CredentialsMatcher;
import com.cloudbees.plugins.credentials.CredentialsProvider;
import com.cloudbees.plugins.credentials.domains.DomainRequirement;
import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.model.Item;
import hudson.util.ListBoxModel;
import java.util.List;
import org.springframework.security.core.Authentication;

public abstract class AbstractIdCredentialsListBoxModel<T extends AbstractIdCredentialsListBoxModel<T, C>,
        C extends IdCredentials> extends ListBoxModel {
    private static final long serialVersionUID = 1L;

    @NonNull
    protected abstract String describe(@NonNull C c);

    @NonNull
    public AbstractIdCredentialsListBoxModel<T, C> includeEmptyValue() {
        for (Option o : this) {
            if ("".equals(o.value)) {
                return this;
            }
        }
        add(0, new Option("- none -", ""));
        return this;
    }

    @NonNull
    public AbstractIdCredentialsListBoxModel<T, C> includeMatchingAs(@NonNull Authentication authentication,
            Item context, @NonNull Class<? extends C> type, @NonNull List<DomainRequirement> domainRequirements,
            @NonNull CredentialsMatcher matcher) {
        for (C c : CredentialsProvider.standInListing(type, matcher, authentication)) {
            add(describe(c), c.getId());
        }
        return this;
    }

    @NonNull
    public AbstractIdCredentialsListBoxModel<T, C> includeCurrentValue(@NonNull String value) {
        for (Option o : this) {
            if (value.equals(o.value)) {
                return this;
            }
        }
        add(new Option("- current -", value));
        return this;
    }
}
