package io.bakeami.jenkins;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl;
import com.cloudbees.plugins.credentials.CredentialsProvider;
import com.cloudbees.plugins.credentials.CredentialsScope;
import hudson.EnvVars;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.Run;
import hudson.model.TaskListener;
import io.bakeami.test.fakes.CapturingListener;
import io.bakeami.test.fakes.CapturingListener.Line;
import io.bakeami.test.fakes.FakeAgentChannel;
import io.bakeami.test.fakes.FakeRun;
import io.bakeami.test.fakes.FakeStepContext;
import io.bakeami.test.fakes.StandInAwsCredentials;
import io.bakeami.test.fakes.Workspaces;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jenkinsci.plugins.workflow.steps.FlowInterruptedException;
import org.jenkinsci.plugins.workflow.steps.StepExecution;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;

/**
 * The real step execution, builder and callables, through JNI into the real library, against
 * the e2e lab (moto + sshd). Run by tests/e2e/test_jenkins_shim.py, which starts the lab, passes
 * its environment and -Dbakeami.test.sshPort, and checks moto afterwards (each test prints
 * AMI=... and TAG k=v lines for that).
 */
public class E2eTest {
    private static final Pattern AMI = Pattern.compile("ami-[0-9a-f]+");
    private static final long STEP_TIMEOUT_S = 150;

    private String sshPort;
    private Path ws;
    private boolean ownWorkspace;
    private CapturingListener listener;
    private FakeRun run;
    private EnvVars env;

    @Before
    public void setUp() throws Exception {
        sshPort = System.getProperty("bakeami.test.sshPort");
        // Run by tests/e2e/test_jenkins_shim.py, which starts the lab and sets these.
        assertNotNull("bakeami.test.sshPort is not set: run through test_jenkins_shim.py", sshPort);
        // A workspace the Python side keeps between two runs (a Jenkins job's), else a fresh copy.
        String kept = System.getProperty("bakeami.test.workspace");
        ownWorkspace = kept == null;
        ws = ownWorkspace ? Workspaces.withE2eTemplates() : Path.of(kept);
        listener = new CapturingListener(true);
        run = new FakeRun();
        env = new EnvVars();
        env.put("BUILD_URL", "http://jenkins.example/job/bakeami-e2e/7/");
        env.put("BUILD_NUMBER", "7");
        env.put("GIT_COMMIT", "0123456789abcdef0123456789abcdef01234567");
    }

    @After
    public void tearDown() {
        CredentialsProvider.standInStore.clear();
        AWSCredentialsImpl.standInAssumeRoleCalls.set(0);
        if (ownWorkspace) {
            Workspaces.delete(ws);
        }
    }

    private Map<String, String> labVars(String... more) {
        Map<String, String> vars = new LinkedHashMap<>();
        vars.put("ssh_host", System.getProperty("bakeami.test.sshHost", "127.0.0.1"));
        vars.put("ssh_port", sshPort);
        for (int i = 0; i + 1 < more.length; i += 2) {
            vars.put(more[i], more[i + 1]);
        }
        return vars;
    }

    private FakeStepContext context(FilePath workspace) {
        return new FakeStepContext()
                .with(Run.class, run)
                .with(FilePath.class, workspace)
                .with(EnvVars.class, env)
                .with(TaskListener.class, listener)
                .with(Launcher.class, new Launcher(listener, workspace.getChannel()) {});
    }

    private void printTags() {
        for (String t : BakeAmiRunner.provenance(run, env)) {
            System.out.println("TAG " + t);
        }
    }

    private void assertLiveAndInOrder() {
        Line first = listener.first("first-line");
        Line second = listener.first("second-line");
        assertNotNull(listener.text(), first);
        assertNotNull(listener.text(), second);
        double gap = (second.nanos() - first.nanos()) / 1e9;
        System.out.printf("first-line -> second-line: %.2f s apart on the console%n", gap);
        assertTrue("lines were not live: " + gap + " s apart", gap >= 0.8);
    }

