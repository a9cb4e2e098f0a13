package io.bakeami.jenkins;

import com.cloudbees.jenkins.plugins.awscredentials.AmazonWebServicesCredentials;
import com.cloudbees.plugins.credentials.CredentialsMatchers;
import com.cloudbees.plugins.credentials.CredentialsProvider;
import com.cloudbees.plugins.credentials.common.StandardListBoxModel;
import hudson.model.Item;
import hudson.model.Queue;
import hudson.model.queue.Tasks;
import hudson.security.ACL;
import hudson.util.FormValidation;
import hudson.util.ListBoxModel;
import io.bakeami.nativelib.BakeOptions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Pattern;
import jenkins.model.Jenkins;
import org.springframework.security.core.Authentication;

/** Form validation and list boxes both descriptors share, and the path rules the runner enforces. */
final class BakeAmiForms {
    static final String ON_ERROR_CLEANUP = "cleanup";
    static final String ON_ERROR_ABORT = "abort";
    private static final Pattern SEGMENT = Pattern.compile("[/\\\\]");

    private BakeAmiForms() {}

    /** Why a template path is unusable, or null: required, workspace-relative, inside it, *.json. */
    static String templateProblem(String value) {
        if (value == null || value.trim().isEmpty()) {
            return "a template is required";
        }
        String p = workspacePathProblem(value);
        if (p != null) {
            return p;
        }
        if (!value.trim().endsWith(".json")) {
            return "a template is a .json file";
        }
        return null;
    }

    /** Why a path is not a workspace-relative path inside the workspace, or null. */
    static String workspacePathProblem(String value) {
        String v = value.trim();
        if (v.startsWith("/") || v.startsWith("\\") || v.matches("^[A-Za-z]:.*") || v.startsWith("~")) {
            return "'" + value + "' must be relative to the workspace";
        }
        for (String seg : SEGMENT.split(v)) {
            if (seg.equals("..")) {
                return "'" + value + "' must stay inside the workspace (no '..')";
            }
        }
        return null;
    }

    /** Why these options (as a step or builder made them) cannot run, or null. */
    static String problem(BakeOptions o) {
        String p = templateProblem(o.templatePath());
        if (p != null) {
            return "template: " + p;
        }
        for (String f : o.varFiles()) {
            if ((p = workspacePathProblem(f)) != null) {
                return "varFiles: " + f + ": " + p;
            }
        }
        for (String v : o.vars()) {
            if (v.indexOf('=') <= 0) {
                return "vars: '" + v + "' must read key=value";
            }
        }
        if (o.junitPath() != null && (p = workspacePathProblem(o.junitPath())) != null) {
            return "junit: " + p;
        }
        if (o.manifestPath() != null && (p = workspacePathProblem(o.manifestPath())) != null) {
            return "manifest: " + p;
        }
        if (o.resultPath() != null && (p = workspacePathProblem(o.resultPath())) != null) {
            return "resultFile: " + p;
        }
        if ((p = namesProblem("only", o.only())) != null || (p = namesProblem("except", o.except())) != null) {
            return p;
        }
        return null;
    }

    /** A build name list (only/except) must hold names. */
    private static String namesProblem(String param, List<String> names) {
        for (String n : names) {
            if (n.trim().isEmpty()) {
                return param + ": a build name is empty (names are the builders' \"name\", else their type)";
            }
        }
        return null;
    }

    /** Build names as a form edits them: separated by commas or lines, as Packer's -only=a,b. */
    static List<String> names(String text) {
        return split(text, "[,\\r\\n]");
    }

    static FormValidation checkTemplate(String value) {
        String p = templateProblem(value);
        return p == null ? FormValidation.ok() : FormValidation.error(p);
    }

    static FormValidation checkOptionalPath(String value) {
        if (value == null || value.trim().isEmpty()) {
            return FormValidation.ok();
        }
        String p = workspacePathProblem(value);
        return p == null ? FormValidation.ok() : FormValidation.error(p);
    }

    /**
     * The AWS credentials a user may pick for this job, listed as the job's builds will look them
     * up (its authentication, not SYSTEM); only the current id for users who may not list them.
     */
    static ListBoxModel fillCredentialsIdItems(Item item, String credentialsId) {
        StandardListBoxModel result = new StandardListBoxModel();
        String current = credentialsId == null ? "" : credentialsId;
        if (!mayListCredentials(item)) {
            return result.includeCurrentValue(current);
        }
        return result.includeEmptyValue()
                .includeMatchingAs(authenticationOf(item), item, AmazonWebServicesCredentials.class,
                        Collections.emptyList(), CredentialsMatchers.always())
                .includeCurrentValue(current);
    }

    /**
     * Whether the id names AWS credentials this job's builds can use. Only for those who may
     * configure the job (the answer tells whether an id exists): to others it says nothing.
     */
    static FormValidation checkCredentialsId(Item item, String value) {
        boolean mayConfigure = item == null ? Jenkins.get().hasPermission(Jenkins.ADMINISTER)
                : item.hasPermission(Item.CONFIGURE);
        String id = fixEmpty(value);
        if (!mayConfigure || id == null) {
            return FormValidation.ok(); // none: the agent's own AWS chain
        }
        if (CredentialsProvider.listCredentialsInItem(AmazonWebServicesCredentials.class, item, authenticationOf(item),
                Collections.emptyList(), CredentialsMatchers.withId(id)).isEmpty()) {
            return FormValidation.error("no \"AWS Credentials\" with id '" + id + "' are visible to this job's builds");
        }
        return FormValidation.ok();
    }

    /** The credentials consumer guide's rule: Administer without a job, else ExtendedRead or UseItem on it. */
    private static boolean mayListCredentials(Item item) {
        if (item == null) {
            return Jenkins.get().hasPermission(Jenkins.ADMINISTER);
        }
        return item.hasPermission(Item.EXTENDED_READ) || item.hasPermission(CredentialsProvider.USE_ITEM);
    }

    /** The authentication the job's builds run as (what their credential lookups see). */
    private static Authentication authenticationOf(Item item) {
        return item instanceof Queue.Task t ? Tasks.getAuthenticationOf2(t) : ACL.SYSTEM2;
    }

    static ListBoxModel fillOnErrorItems() {
        ListBoxModel m = new ListBoxModel();
        m.add("Clean up everything the bake made (default)", ON_ERROR_CLEANUP);
        m.add("Leave the instance and key pair for debugging", ON_ERROR_ABORT);
        return m;
    }

    static String checkedOnError(String value) {
        if (value == null || value.isEmpty()) {
            return ON_ERROR_CLEANUP;
        }
        if (!value.equals(ON_ERROR_CLEANUP) && !value.equals(ON_ERROR_ABORT)) {
            throw new IllegalArgumentException("onError must be 'cleanup' or 'abort', not '" + value + "'");
        }
        return value;
    }

    static String fixEmpty(String s) {
        return s == null || s.trim().isEmpty() ? null : s.trim();
    }

    /** Non-blank lines, trimmed. */
    static List<String> lines(String text) {
        return split(text, "\\r?\\n");
    }

    /** The non-blank pieces between separators, trimmed. */
    private static List<String> split(String text, String separators) {
        List<String> out = new ArrayList<>();
        if (text != null) {
            for (String piece : text.split(separators)) {
                if (!piece.trim().isEmpty()) {
                    out.add(piece.trim());
                }
            }
        }
        return out;
    }
}
