package io.bakeami.nativelib;

import java.util.ArrayList;
import java.util.List;

/**
 * The options of one bake (bakeami_options). Paths are used as given: relative ones resolve
 * against the JVM's working directory, so callers pass absolute paths. Null means "not set".
 */
public final class BakeOptions {
    String templatePath;
    final List<String> vars = new ArrayList<>();
    final List<String> varFiles = new ArrayList<>();
    String region;
    String accessKeyId;
    String secretAccessKey;
    String sessionToken;
    String journalPath;
    String manifestPath;
    String junitPath;
    String resultPath;
    boolean onErrorAbort;
    boolean debug;
    final List<String> extraTags = new ArrayList<>();

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

    @Override
    public String toString() { // never the secrets
        return "BakeOptions[template=" + templatePath + ", region=" + region + ", vars=" + vars.size()
                + ", credentials=" + (accessKeyId != null ? "set" : "chain") + "]";
    }
}
