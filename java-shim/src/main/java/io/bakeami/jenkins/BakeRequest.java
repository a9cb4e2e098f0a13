package io.bakeami.jenkins;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What one bakeAmi call asks for, as the Pipeline step and the freestyle builder both configure
 * it. Controller side only; the agent gets a {@link BakeCallable}.
 */
final class BakeRequest {
    final String template;
    final List<String> vars;     // "key=value", later wins
    final List<String> varFiles;
    final String region;
    final String credentialsId;
    final String junit;
    final String manifest;
    final boolean onErrorAbort;

    BakeRequest(String template, List<String> vars, List<String> varFiles, String region, String credentialsId,
            String junit, String manifest, String onError) {
        this.template = template;
        this.vars = Collections.unmodifiableList(new ArrayList<>(vars));
        this.varFiles = Collections.unmodifiableList(new ArrayList<>(varFiles));
        this.region = region;
        this.credentialsId = credentialsId;
        this.junit = junit;
        this.manifest = manifest;
        this.onErrorAbort = BakeAmiForms.ON_ERROR_ABORT.equals(onError);
    }

    /** Why this request cannot run, or null. */
    String problem() {
        String p = BakeAmiForms.templateProblem(template);
        if (p != null) {
            return "template: " + p;
        }
        for (String f : varFiles) {
            if ((p = BakeAmiForms.workspacePathProblem(f)) != null) {
                return "varFiles: " + f + ": " + p;
            }
        }
        for (String v : vars) {
            if (v.indexOf('=') <= 0) {
                return "vars: '" + v + "' must read key=value";
            }
        }
        if (junit != null && (p = BakeAmiForms.workspacePathProblem(junit)) != null) {
            return "junit: " + p;
        }
        if (manifest != null && (p = BakeAmiForms.workspacePathProblem(manifest)) != null) {
            return "manifest: " + p;
        }
        return null;
    }
}
