package io.bakeami.nativelib;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The options of one bake: the Java side of bakeami_options, and the one place Java declares
 * them. It crosses JNI as one JSON document ({@link #toJson()}, read by the library's
 * bakeami_options_from_json, keys = the C field names), and is the request the Jenkins plugin
 * sends from the controller to the agent (Serializable; plain strings, lists and booleans).
 *
 * <p>Paths are used as given: relative ones resolve against the JVM's working directory, so a
 * caller that runs a bake passes absolute paths. Null means "not set". The credentials travel
 * with the object (as any step argument does over the remoting channel); {@link #toString()}
 * never shows them and the library masks them in everything it writes.
 */
public final class BakeOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    private String templatePath;
    private final ArrayList<String> vars = new ArrayList<>();
    private final ArrayList<String> varFiles = new ArrayList<>();
    private String region;
    private String accessKeyId;
    private String secretAccessKey;
    private String sessionToken;
    private String journalPath;
    private String manifestPath;
    private String junitPath;
    private String resultPath;
    private boolean onErrorAbort;
    private boolean debug;
    private final ArrayList<String> extraTags = new ArrayList<>();
    private Boolean reuse;
    private final ArrayList<String> only = new ArrayList<>();
    private final ArrayList<String> except = new ArrayList<>();
    private String logDir;
    private String roleArn;
    private String roleExternalId;
    private String roleSessionName;
    private int roleDurationSeconds;
    private String roleMfaSerial;
    private String roleMfaToken;

    public BakeOptions() {}

    /** A copy (lists included), to change without touching the original. */
    public BakeOptions copy() {
        BakeOptions c = new BakeOptions();
        c.templatePath = templatePath;
        c.vars.addAll(vars);
        c.varFiles.addAll(varFiles);
        c.region = region;
        c.accessKeyId = accessKeyId;
        c.secretAccessKey = secretAccessKey;
        c.sessionToken = sessionToken;
        c.journalPath = journalPath;
        c.manifestPath = manifestPath;
        c.junitPath = junitPath;
        c.resultPath = resultPath;
        c.onErrorAbort = onErrorAbort;
        c.debug = debug;
        c.extraTags.addAll(extraTags);
        c.reuse = reuse;
        c.only.addAll(only);
        c.except.addAll(except);
        c.logDir = logDir;
        c.roleArn = roleArn;
        c.roleExternalId = roleExternalId;
        c.roleSessionName = roleSessionName;
        c.roleDurationSeconds = roleDurationSeconds;
        c.roleMfaSerial = roleMfaSerial;
        c.roleMfaToken = roleMfaToken;
        return c;
    }

    // ---- setters (fluent) ----------------------------------------------------------------

    public BakeOptions template(String path) {
        this.templatePath = path;
        return this;
    }

    /** A template variable; later ones win. */
    public BakeOptions var(String key, String value) {
        vars.add(key + "=" + value);
        return this;
    }

    /** A template variable given as "key=value". */
    public BakeOptions var(String keyEqualsValue) {
        if (keyEqualsValue.indexOf('=') <= 0) {
            throw new IllegalArgumentException("a variable must read key=value");
        }
        vars.add(keyEqualsValue);
        return this;
    }

    /** A JSON file of variables, applied before {@link #var}s. */
    public BakeOptions varFile(String path) {
        varFiles.add(path);
        return this;
    }

    /** Replaces the variable files (e.g. with their absolute paths). */
    public BakeOptions varFiles(List<String> paths) {
        varFiles.clear();
        varFiles.addAll(paths);
        return this;
    }

    /** Overrides the template's region and AWS_REGION. */
    public BakeOptions region(String region) {
        this.region = region;
        return this;
    }

    /** Credentials that override the agent's AWS chain; the token may be null. */
    public BakeOptions credentials(String accessKeyId, String secretAccessKey, String sessionToken) {
        this.accessKeyId = accessKeyId;
        this.secretAccessKey = secretAccessKey;
        this.sessionToken = sessionToken;
        return this;
    }

    /**
     * A role the library assumes (STS AssumeRole) with the credentials above, else the agent's
     * chain, and renews before it expires, for the whole bake and its cleanup. externalId and
     * sessionName may be null (none; bakeami-&lt;random&gt;); durationSeconds 0: STS's default.
     */
    public BakeOptions role(String arn, String externalId, String sessionName, int durationSeconds) {
        this.roleArn = arn;
        this.roleExternalId = externalId;
        this.roleSessionName = sessionName;
        this.roleDurationSeconds = durationSeconds;
        return this;
    }

    /**
     * The MFA device and its current code for the role's first AssumeRole. Such a session is not
     * renewable (a code is good once): it lasts the role's duration.
     */
    public BakeOptions mfa(String serial, String token) {
        this.roleMfaSerial = serial;
        this.roleMfaToken = token;
        return this;
    }

    public BakeOptions journal(String path) {
        this.journalPath = path;
        return this;
    }

    public BakeOptions manifest(String path) {
        this.manifestPath = path;
        return this;
    }

    public BakeOptions junit(String path) {
        this.junitPath = path;
        return this;
    }

    public BakeOptions result(String path) {
        this.resultPath = path;
        return this;
    }

    /** true: on failure leave the resources for debugging (on_error abort). */
    public BakeOptions onErrorAbort(boolean abort) {
        this.onErrorAbort = abort;
        return this;
    }

    public BakeOptions debug(boolean debug) {
        this.debug = debug;
        return this;
    }

    /** A provenance tag put on everything the bake creates (BUILD_URL=...). */
    public BakeOptions extraTag(String key, String value) {
        extraTags.add(key + "=" + value);
        return this;
    }

    /** A provenance tag given as "key=value". */
    public BakeOptions extraTag(String keyEqualsValue) {
        if (keyEqualsValue.indexOf('=') <= 0) {
            throw new IllegalArgumentException("a tag must read key=value");
        }
        extraTags.add(keyEqualsValue);
        return this;
    }

    /**
     * true: use a tested image of the same inputs if there is one (the CLI's --reuse); false:
     * always bake (--no-reuse); null: as the template's "reuse" says.
     */
    public BakeOptions reuse(Boolean reuse) {
        this.reuse = reuse;
        return this;
    }

    /** Bake only the builds named (Packer's -only: a builder's name, else its type); empty: all. */
    public BakeOptions only(List<String> names) {
        only.clear();
        only.addAll(names);
        return this;
    }

    /** Bake every build but those named (Packer's -except). */
    public BakeOptions except(List<String> names) {
        except.clear();
        except.addAll(names);
        return this;
    }

    /** The provisioning logs' folder: {@code <logDir>/<run-id>/NN-<type>.log}; null: bakeami-logs. */
    public BakeOptions logDir(String path) {
        this.logDir = path;
        return this;
    }

    // ---- getters (what a caller checks or resolves; never the secrets) --------------------

    public String templatePath() {
        return templatePath;
    }

    /** "key=value" strings, in order. */
    public List<String> vars() {
        return Collections.unmodifiableList(vars);
    }

    public List<String> varFiles() {
        return Collections.unmodifiableList(varFiles);
    }

    public String region() {
        return region;
    }

    public String manifestPath() {
        return manifestPath;
    }

    public String junitPath() {
        return junitPath;
    }

    public String resultPath() {
        return resultPath;
    }

    public Boolean reuse() {
        return reuse;
    }

    public List<String> only() {
        return Collections.unmodifiableList(only);
    }

    public List<String> except() {
        return Collections.unmodifiableList(except);
    }

    public String logDir() {
        return logDir;
    }

    public boolean onErrorAbort() {
        return onErrorAbort;
    }

    public boolean hasCredentials() {
        return accessKeyId != null;
    }

    public String roleArn() {
        return roleArn;
    }

    public String roleSessionName() {
        return roleSessionName;
    }

    public int roleDurationSeconds() {
        return roleDurationSeconds;
    }

    public String roleMfaSerial() {
        return roleMfaSerial;
    }

    public boolean hasMfaToken() {
        return roleMfaToken != null;
    }

    /**
     * Only the credentials (keys, role; no MFA code, which was good once): what a later cleanup
     * of this bake signs with.
     */
    public BakeOptions credentialsOnly() {
        BakeOptions c = new BakeOptions();
        c.credentials(accessKeyId, secretAccessKey, sessionToken);
        c.role(roleArn, roleExternalId, roleSessionName, roleDurationSeconds);
        c.roleMfaSerial = roleMfaSerial;
        return c;
    }

    // For Cleanup's natives (the same package): the secrets, which no public getter gives.
    String accessKeyId() {
        return accessKeyId;
    }

    String secretAccessKey() {
        return secretAccessKey;
    }

    String sessionToken() {
        return sessionToken;
    }

    String roleExternalId() {
        return roleExternalId;
    }

    public List<String> extraTags() {
        return Collections.unmodifiableList(extraTags);
    }

    // ---- the JNI encoding ----------------------------------------------------------------

    /**
     * The document bakeami_options_from_json reads: one UTF-8 JSON object, keys = the C field
     * names, unset fields left out. Holds the credentials: it goes to the library, nowhere else.
     */
    byte[] toJson() {
        Json j = new Json();
        j.string("template_path", templatePath);
        j.list("vars", vars);
        j.list("var_files", varFiles);
        j.string("journal_path", journalPath);
        j.string("manifest_path", manifestPath);
        j.string("result_path", resultPath);
        j.string("junit_path", junitPath);
        j.bool("on_error_abort", onErrorAbort);
        j.bool("debug", debug);
        j.string("access_key_id", accessKeyId);
        j.string("secret_access_key", secretAccessKey);
        j.string("session_token", sessionToken);
        j.string("region", region);
        j.list("extra_tags", extraTags);
        j.tri("reuse", reuse);
        j.list("only", only);
        j.list("except", except);
        j.string("log_dir", logDir);
        j.string("role_arn", roleArn);
        j.string("role_external_id", roleExternalId);
        j.string("role_session_name", roleSessionName);
        j.seconds("role_duration_seconds", roleDurationSeconds);
        j.string("role_mfa_serial", roleMfaSerial);
        j.string("role_mfa_token", roleMfaToken);
        return j.bytes();
    }

    /**
     * Writes one flat JSON object of strings, string arrays and booleans (RFC 8259 string
     * escaping). A NUL is refused: the C side reads NUL-terminated strings. Version 5 of
     * bakeami_options: the one with the role's duration and MFA.
     */
    private static final class Json {
        private final StringBuilder sb = new StringBuilder("{\"version\":5");

        void string(String key, String value) {
            if (value != null) {
                key(key);
                quote(value);
            }
        }

        void list(String key, List<String> values) {
            if (values.isEmpty()) {
                return;
            }
            key(key);
            sb.append('[');
            for (int i = 0; i < values.size(); i++) {
                String v = values.get(i);
                if (v == null) {
                    throw new IllegalArgumentException("a bake option list holds null (" + key + ")");
                }
                sb.append(i > 0 ? "," : "");
                quote(v);
            }
            sb.append(']');
        }

        void bool(String key, boolean value) {
            if (value) {
                key(key);
                sb.append("true");
            }
        }

        /** A whole number of seconds; left out when 0 (not set). */
        void seconds(String key, int value) {
            if (value != 0) {
                key(key);
                sb.append(value);
            }
        }

        /** true or false when set; left out when null. */
        void tri(String key, Boolean value) {
            if (value != null) {
                key(key);
                sb.append(value.booleanValue());
            }
        }

        private void key(String key) {
            sb.append(",\"").append(key).append("\":");
        }

        private void quote(String s) {
            if (s.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("a bake option holds a NUL character");
            }
            sb.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> sb.append("\\\"");
                    case '\\' -> sb.append("\\\\");
                    case '\n' -> sb.append("\\n");
                    case '\r' -> sb.append("\\r");
                    case '\t' -> sb.append("\\t");
                    case '\b' -> sb.append("\\b");
                    case '\f' -> sb.append("\\f");
                    default -> {
                        if (c < 0x20) {
                            sb.append(String.format("\\u%04x", (int) c));
                        } else {
                            sb.append(c);
                        }
                    }
                }
            }
            sb.append('"');
        }

        byte[] bytes() {
            return sb.append('}').toString().getBytes(StandardCharsets.UTF_8);
        }
    }

    @Override
    public String toString() { // never the secrets
        return "BakeOptions[template=" + templatePath + ", region=" + region + ", vars=" + vars.size()
                + ", credentials=" + (accessKeyId != null ? "set" : "chain")
                + (roleArn != null ? ", role=" + roleArn + (roleMfaSerial != null ? " (MFA)" : "") : "") + "]";
    }
}
