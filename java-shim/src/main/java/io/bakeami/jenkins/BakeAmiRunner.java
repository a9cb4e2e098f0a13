package io.bakeami.jenkins;

import com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl;
import com.cloudbees.jenkins.plugins.awscredentials.AmazonWebServicesCredentials;
import com.cloudbees.plugins.credentials.CredentialsProvider;
import hudson.AbortException;
import hudson.EnvVars;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.bakeami.nativelib.Bake;
import io.bakeami.nativelib.BakeOptions;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;
import jenkins.util.BuildListenerAdapter;
import software.amazon.awssdk.auth.credentials.AwsCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;

/**
 * The controller's half of a bake, shared by the Pipeline step and the freestyle builder:
 * resolves credentials and provenance on the controller, runs a {@link BakeCallable} in the
 * workspace (on the agent), archives the provisioning logs it wrote as build artifacts, and prints
 * the AMI as a console hyperlink (console notes are only trusted when written on the controller).
 */
final class BakeAmiRunner {
    /** How long an aborted bake may take to clean up before the step gives up waiting. */
    static final String PROP_CLEANUP_TIMEOUT = "bakeami.cleanupTimeoutSeconds";
    /** How long a bake whose controller stopped listening waits on the agent for a resumed step. */
    static final String PROP_REATTACH_TIMEOUT = "bakeami.reattachTimeoutSeconds";
    /** Set to true on the controller to allow bakes on the built-in node. */
    static final String PROP_ALLOW_BUILT_IN = "bakeami.allowBuiltInNode";

    private BakeAmiRunner() {}

    static long cleanupTimeoutMs() {
        return Long.getLong(PROP_CLEANUP_TIMEOUT, 600L) * 1000L;
    }

    static long reattachTimeoutMs() {
        return Long.getLong(PROP_REATTACH_TIMEOUT, 900L) * 1000L;
    }

    /** A fresh key for a bake: names its files in the workspace and finds it on the agent. */
    static String newKey() {
        return UUID.randomUUID().toString();
    }

    /** What STS takes as a role session name: 2 to 64 of these. */
    private static final Pattern NOT_SESSION_CHAR = Pattern.compile("[^A-Za-z0-9+=,.@_-]+");
    private static final Pattern ROLE_ARN = Pattern.compile("arn:aws[a-z-]*:iam::[0-9]{12}:role/.*[^/]");
    private static final Pattern MFA_CODE = Pattern.compile("[0-9]{6}");
    /** What STS takes as an external id. */
    private static final Pattern EXTERNAL_ID = Pattern.compile("[A-Za-z0-9+=,.@_:/-]{2,1224}");

    /**
     * Bakes {@code options} (workspace-relative paths, as the step or builder made them) with the
     * credentials of {@code credentialsId} (null: the agent's chain; {@code mfaToken}: the MFA
     * code for its role, or null) and this build's provenance
     * tags; returns the outcome of a successful bake. Throws AbortException when the bake failed,
     * InterruptedException when this thread was interrupted (abort), in which case it has first
     * cancelled the bake on the agent and waited, bounded, for its cleanup. The provisioning logs
     * are archived whether the bake succeeded or failed (a failure is when they are read).
     */
    static BakeOutcome bake(String key, BakeOptions options, String credentialsId, String mfaToken, Run<?, ?> run,
            FilePath workspace, EnvVars env, Launcher launcher, TaskListener listener)
            throws IOException, InterruptedException {
        String problem = BakeAmiForms.problem(options);
        if (problem != null) {
            throw new AbortException("bakeAmi: " + problem);
        }
        refuseBuiltInNode(workspace);
        BakeOptions request = options.copy();
        String source = credentialsId != null ? applyCredentials(request, credentialsId, mfaToken, run, false)
                : noMfaWithoutCredentials(mfaToken);
        provenance(run, env).forEach(request::extraTag);
        PrintStream log = listener.getLogger();
        log.println("[bakeAmi] baking " + options.templatePath() + " in " + workspace.getRemote()
                + (workspace.isRemote() ? " on the agent" : " on the built-in node") + ", AWS credentials: " + source);
        log.println("[bakeAmi] the bake's log, its cleanup included, is also written on the agent to "
                + files(workspace, key).logPath());
        return report(watch(workspace, key, new BakeCallable(key, request, reattachTimeoutMs(), listener), listener),
                run, workspace, launcher, listener);
    }