    /** bakeAmi in a Pipeline: credentials from an "AWS Credentials" entry with a session token. */
    @Test
    public void pipelineStepBakesWithCredentials() throws Exception {
        String accessKey = System.getProperty("bakeami.test.accessKey");
        String secret = System.getProperty("bakeami.test.secretKey");
        String token = System.getProperty("bakeami.test.sessionToken");
        assertNotNull("bakeami.test.accessKey is not set", accessKey);
        assertNotNull("bakeami.test.secretKey is not set", secret);
        assertNotNull("bakeami.test.sessionToken is not set", token);
        CredentialsProvider.standInStore.add(new StandInAwsCredentials("aws-bake",
                software.amazon.awssdk.auth.credentials.AwsSessionCredentials.create(accessKey, secret, token)));

        BakeAmiStep step = new BakeAmiStep("bake.json");
        step.setVars(labVars());
        step.setCredentialsId("aws-bake");
        step.setRegion("us-east-1");
        step.setManifest("out/manifest.json");
        FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
        StepExecution exec = step.start(ctx);
        assertFalse("the step must not block the CPS thread", exec.start());
        String ami = (String) ctx.await(STEP_TIMEOUT_S);

        assertTrue(ami, AMI.matcher(ami).matches());
        System.out.println("AMI=" + ami);
        printTags();
        assertLiveAndInOrder();
        String log = listener.text();
        assertFalse("the secret key reached the log", log.contains(secret));
        assertFalse("the session token reached the log", log.contains(token));
        List<CapturingListener.Link> links = listener.links();
        assertEquals(1, links.size());
        assertEquals("https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#ImageDetails:imageId=" + ami,
                links.get(0).url());
        assertEquals(ami, links.get(0).text());
        assertTrue(log, log.contains("[bakeAmi] AMI " + ami + " in us-east-1"));
        assertTrue(Files.readString(ws.resolve("out/manifest.json")).contains(ami));
        try (Stream<Path> s = Files.list(ws.resolve(".bakeami/journal"))) {
            assertEquals("the journal is in the workspace", 1, s.count());
        }
        assertEquals(1, ctx.completions());
        String runId = runIdOf(log, "[bakeAmi] AMI " + ami);
        Map<String, String> logs = assertArchivedLogsAreTheWholeLogs(runId, null,
                List.of("00-shell.log", "01-file.log", AgentBakes.Running.CONSOLE_LOG));
        List<String> shell = List.of(logs.get("00-shell.log").split("\n"));
        for (String printed : List.of("first-line", "second-line", "to-stderr", "the word is <sensitive>")) {
            assertTrue(printed + " is not in the archived shell log: " + shell, shell.contains(printed));
        }
        assertTrue(log, log.contains("[bakeAmi] archived the provisioning logs as build artifacts: bakeami-logs/"
                + runId + "/ (3 files)"));
    }

    /** The run id on the console line that starts with {@code prefix}: "... (run bk-...)". */
    private static String runIdOf(String log, String prefix) {
        for (String line : log.split("\n")) {
            if (line.startsWith(prefix) && line.contains("(run ")) {
                return line.substring(line.indexOf("(run ") + 5, line.indexOf(')', line.indexOf("(run ")));
            }
        }
        throw new AssertionError("no '" + prefix + " ... (run ...)' line:\n" + log);
    }

    /**
     * The build's artifacts hold the run's provisioning logs, bakeami-logs/RUN/NN-type.log, byte
     * for byte as the agent wrote them, through the build's listener; and every provisioner line
     * the console showed ("    | x", "    ! x"; of build {@code build} when several ran, else
     * null) is in them. names: the files expected (null: whatever the folder holds). Returns
     * file name -> text.
     */
    private Map<String, String> assertArchivedLogsAreTheWholeLogs(String runId, String build, List<String> names)
            throws Exception {
        Map<String, byte[]> archived = run.artifacts().archived();
        List<String> onDisk;
        try (Stream<Path> files = Files.list(ws.resolve("bakeami-logs/" + runId))) {
            onDisk = files.map(f -> f.getFileName().toString()).sorted().toList();
        }
        if (names != null) {
            assertEquals(names, onDisk);
        }
        assertEquals("archived: " + archived.keySet(), onDisk, archived.keySet().stream()
                .filter(k -> k.startsWith("bakeami-logs/" + runId + "/")).map(k -> k.substring(k.lastIndexOf('/') + 1))
                .toList());
        Map<String, String> texts = new LinkedHashMap<>();
        StringBuilder all = new StringBuilder();
        for (String n : onDisk) {
            String name = "bakeami-logs/" + runId + "/" + n;
            byte[] got = archived.get(name);
            assertNotNull(name + " was not archived: " + archived.keySet(), got);
            assertTrue(name, java.util.Arrays.equals(Files.readAllBytes(ws.resolve(name)), got));
            String text = new String(got, java.nio.charset.StandardCharsets.UTF_8);
            texts.put(n, text);
            all.append(text);
        }
        List<String> inLogs = List.of(all.toString().split("\n"));
        // A provisioner's line on the console: "    | x" ("    ! x" stderr), "    web: | x" of build web.
        Pattern output = Pattern.compile("^    " + (build == null ? "" : Pattern.quote(build + ": ")) + "[|!] (.*)$");
        for (Line l : listener.lines()) {
            java.util.regex.Matcher m = output.matcher(l.text());
            if (m.matches()) {
                assertTrue("the console showed '" + m.group(1) + "', the archived logs lack it",
                        inLogs.contains(m.group(1)));
            }
        }
        assertSame(listener.getLogger(), run.artifacts().listener().getLogger());
        return texts;
    }

