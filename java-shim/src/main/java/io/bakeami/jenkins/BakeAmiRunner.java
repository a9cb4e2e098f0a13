package io.bakeami.jenkins;

import com.cloudbees.jenkins.plugins.awscredentials.AmazonWebServicesCredentials;
import com.cloudbees.plugins.credentials.CredentialsProvider;
import hudson.AbortException;
import hudson.EnvVars;
import hudson.FilePath;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.bakeami.nativelib.BakeOptions;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;

/**
 * The controller's half of a bake, shared by the Pipeline step and the freestyle builder:
 * resolves credentials and provenance on the controller, runs a {@link BakeCallable} in the
 * workspace (on the agent), and prints the AMI as a console hyperlink (console notes are only
 * trusted when written on the controller).
 */
final class BakeAmiRunner {
    /** How long an aborted bake may take to clean up before the step gives up waiting. */
    static final String PROP_CLEANUP_TIMEOUT = "bakeami.cleanupTimeoutSeconds";

    private BakeAmiRunner() {}

    static long cleanupTimeoutMs() {
        return Long.getLong(PROP_CLEANUP_TIMEOUT, 600L) * 1000L;
    }

    /**
     * Bakes {@code options} (workspace-relative paths, as the step or builder made them) with the
     * credentials of {@code credentialsId} (null: the agent's chain) and this build's provenance
     * tags; returns the outcome of a successful bake. Throws AbortException when the bake failed,
     * InterruptedException when this thread was interrupted (abort), in which case it has first
     * waited, bounded, for the agent to cancel the bake and clean up.
     */
    static BakeOutcome bake(BakeOptions options, String credentialsId, Run<?, ?> run, FilePath workspace,
            EnvVars env, TaskListener listener) throws IOException, InterruptedException {
        String problem = BakeAmiForms.problem(options);
        if (problem != null) {
            throw new AbortException("bakeAmi: " + problem);
        }
        BakeOptions request = options.copy();
        if (credentialsId != null) {
            String[] k = resolveCredentials(credentialsId, run);
            request.credentials(k[0], k[1], k[2]);
        }
        provenance(run, env).forEach(request::extraTag);
        PrintStream log = listener.getLogger();
        log.println("[bakeAmi] baking " + options.templatePath() + " in " + workspace.getRemote()
                + (workspace.isRemote() ? " on the agent" : " on the built-in node") + ", AWS credentials: "
                + (credentialsId != null ? "'" + credentialsId + "'" : "the agent's own chain"));
        String key = UUID.randomUUID().toString();
        long timeoutMs = cleanupTimeoutMs();
        BakeCallable callable = new BakeCallable(key, request, timeoutMs, listener);
        BakeOutcome out;
        try {
            out = workspace.act(callable);
        } catch (InterruptedException e) {
            awaitAgentCleanup(workspace, key, timeoutMs);
            throw e;
        }
        if (out.succeeded()) {
            if (out.ami != null) {
                printAmi(listener, out);
            } else {
                log.println("[bakeAmi] the bake succeeded and kept no AMI (run " + out.runId + ")");
            }
            return out;
        }
        throw new AbortException("bakeAmi: the bake " + (out.cancelled() ? "was cancelled" : "failed")
                + " (exit " + out.exitCode + (out.runId != null ? ", run " + out.runId : "") + "): " + out.message);
    }

    /**
     * After an interrupt remoting returns at once, while the agent is still cleaning up: wait
     * there for the bake with this key (a no-op when the callable ran in this JVM and has waited
     * already). A dead channel means there is nothing left to wait for here.
     */
    private static void awaitAgentCleanup(FilePath workspace, String key, long timeoutMs) {
        boolean interrupted = Thread.interrupted();
        try {
            workspace.act(new AwaitBakeCallable(key, timeoutMs));
        } catch (IOException | InterruptedException | RuntimeException e) {
            // channel gone or a second abort: stop waiting
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** {access key, secret, session token or null}; the Jenkins "AWS Credentials" kind. */
    static String[] resolveCredentials(String id, Run<?, ?> run) throws AbortException {
        AmazonWebServicesCredentials c = CredentialsProvider.findCredentialById(id,
                AmazonWebServicesCredentials.class, run);
        if (c == null) {
            throw new AbortException("bakeAmi: no AWS credentials with id '" + id + "' (kind \"AWS Credentials\")"
                    + " are visible to this build");
        }
        c = CredentialsProvider.track(run, c);
        AwsCredentials k = c.resolveCredentials(); // assumes the role, if one is set, on the controller
        String token = k instanceof AwsSessionCredentials s ? s.sessionToken() : null;
        return new String[] {k.accessKeyId(), k.secretAccessKey(), token};
    }

    /** Tags that tie what the bake makes to this build. */
    static List<String> provenance(Run<?, ?> run, EnvVars env) {
        List<String> tags = new ArrayList<>();
        for (String k : new String[] {"BUILD_URL", "BUILD_NUMBER", "GIT_COMMIT"}) {
            String v = env.get(k);
            if (v != null && !v.isEmpty()) {
                tags.add(k + "=" + v);
            }
        }
        tags.add("jenkins:run=" + run.getExternalizableId());
        return tags;
    }

    static String consoleUrl(String region, String ami) {
        return "https://" + region + ".console.aws.amazon.com/ec2/home?region=" + region + "#ImageDetails:imageId="
                + ami;
    }

    private static void printAmi(TaskListener listener, BakeOutcome out) throws IOException {
        PrintStream log = listener.getLogger();
        log.print("[bakeAmi] AMI ");
        if (out.region != null) {
            listener.hyperlink(consoleUrl(out.region, out.ami), out.ami);
            log.println(" in " + out.region + " (run " + out.runId + ")");
        } else {
            log.println(out.ami + " (run " + out.runId + ")");
        }
        log.flush();
    }
}