    /**
     * Runs {@code callable} (a bake, or a reattach to one) and returns its outcome. When this
     * thread is interrupted (an abort) it cancels the bake by key on the agent, which also stops
     * a bake not started yet from starting, and waits, bounded, for its cleanup.
     */
    static BakeOutcome watch(FilePath workspace, String key, FilePath.FileCallable<BakeOutcome> callable,
            TaskListener listener) throws IOException, InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException("bakeAmi: aborted before the bake was sent to the agent");
        }
        try {
            return workspace.act(callable);
        } catch (InterruptedException e) {
            cancelOnAgent(workspace, key, listener);
            throw e;
        }
    }

    /**
     * The outcome as the step's result: the provisioning logs archived, the AMI of each build
     * printed as a console link, and an AbortException when the bake failed.
     */
    static BakeOutcome report(BakeOutcome out, Run<?, ?> run, FilePath workspace, Launcher launcher,
            TaskListener listener) throws IOException, InterruptedException {
        archiveLogs(run, workspace, launcher, listener, out.logs);
        printAmis(listener, out);
        if (out.succeeded()) {
            return out;
        }
        String runs = out.runs();
        throw new AbortException("bakeAmi: the bake " + (out.cancelled() ? "was cancelled" : "failed")
                + " (exit " + out.exitCode + (runs != null ? ", " + runs : "") + "): " + out.message);
    }

    /**
     * Archives the provisioning logs (workspace-relative paths, archived under the same names) as
     * ArtifactArchiver does: the build's chosen artifact manager, which copies from the workspace
     * on the agent. A failure to archive is a warning: the bake's outcome stands, and the logs
     * are still in the workspace.
     */
    static void archiveLogs(Run<?, ?> run, FilePath workspace, Launcher launcher, TaskListener listener,
            List<String> logs) throws InterruptedException {
        if (logs.isEmpty()) {
            return;
        }
        Map<String, String> files = new LinkedHashMap<>();
        Set<String> dirs = new LinkedHashSet<>();
        for (String f : logs) {
            files.put(f, f);
            dirs.add(f.substring(0, f.lastIndexOf('/') + 1));
        }
        PrintStream log = listener.getLogger();
        try {
            run.pickArtifactManager().archive(workspace, launcher, BuildListenerAdapter.wrap(listener), files);
            log.println("[bakeAmi] archived the provisioning logs as build artifacts: " + String.join(", ", dirs)
                    + " (" + files.size() + " files)");
        } catch (IOException e) {
            log.println("[bakeAmi] WARNING: the provisioning logs were not archived (" + e.getMessage()
                    + "); they are in the workspace: " + String.join(", ", dirs));
        }
    }

    /** The bake's files in the workspace, named as the agent names them (agents are Linux). */
    static BakeFiles files(FilePath workspace, String key) {
        return new BakeFiles(new File(workspace.getRemote()), key);
    }

    /**
     * On the built-in node the native bake would run inside the controller's JVM, with the
     * controller's own AWS credentials (its instance role) and file system: refused unless the
     * administrator allows it.
     */
    static void refuseBuiltInNode(FilePath workspace) throws AbortException {
        if (!workspace.isRemote() && !Boolean.getBoolean(PROP_ALLOW_BUILT_IN)) {
            throw new AbortException("bakeAmi: refusing to bake on the built-in node, where the native bake would run"
                    + " inside the Jenkins controller with its AWS credentials; run it on an agent (node('linux') { ... }),"
                    + " or start Jenkins with -D" + PROP_ALLOW_BUILT_IN + "=true to allow it");
        }
    }

    /**
     * After an interrupt remoting returns at once while the agent's bake goes on: cancel it there
     * by key and wait, bounded, for its cleanup, whose lines reach the console meanwhile. When the
     * wait is cut short (a second abort, the timeout, a dead channel) the agent still finishes
     * the cleanup, and bake.log in the workspace has it.
     */
    private static void cancelOnAgent(FilePath workspace, String key, TaskListener listener) {
        boolean interrupted = Thread.interrupted();
        long timeoutMs = cleanupTimeoutMs();
        BakeFiles f = files(workspace, key);
        PrintStream log = listener.getLogger();
        log.println("[bakeAmi] aborted: cancelling the bake on the agent and waiting up to " + timeoutMs / 1000
                + " s for its cleanup; if the build stops waiting first, the agent finishes the cleanup anyway and logs"
                + " it to " + f.logPath());
        log.flush();
        try {
            if (!workspace.act(new CancelBakeCallable(key, timeoutMs, listener))) {
                log.println("[bakeAmi] the cleanup did not end in time; it goes on on the agent (see " + f.logPath()
                        + "); if the agent stops first, run `bakeami cleanup --journal F` for each F in "
                        + f.journal.getPath().replaceFirst("\\.jsonl$", "*.jsonl") + " (one per build)");
            }
        } catch (InterruptedException e) {
            interrupted = true;
            log.println("[bakeAmi] stopped waiting: the cleanup goes on on the agent, see " + f.logPath());
        } catch (IOException | RuntimeException e) {
            log.println("[bakeAmi] could not reach the agent to cancel the bake (" + e.getMessage() + "); it cancels"
                    + " itself unless a resumed build reattaches; its log: " + f.logPath());
        } finally {
            log.flush();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    static String noMfaWithoutCredentials(String mfaToken) throws AbortException {
        if (mfaToken != null) {
            throw new AbortException("bakeAmi: mfaToken is set but credentialsId is not: the MFA code goes with an"
                    + " \"AWS Credentials\" entry whose IAM role asks for it (its MFA serial number)");
        }
        return "the agent's own chain";
    }

    /**
     * Puts the credentials of entry {@code id} in {@code request} and says where they come from
     * (for the console). An "AWS Credentials" entry with an IAM role is not resolved here: the
     * controller would assume the role once, for an hour (AWSCredentialsImpl.resolveCredentials).
     * Its base keys (none when blank: the agent's own chain, as the plugin falls back to the
     * controller's), the role ARN, external id, session length and a session name naming the
     * build go to the library, which assumes the role on the agent and renews it before it
     * expires, the bake's cleanup included; with the MFA serial, {@code mfaToken} goes too, for
     * the first AssumeRole. Other entries resolve as before (keys, maybe a session token).
     * {@code forCleanup}: for a resumed build's cleanup, which has no MFA code to give (the
     * serial is kept, and the cleanup refuses with a message). One line naming the id for each
     * way it cannot work.
     */
    static String applyCredentials(BakeOptions request, String id, String mfaToken, Run<?, ?> run, boolean forCleanup)
            throws AbortException {
        AmazonWebServicesCredentials c = find(id, run);
        if (c instanceof AWSCredentialsImpl impl && !blank(impl.getIamRoleArn())) {
            return applyRole(request, id, impl, mfaToken, run, forCleanup);
        }
        if (mfaToken != null) {
            throw new AbortException("bakeAmi: mfaToken is set but the AWS credentials '" + id + "' name no IAM role"
                    + " with an MFA serial number: leave mfaToken out, or set the role and MFA device in that entry");
        }
        String[] k = resolve(id, c);
        request.credentials(k[0], k[1], k[2]);
        return "'" + id + "'";
    }

    private static String applyRole(BakeOptions request, String id, AWSCredentialsImpl c, String mfaToken,
            Run<?, ?> run, boolean forCleanup) throws AbortException {
        String where = "bakeAmi: the AWS credentials '" + id + "'";
        String arn = c.getIamRoleArn().trim();
        if (!ROLE_ARN.matcher(arn).matches()) {
            throw new AbortException(where + ": the IAM role ARN \"" + arn + "\" is not one (like"
                    + " arn:aws:iam::123456789012:role/NAME)");
        }
        String key = c.getAccessKey().trim(), secret = c.getSecretKey().getPlainText();
        if (blank(key) != blank(secret)) {
            throw new AbortException(where + " give " + (blank(key) ? "a secret key without its access key" : "an"
                    + " access key without its secret key") + ": set both, or neither to use the agent's own chain");
        }
        int duration = c.getStsTokenDuration();
        if (duration < 900 || duration > 43200) {
            throw new AbortException(where + ": the STS token duration must be 900 to 43200 seconds, not " + duration);
        }
        String externalId = blank(c.getIamExternalId()) ? null : c.getIamExternalId().trim();
        if (externalId != null && !EXTERNAL_ID.matcher(externalId).matches()) {
            throw new AbortException(where + ": the external id must be 2 to 1224 characters of letters, digits and"
                    + " +=,.@_-:/");
        }
        String serial = blank(c.getIamMfaSerialNumber()) ? null : c.getIamMfaSerialNumber().trim();
        checkMfa(where, arn, serial, mfaToken, forCleanup);
        if (!blank(key)) {
            request.credentials(key, secret, null);
        }
        request.role(arn, externalId, sessionName(run), duration);
        request.mfa(serial, mfaToken);
        return "'" + id + "', role " + arn + " assumed on the agent (session " + sessionName(run) + ", with "
                + (blank(key) ? "the agent's own chain" : "the entry's keys") + (serial != null ? ", MFA device "
                + serial + "; an MFA session is not renewed: it lasts " + duration + " s" : ", renewed before it expires")
                + ")";
    }

    private static void checkMfa(String where, String arn, String serial, String mfaToken, boolean forCleanup)
            throws AbortException {
        if (serial == null && mfaToken != null) {
            throw new AbortException("bakeAmi: mfaToken is set but" + where.substring("bakeAmi:".length())
                    + " name no MFA serial number for role " + arn + ": leave mfaToken out, or set the MFA serial");
        }
        if (serial != null && mfaToken == null && !forCleanup) {
            throw new AbortException(where + ": role " + arn + " asks for a code from MFA device " + serial
                    + ": pass it as mfaToken (the 6 digits the device shows now)");
        }
        if (mfaToken != null && !MFA_CODE.matcher(mfaToken).matches()) {
            throw new AbortException("bakeAmi: mfaToken must be the 6 digits MFA device " + serial + " shows");
        }
    }

    /**
     * bakeami-&lt;job&gt;-&lt;build&gt;, in STS's charset ([\w+=,.@-]) and length (64): CloudTrail then
     * names the build behind every call. A long job name is cut, the build number kept.
     */
    static String sessionName(Run<?, ?> run) {
        String id = run.getExternalizableId();
        int hash = id.lastIndexOf('#');
        String job = NOT_SESSION_CHAR.matcher(hash >= 0 ? id.substring(0, hash) : id).replaceAll("-");
        String tail = "-" + run.getNumber();
        int room = 64 - "bakeami-".length() - tail.length();
        return "bakeami-" + (job.length() > room ? job.substring(0, room) : job) + tail;
    }

    /**
     * {access key, secret, session token or null}; the Jenkins "AWS Credentials" kind. Every way
     * it cannot give keys is one line naming the credentials: not found, no keys (the plugin's
     * resolveCredentials returns null for blank keys without a role), or an STS failure while
     * assuming the role (unchecked SDK exceptions).
     */
    static String[] resolveCredentials(String id, Run<?, ?> run) throws AbortException {
        return resolve(id, find(id, run));
    }

    private static AmazonWebServicesCredentials find(String id, Run<?, ?> run) throws AbortException {
        AmazonWebServicesCredentials c = CredentialsProvider.findCredentialById(id,
                AmazonWebServicesCredentials.class, run);
        if (c == null) {
            throw new AbortException("bakeAmi: no AWS credentials with id '" + id + "' (kind \"AWS Credentials\")"
                    + " are visible to this build");
        }
        return CredentialsProvider.track(run, c);
    }

    private static String[] resolve(String id, AmazonWebServicesCredentials c) throws AbortException {
        AwsCredentials k;
        try {
            k = c.resolveCredentials(); // another kind's role, if it has one, is assumed here
        } catch (RuntimeException e) {
            throw new AbortException("bakeAmi: the AWS credentials '" + id + "' could not be resolved: "
                    + oneLine(e.getMessage() != null ? e.getMessage() : e.toString()));
        }
        if (k == null || blank(k.accessKeyId()) || blank(k.secretAccessKey())) {
            throw new AbortException("bakeAmi: the AWS credentials '" + id + "' give no access key: set the access"
                    + " key and secret, or an IAM role to assume, in that credentials entry (or omit credentialsId"
                    + " to use the agent's own AWS chain)");
        }
        String token = k instanceof AwsSessionCredentials s ? s.sessionToken() : null;
        return new String[] {k.accessKeyId(), k.secretAccessKey(), blank(token) ? null : token};
    }

    private static boolean blank(String s) {
        return s == null || s.trim().isEmpty();
    }

    private static String oneLine(String s) {
        return s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
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

    /** The AMI of each build that kept one, as a link; with several builds, after the build's name. */
    private static void printAmis(TaskListener listener, BakeOutcome out) throws IOException {
        if (out.builds.size() <= 1) {
            if (out.ami != null) {
                printAmi(listener, "", out.ami, out.region, out.runId);
            } else if (out.succeeded()) {
                listener.getLogger().println("[bakeAmi] the bake succeeded and kept no AMI (run " + out.runId + ")");
            }
            return;
        }
        for (Bake.Build b : out.builds) {
            if (b.ami() != null) {
                printAmi(listener, b.name() + ": ", b.ami(), b.region(), b.runId());
            } else {
                listener.getLogger().println("[bakeAmi] " + b.name() + ": "
                        + (b.succeeded() ? "kept no AMI" : "failed") + " (run " + b.runId() + ")");
            }
        }
    }

    private static void printAmi(TaskListener listener, String build, String ami, String region, String runId)
            throws IOException {
        PrintStream log = listener.getLogger();
        log.print("[bakeAmi] " + build + "AMI ");
        if (region != null) {
            listener.hyperlink(consoleUrl(region, ami), ami);
            log.println(" in " + region + " (run " + runId + ")");
        } else {
            log.println(ami + " (run " + runId + ")");
        }
        log.flush();
    }
}