    /**
     * One bake of -Dbakeami.test.template in the kept workspace, through the step or the builder
     * (-Dbakeami.test.via), with reuse true, false or not given (-Dbakeami.test.reuse); prints
     * AMI=. test_jenkins_shim.py runs it twice and counts the calls at the lab's proxy between.
     */
    @Test
    public void bakeWithReuse() throws Exception {
        String template = System.getProperty("bakeami.test.template");
        String reuse = System.getProperty("bakeami.test.reuse", "unset");
        assertNotNull("bakeami.test.template is not set", template);
        String ami;
        if ("builder".equals(System.getProperty("bakeami.test.via"))) {
            BakeAmiBuilder b = new BakeAmiBuilder(template);
            b.setVars("ssh_host=127.0.0.1\nssh_port=" + sshPort);
            b.setReuse(reuse.equals("unset") ? "" : reuse);
            FilePath workspace = new FilePath(new FakeAgentChannel(), ws.toString());
            b.perform(run, workspace, env, new Launcher(listener, workspace.getChannel()) {}, listener);
            ami = run.getEnvironment(listener).get("BAKEAMI_AMI_ID");
        } else {
            BakeAmiStep step = new BakeAmiStep(template);
            step.setVars(labVars());
            step.setReuse(reuse.equals("unset") ? null : Boolean.valueOf(reuse));
            FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
            step.start(ctx).start();
            ami = (String) ctx.await(STEP_TIMEOUT_S);
        }
        assertTrue(String.valueOf(ami), ami != null && AMI.matcher(ami).matches());
        System.out.println("AMI=" + ami);
    }

    /**
     * Two builders: the step bakes both in parallel and returns a map of build name to AMI; each
     * build's console lines carry its name, as the CLI prints them; resultFile gets the combined
     * result; each build's provisioning logs are archived. Then the builder with only=web bakes
     * one build: BAKEAMI_AMI_ID as for a one-builder template. Prints MAP name=ami and AMI=.
     */
    @Test
    @SuppressWarnings("unchecked")
    public void twoBuildsReturnAMapAndOnlyPicksOne() throws Exception {
        BakeAmiStep step = new BakeAmiStep("two_builds.json");
        step.setVars(labVars("sleep", "2"));
        step.setResultFile("out/result.json");
        FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
        step.start(ctx).start();
        Map<String, String> amis = (Map<String, String>) ctx.await(STEP_TIMEOUT_S);
        assertEquals(List.of("amazon-ebs", "web"), List.copyOf(amis.keySet()));
        amis.forEach((name, ami) -> System.out.println("MAP " + name + "=" + ami));
        String log = listener.text();
        String result = Files.readString(ws.resolve("out/result.json"));
        assertTrue(result, result.startsWith("{\"builds\":[") && result.endsWith("],\"status\":\"succeeded\"}"));
        for (Map.Entry<String, String> e : amis.entrySet()) {
            String name = e.getKey();
            assertTrue(e.getValue(), AMI.matcher(e.getValue()).matches());
            assertTrue(log, log.contains("==> " + name + ": ") && log.contains("    " + name + ": | tick-1-" + name));
            assertTrue(result, result.contains("\"name\":\"" + name + "\"") && result.contains("\"ami\":\"" + e.getValue()));
            String runId = runIdOf(log, "[bakeAmi] " + name + ": AMI " + e.getValue());
            String shell = assertArchivedLogsAreTheWholeLogs(runId, name, null)
                    .get("00-shell.log");
            assertTrue(shell, shell.contains("tick-1-" + name) && shell.contains("tick-2-" + name));
        }
        assertEquals(2, listener.links().size());
        // interleaved: the other build printed between one's two ticks
        List<String> ticks = listener.lines().stream().map(Line::text).filter(t -> t.contains("| tick-"))
                .map(t -> t.trim().split(":")[0]).toList();
        assertNotEquals("the builds did not run at the same time: " + ticks, ticks.stream().sorted().toList(), ticks);

        BakeAmiBuilder b = new BakeAmiBuilder("two_builds.json");
        b.setVars("ssh_host=127.0.0.1\nssh_port=" + sshPort);
        b.setOnly("web");
        FilePath workspace = new FilePath(new FakeAgentChannel(), ws.toString());
        CapturingListener second = new CapturingListener(true);
        b.perform(run, workspace, env, new Launcher(second, workspace.getChannel()) {}, second);
        String ami = run.getEnvironment(second).get("BAKEAMI_AMI_ID");
        assertTrue(String.valueOf(ami), ami != null && AMI.matcher(ami).matches());
        assertFalse(amis.containsValue(ami));
        assertTrue(second.text(), second.text().contains("    | only-for-web")
                && !second.text().contains("==> web: ") && !second.text().contains("    web: "));
        System.out.println("AMI=" + ami);
    }

    /** only/except that leave no build fail the step with what it was given, before any AWS call. */
    @Test
    public void onlyNamingNoBuildFailsTheStep() throws Exception {
        BakeAmiStep step = new BakeAmiStep("two_builds.json");
        step.setVars(labVars());
        step.setOnly(List.of("we*"));
        assertEquals("bakeAmi: the bake failed (exit 2): only [we*] / except [] leave no build of two_builds.json"
                + " to bake (a build's name is its builder's \"name\", else its type)", failureOf(step).getMessage());
    }

