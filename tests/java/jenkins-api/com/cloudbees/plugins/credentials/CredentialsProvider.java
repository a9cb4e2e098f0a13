/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package com.cloudbees.plugins.credentials;

import com.cloudbees.plugins.credentials.common.IdCredentials;
import edu.umd.cs.findbugs.annotations.CheckForNull;
import com.cloudbees.plugins.credentials.domains.DomainRequirement;
import edu.umd.cs.findbugs.annotations.NonNull;
import edu.umd.cs.findbugs.annotations.Nullable;
import hudson.model.Item;
import hudson.model.Run;
import hudson.util.ListBoxModel;
import org.springframework.security.core.Authentication;
import hudson.security.Permission;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Stand-in. The real class is a Descriptor and an ExtensionPoint that asks every credentials
 * store; this one looks in {@link #standInStore}, which tests fill.
 */
public abstract class CredentialsProvider {
    public static final Permission USE_ITEM = new Permission("Credentials", "UseItem");

    /** Stand-in only: the credentials every lookup sees. */
    public static final List<Credentials> standInStore = new CopyOnWriteArrayList<>();

    @CheckForNull
    public static <C extends IdCredentials> C findCredentialById(@NonNull String id, @NonNull Class<C> type,
            @NonNull Run<?, ?> run) {
        for (Credentials c : standInStore) {
            if (type.isInstance(c) && id.equals(((IdCredentials) c).getId())) {
                return type.cast(c);
            }
        }
        return null;
    }

    public static <C extends Credentials> C track(@NonNull Run run, @CheckForNull C credentials) {
        return credentials;
    }

    /** Stand-in only: the authentication of the last listing (list box or listCredentialsInItem). */
    public static volatile Authentication standInListedAs;

    /** Stand-in: lists {@link #standInStore}; records the authentication in {@link #standInListedAs}. */
    @NonNull
    public static <C extends IdCredentials> ListBoxModel listCredentialsInItem(@NonNull Class<C> type,
            @Nullable Item item, @Nullable Authentication authentication,
            @Nullable List<DomainRequirement> domainRequirements, @Nullable CredentialsMatcher matcher) {
        ListBoxModel m = new ListBoxModel();
        for (C c : standInListing(type, matcher != null ? matcher : CredentialsMatchers.always(), authentication)) {
            m.add(c.getId(), c.getId());
        }
        return m;
    }

    /** Stand-in only: what the list box model lists, as `as`. */
    public static <C extends Credentials> List<C> standInListing(Class<C> type, CredentialsMatcher matcher,
            Authentication as) {
        standInListedAs = as;
        return standInListing(type, matcher);
    }

    /** Stand-in only: what the list box model lists. */
    public static <C extends Credentials> List<C> standInListing(Class<C> type, CredentialsMatcher matcher) {
        List<C> out = new ArrayList<>();
        for (Credentials c : standInStore) {
            if (type.isInstance(c) && matcher.matches(c)) {
                out.add(type.cast(c));
            }
        }
        return out;
    }
}