    /** Runs the step to its end in the workspace; returns why it failed (it must fail). */
    private Throwable failureOf(BakeAmiStep step) throws Exception {
        FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
        step.start(ctx).start();
        try {
            throw new AssertionError("the step succeeded: " + ctx.await(STEP_TIMEOUT_S));
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }

    /** A failed bake's logs are archived too (that is when they are read), up to the error. */
    @Test
    public void aFailedBakeArchivesItsLogs() throws Exception {
        BakeAmiStep step = new BakeAmiStep("bake.json");
        step.setVars(labVars("fail_status", "3"));
        Throwable failed = failureOf(step);
        assertTrue(String.valueOf(failed), failed instanceof hudson.AbortException);
        assertTrue(failed.getMessage(), failed.getMessage().contains("status 3"));
        String runId = runIdOf(listener.text(), "==> summary:");
        Map<String, String> logs = assertArchivedLogsAreTheWholeLogs(runId, null,
                List.of("00-shell.log", AgentBakes.Running.CONSOLE_LOG));
        assertEquals("the file provisioner never ran", 2, run.artifacts().archived().size());
        String[] shell = logs.get("00-shell.log").split("\n");
        assertTrue(shell[shell.length - 1], shell[shell.length - 1].startsWith("ERROR: provisioners[0] (shell)")
                && shell[shell.length - 1].contains("status 3"));
    }

    /**
     * Abort with the workspace on an "agent" (remoting semantics: the interrupted call returns at
     * once, the agent thread is interrupted): stop() returns at once, the agent cancels the
     * bake, and the step fails with the stop cause only after the cleanup lines were logged.
     */
    @Test
    public void pipelineAbortLogsCleanupBeforeFailing() throws Exception {
        BakeAmiStep step = new BakeAmiStep("bake.json");
        step.setVars(labVars("sleep", "30"));
        FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
        StepExecution exec = step.start(ctx);
        assertFalse(exec.start());
        assertNotNull("the provisioner never started:\n" + listener.text(), listener.await("second-line", 90_000));

        FlowInterruptedException cause = new FlowInterruptedException("aborted by the test");
        long t0 = System.nanoTime();
        exec.stop(cause);
        assertTrue("stop() blocked", (System.nanoTime() - t0) / 1e9 < 2);
        try {
            ctx.await(STEP_TIMEOUT_S);
            fail("the aborted step succeeded");
        } catch (ExecutionException e) {
            assertSame(cause, e.getCause());
        }
        double stopToFail = (ctx.completedNanos() - t0) / 1e9;
        System.out.printf("stop() -> onFailure: %.2f s%n", stopToFail);
        Line deleted = listener.first("deleted instance");
        assertNotNull("no cleanup in the log:\n" + listener.text(), deleted);
        for (Line l : listener.lines()) {
            assertTrue("logged after the step failed: " + l.text(), l.nanos() <= ctx.completedNanos());
        }
        assertTrue(listener.text(), deleted.nanos() < ctx.completedNanos());
        assertTrue("waited for the provisioner's sleep", stopToFail < 25);
        assertFalse(listener.text(), listener.text().contains("[bakeAmi] AMI"));
        assertEquals(1, ctx.completions());
    }

    /**
     * Events from the library's own threads (promotion copies each region on a thread of its
     * own): they reach the listener, one thread is attached to the JVM once for all its events
     * (the same Thread object delivers "copying" and "available"), as a daemon, and it is
     * detached when it exits (not alive once run() returned, the library having joined it).
     */
    @Test
    public void libraryThreadsDeliverEventsAttachedOnce() throws Exception {
        List<Object[]> events = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        io.bakeami.nativelib.BakeOptions o = new io.bakeami.nativelib.BakeOptions()
                .template(ws.resolve("promote.json").toString())
                .journal(ws.resolve(".bakeami/journal/threads.jsonl").toString());
        labVars().forEach(o::var);
        Thread runner = Thread.currentThread();
        try (io.bakeami.nativelib.Bake bake = io.bakeami.nativelib.Bake.create(o,
                e -> events.add(new Object[] {Thread.currentThread(), e.line()}))) {
            bake.run();
            System.out.println("AMI=" + bake.ami());
            assertEquals("us-east-1", bake.region());
            assertNotNull(bake.ami("us-west-2"));
        }
        Map<Thread, List<String>> byThread = new LinkedHashMap<>();
        synchronized (events) {
            for (Object[] e : events) {
                byThread.computeIfAbsent((Thread) e[0], t -> new java.util.ArrayList<>()).add((String) e[1]);
            }
        }
        byThread.remove(runner);
        System.out.println("events by library threads: " + byThread);
        assertEquals("one copy thread (us-west-2): " + byThread, 1, byThread.size());
        Map.Entry<Thread, List<String>> copy = byThread.entrySet().iterator().next();
        Thread t = copy.getKey();
        String lines = String.join("\n", copy.getValue());
        assertTrue(lines, lines.contains("copying ") && lines.contains(" available in us-west-2"));
        assertEquals("bakeami library thread", t.getName());
        assertTrue(t.getName() + " is not a daemon", t.isDaemon());
        assertFalse(t.getName() + " is still attached after its thread ended", t.isAlive());
    }

    private static String prop(String name) {
        String v = System.getProperty(name);
        assertNotNull(name + " is not set", v);
        return v;
    }

    /**
     * The "AWS Credentials" entry of the lab's role: the base keys (-Dbakeami.test.accessKey,
     * secretKey), -Dbakeami.test.roleArn, external id "e2e-external", a 900 s token duration, and
     * with -Dbakeami.test.mfaSerial an MFA device; registered as "aws-role".
     */
    private static void roleEntry() {
        AWSCredentialsImpl c = new AWSCredentialsImpl(CredentialsScope.GLOBAL, "aws-role",
                prop("bakeami.test.accessKey"), prop("bakeami.test.secretKey"), "e2e role",
                prop("bakeami.test.roleArn"), System.getProperty("bakeami.test.mfaSerial"), "e2e-external");
        c.setStsTokenDuration(900);
        CredentialsProvider.standInStore.add(c);
    }

    /**
     * Issue 13: bakeAmi with an entry that assumes a role. The controller assumes nothing (the
     * stand-in counts what AWSCredentialsImpl would have assumed): the library does, on the agent,
     * with the entry's keys, and renews the session (the lab's STS issues short ones) through
     * the bake and its cleanup. With an MFA device (-Dbakeami.test.mfaCode) the code goes with
     * the first AssumeRole. -Dbakeami.test.template: the template (default bake.json).
     */
    @Test
    public void aRoleEntryIsAssumedByTheLibraryOnTheAgent() throws Exception {
        roleEntry();
        BakeAmiStep step = new BakeAmiStep(System.getProperty("bakeami.test.template", "bake.json"));
        step.setVars(labVars());
        step.setCredentialsId("aws-role");
        step.setMfaToken(System.getProperty("bakeami.test.mfaCode"));
        step.setRegion("us-east-1");
        FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
        StepExecution exec = step.start(ctx);
        assertFalse(exec.start());
        Object value = ctx.await(240);
        String ami = (String) value;
        assertTrue(ami, AMI.matcher(ami).matches());
        System.out.println("AMI=" + ami);
        printTags();
        assertEquals("the controller assumed the role", 0, AWSCredentialsImpl.standInAssumeRoleCalls.get());
        String log = listener.text();
        assertTrue(log, log.contains("AWS credentials: 'aws-role', role " + prop("bakeami.test.roleArn")
                + " assumed on the agent (session bakeami-bakeami-e2e-7, with the entry's keys"));
        assertTrue(log, log.contains("AWS credentials from assume-role " + prop("bakeami.test.roleArn")));
        assertFalse(log.contains(prop("bakeami.test.secretKey")));
        String code = System.getProperty("bakeami.test.mfaCode");
        assertTrue(code == null || !log.contains(code));
    }

    /**
     * An MFA role whose session (the lab's STS: a short one) ends mid-bake: nothing can renew it
     * (STS takes a code once), so the library warns at its renewal time, then fails the bake, and
     * its cleanup, saying why; the journal stays in the workspace for `bakeami cleanup --journal`.
     */
    @Test
    public void anMfaSessionThatEndsMidBakeFailsTheStepSayingSo() throws Exception {
        roleEntry();
        BakeAmiStep step = new BakeAmiStep("bake.json");
        step.setVars(labVars());
        step.setCredentialsId("aws-role");
        step.setMfaToken(prop("bakeami.test.mfaCode"));
        step.setRegion("us-east-1");
        FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
        StepExecution exec = step.start(ctx);
        assertFalse(exec.start());
        try {
            ctx.await(STEP_TIMEOUT_S);
            fail("the bake outlived its MFA session:\n" + listener.text());
        } catch (ExecutionException e) {
            String m = e.getCause().getMessage();
            System.out.println("STEP FAILED: " + m);
            assertTrue(m, m.startsWith("bakeAmi: the bake failed (exit 1"));
        }
        String log = listener.text();
        assertTrue(log, log.contains("(MFA device " + prop("bakeami.test.mfaSerial") + ") expires at "));
        assertTrue(log, log.contains("cannot be renewed without a new MFA code"));
        assertTrue(log, log.contains("a session bought with an MFA code cannot be renewed"));
        assertFalse(log.contains(prop("bakeami.test.mfaCode")));
        assertEquals(0, AWSCredentialsImpl.standInAssumeRoleCalls.get());
    }

    /** The freestyle builder: the AMI reaches later steps as BAKEAMI_AMI_ID. */
    @Test
    public void freestyleBuilderExportsTheAmi() throws Exception {
        BakeAmiBuilder b = new BakeAmiBuilder("bake.json");
        env.put("LAB_SSH_PORT", sshPort);
        b.setVars("ssh_host=127.0.0.1\nssh_port=${LAB_SSH_PORT}");
        FilePath workspace = new FilePath(new FakeAgentChannel(), ws.toString());
        b.perform(run, workspace, env, new Launcher(listener, workspace.getChannel()) {}, listener);
        String ami = run.getEnvironment(listener).get("BAKEAMI_AMI_ID");
        assertNotNull(ami);
        assertTrue(ami, AMI.matcher(ami).matches());
        System.out.println("AMI=" + ami);
        printTags();
        assertLiveAndInOrder();
        assertEquals(ami, listener.links().get(0).text());
    }

    /**
     * An interrupt of the thread running the callable: what a freestyle abort (Executor.interrupt)
     * does on the built-in node (allowed here by its system property). It cancels the bake; the
     * cleanup is logged before the InterruptedException comes out.
     */
    @Test
    public void interruptingTheBakeCancelsAndCleansUp() throws Exception {
        System.setProperty(BakeAmiRunner.PROP_ALLOW_BUILT_IN, "true");
        BakeAmiBuilder b = new BakeAmiBuilder("bake.json");
        b.setVars("ssh_host=127.0.0.1\nssh_port=" + sshPort + "\nsleep=30");
        FilePath workspace = new FilePath(ws.toFile());
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        long[] endedNanos = {0};
        Thread builder = new Thread(() -> {
            try {
                b.perform(run, workspace, env, new Launcher(listener, workspace.getChannel()) {}, listener);
            } catch (Throwable t) {
                thrown.set(t);
            } finally {
                endedNanos[0] = System.nanoTime();
            }
        }, "executor");
        builder.start();
        assertNotNull("the provisioner never started:\n" + listener.text(), listener.await("second-line", 90_000));
        builder.interrupt();
        builder.join(STEP_TIMEOUT_S * 1000);
        assertFalse("perform() did not return", builder.isAlive());
        assertTrue(String.valueOf(thrown.get()), thrown.get() instanceof InterruptedException);
        Line deleted = listener.first("deleted instance");
        assertNotNull("no cleanup in the log:\n" + listener.text(), deleted);
        assertTrue(deleted.nanos() < endedNanos[0]);
        assertTrue(run.getActions(BakeAmiAction.class).isEmpty());
        assertTrue(new File(ws.toFile(), ".bakeami/journal").isDirectory());
        System.clearProperty(BakeAmiRunner.PROP_ALLOW_BUILT_IN);
    }

    /** The one bake's log in the workspace (.bakeami/jenkins-KEY/bake.log). */
    private Path theBakeLog() throws Exception {
        try (Stream<Path> s = Files.list(ws.resolve(".bakeami"))) {
            List<Path> dirs = s.filter(p -> p.getFileName().toString().startsWith("jenkins-")).toList();
            assertEquals(dirs.toString(), 1, dirs.size());
            return dirs.get(0).resolve("bake.log");
        }
    }

    /** Waits (bounded) until the agent recorded how the bake ended: it owns the bake to its end. */
    private BakeOutcome awaitOutcome(Path bakeLog) throws Exception {
        String key = bakeLog.getParent().getFileName().toString().substring("jenkins-".length());
        BakeFiles files = new BakeFiles(ws.toFile(), key);
        long deadline = System.currentTimeMillis() + STEP_TIMEOUT_S * 1000;
        while (files.readOutcome() == null || files.isRunning()) {
            assertTrue("the agent never finished the bake:\n" + Files.readString(bakeLog),
                    System.currentTimeMillis() < deadline);
            Thread.sleep(200);
        }
        return files.readOutcome();
    }

    private static void awaitInFile(Path f, String s) throws Exception {
        long deadline = System.currentTimeMillis() + STEP_TIMEOUT_S * 1000;
        while (!Files.exists(f) || !Files.readString(f).contains(s)) {
            assertTrue("no '" + s + "' in " + f, System.currentTimeMillis() < deadline);
            Thread.sleep(100);
        }
    }

    /** A bakeAmi step started in ctx, once its provisioner runs (for 30 s: time to abort it). */
    private StepExecution provisioning(FakeStepContext ctx) throws Exception {
        BakeAmiStep step = new BakeAmiStep("bake.json");
        step.setVars(labVars("sleep", "30"));
        StepExecution exec = step.start(ctx);
        assertFalse(exec.start());
        assertNotNull("the provisioner never started:\n" + listener.text(), listener.await("second-line", 90_000));
        return exec;
    }

    /**
     * timeout {} and "forcibly terminate": Pipeline stops the step, then fails it without waiting
     * for its cleanup; the build's log closes, and at last the controller's wait is cut off too
     * (the channel closes). The agent still finishes the cleanup, and bake.log in the workspace,
     * which the console named before the abort, has every cleanup line.
     */
    @Test
    public void pipelineStepFailedEarlyStillCleansUpOnTheAgent() throws Exception {
        FakeAgentChannel agent = new FakeAgentChannel();
        FakeStepContext ctx = context(new FilePath(agent, ws.toString()));
        StepExecution exec = provisioning(ctx);
        Path bakeLog = theBakeLog();
        assertNotNull("the console does not say where the bake's log is", listener.first(bakeLog.toString()));

        exec.stop(new FlowInterruptedException("Timeout has been exceeded"));
        FlowInterruptedException forced = new FlowInterruptedException("forcibly terminated");
        ctx.onFailure(forced); // Pipeline does not wait for the step's cleanup
        listener.close();      // the build ended: its log is closed
        awaitInFile(bakeLog, "deleted instance");
        agent.terminate();     // and nothing on the controller waits any more
        BakeOutcome ended = awaitOutcome(bakeLog);

        assertTrue(ended.message, ended.cancelled());
        String log = Files.readString(bakeLog);
        System.out.println("bake.log:\n" + log);
        assertTrue(log, log.contains("deleted instance"));
        assertTrue(log, log.contains("second-line"));
        // ...and a copy next to the provisioning logs, which are archived with the build
        assertEquals(log, Files.readString(ws.resolve(BakeCallable.LOG_DIR + "/" + ended.runId + "/"
                + AgentBakes.Running.CONSOLE_LOG)));
        try {
            ctx.await(1);
            fail("the step succeeded");
        } catch (ExecutionException e) {
            assertSame(forced, e.getCause());
        }
    }

    /**
     * step(bakeAmiBuilder(...)) in a Pipeline: CoreStep fails the step the moment it is stopped.
     * The agent finishes the cleanup anyway and bake.log has it.
     */
    @Test
    public void freestyleBuilderThroughCoreStepCleansUpAfterFailingAtOnce() throws Exception {
        BakeAmiBuilder b = new BakeAmiBuilder("bake.json");
        b.setVars("ssh_host=127.0.0.1\nssh_port=" + sshPort + "\nsleep=30");
        FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
        io.bakeami.test.fakes.FakeCoreStep core = new io.bakeami.test.fakes.FakeCoreStep(ctx);
        core.start(b);
        assertNotNull("the provisioner never started:\n" + listener.text(), listener.await("second-line", 90_000));
        Path bakeLog = theBakeLog();
        assertNotNull("the console does not say where the bake's log is", listener.first(bakeLog.toString()));
        FlowInterruptedException cause = new FlowInterruptedException("aborted by the test");
        core.stop(cause);
        try {
            ctx.await(0);
            fail("CoreStep's step did not fail at once");
        } catch (ExecutionException e) {
            assertSame(cause, e.getCause());
        }
        listener.close();
        BakeOutcome ended = awaitOutcome(bakeLog);
        assertTrue(ended.message, ended.cancelled());
        String log = Files.readString(bakeLog);
        System.out.println("bake.log:\n" + log);
        assertTrue(log, log.contains("deleted instance"));
        assertTrue(run.getActions(BakeAmiAction.class).isEmpty());
    }

    private static byte[] serialize(Object o) throws Exception {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        return bytes.toByteArray();
    }

    private static Object deserialize(byte[] b) throws Exception {
        try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(b))) {
            return in.readObject();
        }
    }

    /** The step's context in a fresh controller: a new channel to the agent, a new log. */
    private FakeStepContext resumedContext(FakeStepContext before, CapturingListener log) {
        return FakeStepContext.resumed(before)
                .with(Run.class, run)
                .with(FilePath.class, new FilePath(new FakeAgentChannel(), ws.toString()))
                .with(EnvVars.class, env)
                .with(TaskListener.class, log);
    }

    /**
     * A controller restart mid-bake: the step execution is saved (Java serialization, as
     * Pipeline saves the program), the channel closes, and a fresh controller reads the
     * execution back, with a new channel to the agent and a new log, and resumes it.
     * {@code waitForTheEnd}: the bake ends while the controller is away.
     */
    private void restartDuringTheBake(boolean waitForTheEnd) throws Exception {
        BakeAmiStep step = new BakeAmiStep("bake.json");
        step.setVars(labVars("sleep", waitForTheEnd ? "0" : "12"));
        step.setRegion("us-east-1");
        FakeAgentChannel before = new FakeAgentChannel();
        FakeStepContext ctx = context(new FilePath(before, ws.toString()));
        StepExecution exec = step.start(ctx);
        assertFalse(exec.start());
        assertNotNull("the provisioner never started:\n" + listener.text(), listener.await("first-line", 90_000));
        byte[] program = serialize(exec);
        before.terminate(); // Jenkins goes down: the channel closes, and the build's old log with it
        listener.close();
        Path bakeLog = theBakeLog();
        if (waitForTheEnd) {
            assertTrue(awaitOutcome(bakeLog).succeeded());
        }

        CapturingListener after = new CapturingListener(true);
        FakeStepContext resumedCtx = resumedContext(ctx, after);
        FakeAgentChannel notYet = new FakeAgentChannel();
        notYet.terminate();
        if (!waitForTheEnd) { // the agent reconnects after the program resumed
            resumedCtx.with(FilePath.class, new FilePath(notYet, ws.toString()));
        }
        StepExecution resumed = (StepExecution) deserialize(program);
        assertSame(resumedCtx, resumed.getContext());
        resumed.onResume();
        if (!waitForTheEnd) {
            assertNotNull(after.text(), after.await("the agent is not reachable yet", 30_000));
            resumedCtx.with(FilePath.class, new FilePath(new FakeAgentChannel(), ws.toString()));
        }
        String ami = (String) resumedCtx.await(STEP_TIMEOUT_S);

        assertTrue(ami, AMI.matcher(ami).matches());
        System.out.println("AMI=" + ami);
        printTags();
        String log = after.text();
        assertTrue(log, log.contains(waitForTheEnd ? "the bake ended while Jenkins was away"
                : "reattached to the bake, still running on the agent"));
        assertTrue("the lines after the restart did not reach the new log:\n" + log, log.contains("summary"));
        assertEquals(ami, after.links().get(0).text());
        assertTrue(log, log.contains("[bakeAmi] AMI " + ami + " in us-east-1"));
        assertEquals(1, resumedCtx.completions());
    }

    @Test
    public void aRestartReattachesToTheRunningBake() throws Exception {
        restartDuringTheBake(false);
    }

    @Test
    public void aRestartAfterTheBakeEndedReportsItsOutcome() throws Exception {
        restartDuringTheBake(true);
    }

    /**
     * A restart after which the agent has lost the bake too (its JVM died: here a real bake
     * process, SIGKILLed mid-provisioning, that wrote the step's journal): the resumed step
     * cleans up from the journal on the agent and fails with what that removed.
     */
    @Test
    public void aRestartAfterTheAgentLostTheBakeCleansUpFromItsJournal() throws Exception {
        roleEntry(); // the agent has no AWS credentials: the cleanup signs with the entry's, as the bake did
        BakeAmiStep step = new BakeAmiStep("bake.json");
        step.setCredentialsId("aws-role");
        FakeStepContext ctx = context(new FilePath(new FakeAgentChannel(), ws.toString()));
        BakeAmiStepExecution exec = (BakeAmiStepExecution) step.start(ctx);
        byte[] program = serialize(exec); // saved before it began; the bake below stands for it
        BakeFiles files = new BakeFiles(ws.toFile(), exec.key());
        ProcessBuilder pb = new ProcessBuilder(Workspaces.repo().resolve("build/bakeami").toString(), "bake",
                "-var", "ssh_host=127.0.0.1", "-var", "ssh_port=" + sshPort, "-var", "sleep=30",
                "--assume-role", prop("bakeami.test.roleArn"), "--role-session-name", "the-lost-bake",
                "--journal", files.journal.getPath(), "bake.json");
        pb.environment().put("AWS_ACCESS_KEY_ID", prop("bakeami.test.accessKey"));
        pb.environment().put("AWS_SECRET_ACCESS_KEY", prop("bakeami.test.secretKey"));
        Process bake = pb.directory(ws.toFile()).redirectErrorStream(true).start();
        StringBuilder seen = new StringBuilder();
        try (java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(
                bake.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null && !line.contains("second-line")) {
                seen.append(line).append('\n');
            }
            assertNotNull("the bake never provisioned:\n" + seen, line);
            bake.destroyForcibly(); // SIGKILL: no cleanup of its own
            bake.waitFor();
        }
        assertTrue(files.journal.isFile());

        CapturingListener after = new CapturingListener(true);
        FakeStepContext resumedCtx = resumedContext(ctx, after);
        StepExecution resumed = (StepExecution) deserialize(program);
        resumed.onResume();
        try {
            resumedCtx.await(STEP_TIMEOUT_S);
            fail("a lost bake succeeded");
        } catch (ExecutionException e) {
            String m = e.getCause().getMessage();
            assertTrue(m, m.startsWith("bakeAmi: the bake failed (exit 1): the bake is gone from the agent without an"
                    + " outcome; cleaned up from its journal " + files.journal + ": "));
            assertTrue(m, m.matches("(?s).* deleted, \\d+ already gone, 0 failed.*"));
        }
        String log = after.text();
        assertTrue(log, log.contains("deleted instance"));
        assertTrue(log, log.contains("AWS credentials from assume-role " + prop("bakeami.test.roleArn")));
        assertEquals(0, AWSCredentialsImpl.standInAssumeRoleCalls.get());
    }

    /**
     * A restart after which the agent loads the plugin's classes anew (remoting's class loader
     * per channel): the resumed step cannot see the bake's thread, so it finds the bake by its
     * files (the lock it holds, bake.log), follows it, and an abort then cancels it through its
     * cancel file; the step fails only after the cleanup, which the new log shows.
     */
    @Test
    public void aResumedStepOnAReconnectedAgentFollowsTheBakeAndAbortCancelsIt() throws Exception {
        FakeAgentChannel before = new FakeAgentChannel();
        FakeStepContext ctx = context(new FilePath(before, ws.toString()));
        StepExecution exec = provisioning(ctx);
        byte[] program = serialize(exec);
        before.terminate();
        listener.close();

        CapturingListener after = new CapturingListener(true);
        FakeStepContext resumedCtx = resumedContext(ctx, after);
        try (io.bakeami.test.fakes.ReconnectedAgentLoader agentClasses = new io.bakeami.test.fakes.ReconnectedAgentLoader()) {
            FakeAgentChannel reconnected = new FakeAgentChannel(agentClasses);
            resumedCtx.with(FilePath.class, new FilePath(reconnected, ws.toString()));
            StepExecution resumed = (StepExecution) deserialize(program);
            resumed.onResume();
            assertNotNull(after.text(), after.await("reattached to the bake, still running on the agent", 30_000));
            FlowInterruptedException cause = new FlowInterruptedException("aborted after the restart");
            resumed.stop(cause);
            try {
                resumedCtx.await(STEP_TIMEOUT_S);
                fail("the aborted step succeeded");
            } catch (ExecutionException e) {
                assertSame(cause, e.getCause());
            }
        }
        String log = after.text();
        assertTrue(log, log.contains("the resumed build was aborted: cancelling the bake"));
        Line deleted = after.first("deleted instance");
        assertNotNull("the cleanup did not reach the resumed step's log:\n" + log, deleted);
        assertTrue(deleted.nanos() < resumedCtx.completedNanos());
        assertTrue(awaitOutcome(theBakeLog()).cancelled());
    }
}
