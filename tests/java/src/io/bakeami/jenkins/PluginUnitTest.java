package io.bakeami.jenkins;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.cloudbees.jenkins.plugins.awscredentials.AWSCredentialsImpl;
import com.cloudbees.plugins.credentials.CredentialsProvider;
import com.cloudbees.plugins.credentials.CredentialsScope;
import hudson.AbortException;
import hudson.EnvVars;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.Descriptor;
import hudson.model.Item;
import hudson.model.Run;
import hudson.model.TaskListener;
import hudson.security.Permission;
import hudson.util.FormValidation;
import hudson.util.ListBoxModel;
import io.bakeami.nativelib.BakeOptions;
import io.bakeami.test.fakes.CapturingListener;
import io.bakeami.test.fakes.FakeRun;
import io.bakeami.test.fakes.StandInAwsCredentials;
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jenkins.model.Jenkins;
import org.jenkinsci.Symbol;
import org.junit.After;
import org.junit.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsSessionCredentials;

/** The step, builder, forms and controller-side pieces, without native code or the lab. */
public class PluginUnitTest {
    @After
    public void reset() {
        CredentialsProvider.standInStore.clear();
        AWSCredentialsImpl.standInAssumeRoleCalls.set(0);
        Jenkins.standInAdmin = true;
    }

    private static FormValidation.Kind check(String template) {
        return new BakeAmiStep.DescriptorImpl().doCheckTemplate(template).kind;
    }

    @Test
    public void templateValidation() {
        assertEquals(FormValidation.Kind.OK, check("images/web.json"));
        assertEquals(FormValidation.Kind.OK, check("web.json"));
        assertEquals(FormValidation.Kind.OK, check("a/..b/c..json"));
        for (String bad : new String[] {null, "", "  ", "web.yaml", "images/web", "../web.json",
                "images/../../web.json", "images\\..\\web.json", "/etc/web.json", "C:\\web.json", "~/web.json"}) {
            assertEquals("accepted " + bad, FormValidation.Kind.ERROR, check(bad));
        }
        assertEquals(FormValidation.Kind.ERROR,
                new BakeAmiBuilder.DescriptorImpl().doCheckTemplate("../x.json").kind);
    }

    /**
     * Bad parameters fail start() with one line naming the parameter (an AbortException prints
     * without a stack trace); the constructor takes anything, since Pipeline would wrap its
     * exception in "Could not instantiate ... InvocationTargetException".
     */
    @Test
    public void theStepRefusesBadParametersInStartWithOneLine() throws Exception {
        BakeAmiStep outside = new BakeAmiStep("../outside.json");
        BakeAmiStep none = new BakeAmiStep(null);
        BakeAmiStep onError = new BakeAmiStep("web.json");
        onError.setOnError("keep");
        BakeAmiStep varFile = new BakeAmiStep("web.json");
        varFile.setVarFiles(List.of("/etc/passwd"));
        String[][] cases = {
            {"template: '../outside.json' must stay inside the workspace (no '..')", null},
            {"template: a template is required", null},
            {"onError: must be 'cleanup' or 'abort', not 'keep'", null},
            {"varFiles: /etc/passwd: '/etc/passwd' must be relative to the workspace", null},
        };
        BakeAmiStep[] steps = {outside, none, onError, varFile};
        for (int i = 0; i < steps.length; i++) {
            try {
                steps[i].start(new io.bakeami.test.fakes.FakeStepContext());
                fail("started with " + cases[i][0]);
            } catch (AbortException e) {
                assertEquals("bakeAmi: " + cases[i][0], e.getMessage());
                assertFalse(e.getMessage().contains("\n"));
            }
        }
        assertNull(new BakeAmiStep("web.json").problem());
    }

    /** A thread made from a thread whose context loader is a build's script loader does not keep it. */
    @Test
    public void stepThreadsAreNamedDaemonsWithThePluginsLoader() throws Exception {
        ClassLoader script = new java.net.URLClassLoader(new java.net.URL[0], null);
        Thread[] made = new Thread[1];
        Thread cps = new Thread(() -> made[0] = BakeAmiStepExecution.threads("bakeAmi stop timer").newThread(() -> { }));
        cps.setContextClassLoader(script);
        cps.start();
        cps.join();
        assertEquals("bakeAmi stop timer [#1]", made[0].getName());
        assertTrue(made[0].isDaemon());
        assertNotEquals(script, made[0].getContextClassLoader());
        assertEquals(hudson.util.ClassLoaderSanityThreadFactory.class.getClassLoader(),
                made[0].getContextClassLoader());
    }

    @Test
    public void thePipelineLabelIsTheTemplate() {
        BakeAmiStep.DescriptorImpl d = new BakeAmiStep.DescriptorImpl();
        Map<String, Object> args = new HashMap<>();
        args.put("template", "images/web.json");
        args.put("vars", Map.of("version", "42"));
        assertEquals("images/web.json", d.argumentsToString(args));
        assertNull(d.argumentsToString(Map.of("vars", Map.of())));
    }

    @Test
    public void descriptors() throws Exception {
        BakeAmiStep.DescriptorImpl d = new BakeAmiStep.DescriptorImpl();
        assertEquals("bakeAmi", d.getFunctionName());
        assertEquals(Set.of(FilePath.class, Launcher.class, TaskListener.class, Run.class, EnvVars.class),
                d.getRequiredContext());
        Symbol sym = BakeAmiBuilder.DescriptorImpl.class.getAnnotation(Symbol.class);
        assertEquals("bakeAmiBuilder", sym.value()[0]);
        assertNotEquals(d.getFunctionName(), sym.value()[0]);
        assertTrue(new BakeAmiBuilder.DescriptorImpl().isApplicable(null));
        assertEquals(2, d.doFillOnErrorItems().size());
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    public void stepParameters() throws Exception {
        BakeAmiStep s = new BakeAmiStep(" images/web.json ");
        Map raw = new HashMap();
        raw.put("version", 42); // Pipeline passes numbers and GStrings too
        raw.put("name", "web");
        s.setVars(raw);
        s.setVarFiles((List) List.of("vars/prod.json"));
        s.setOnError("abort");
        s.setRegion("  ");
        BakeOptions r = s.toOptions();
        assertEquals("images/web.json", r.templatePath());
        assertTrue(r.vars().contains("version=42") && r.vars().contains("name=web"));
        assertEquals(List.of("vars/prod.json"), r.varFiles());
        assertTrue(r.onErrorAbort());
        assertNull(r.region());
        assertNull(BakeAmiForms.problem(r));
        s.setOnError("retry"); // refused by start(), in one line (theStepRefusesBadParameters...)
        assertEquals("onError: must be 'cleanup' or 'abort', not 'retry'", s.problem());
        s.setOnError("abort");
        s.setVarFiles((List) List.of("../secrets.json"));
        assertTrue(BakeAmiForms.problem(s.toOptions()).startsWith("varFiles"));
    }

    /** reuse, only, except and resultFile reach the library's options as the CLI's flags do. */
    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    public void reuseBuildsAndResultParameters() throws Exception {
        BakeAmiStep s = new BakeAmiStep("web.json");
        assertNull("not given: the template decides", s.toOptions().reuse());
        s.setReuse(true);
        assertEquals(Boolean.TRUE, s.toOptions().reuse());
        s.setReuse(false);
        assertEquals(Boolean.FALSE, s.toOptions().reuse());
        s.setOnly((List) List.of("web", new StringBuilder("db"))); // GStrings become strings
        s.setExcept((List) List.of("gcp"));
        s.setResultFile(" out/result.json ");
        BakeOptions o = s.toOptions();
        assertEquals(List.of("web", "db"), o.only());
        assertEquals(List.of("gcp"), o.except());
        assertEquals("out/result.json", o.resultPath());
        assertNull(s.problem());
        s.setResultFile("/tmp/result.json");
        assertEquals("resultFile: '/tmp/result.json' must be relative to the workspace", s.problem());
        s.setResultFile(null);
        s.setOnly((List) List.of(" "));
        assertTrue(s.problem(), s.problem().startsWith("only: a build name is empty"));

        BakeAmiBuilder b = new BakeAmiBuilder("web.json");
        EnvVars env = new EnvVars();
        assertNull(b.toOptions(env).reuse());
        b.setReuse("true");
        assertEquals(Boolean.TRUE, b.toOptions(env).reuse());
        b.setReuse("false");
        assertEquals(Boolean.FALSE, b.toOptions(env).reuse());
        b.setOnly("web, db\napi");
        b.setExcept("");
        b.setResultFile("r.json");
        assertEquals(List.of("web", "db", "api"), b.toOptions(env).only());
        assertEquals(List.of(), b.toOptions(env).except());
        assertEquals("r.json", b.toOptions(env).resultPath());
        b.setReuse("yes");
        try {
            b.toOptions(env);
            fail("took reuse 'yes'");
        } catch (AbortException e) {
            assertEquals("bakeAmi: reuse: must be 'true', 'false' or empty (the template decides), not 'yes'",
                    e.getMessage());
        }
    }

    @Test
    public void builderExpandsBuildVariablesInValues() throws Exception {
        BakeAmiBuilder b = new BakeAmiBuilder("web.json");
        b.setVars("version=${BUILD_NUMBER}\n\n  port=$PORT  \nliteral=$UNSET");
        EnvVars env = new EnvVars();
        env.put("BUILD_NUMBER", "7");
        env.put("PORT", "2222");
        assertEquals(List.of("version=7", "port=2222", "literal=$UNSET"), b.toOptions(env).vars());
        b.setVars("version=7\nnovalue");
        try {
            b.toOptions(env);
            fail("took a variable without '='");
        } catch (AbortException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("vars: 'novalue' must read key=value"));
        }
        assertEquals(FormValidation.Kind.ERROR, new BakeAmiBuilder.DescriptorImpl().doCheckVars("novalue").kind);
        assertEquals(FormValidation.Kind.ERROR,
                new BakeAmiBuilder.DescriptorImpl().doCheckVarFiles("ok.json\n/etc/x.json").kind);
    }

    @Test
    public void credentialsListBox() {
        CredentialsProvider.standInStore.add(new StandInAwsCredentials("aws-prod",
                AwsBasicCredentials.create("AKIDPROD", "secret")));
        ListBoxModel all = new BakeAmiStep.DescriptorImpl().doFillCredentialsIdItems(null, "");
        assertEquals("", all.get(0).value); // the empty choice: the agent's own chain
        assertTrue(all.toString(), all.stream().anyMatch(o -> o.value.equals("aws-prod")));
        Jenkins.standInAdmin = false;
        ListBoxModel none = new BakeAmiStep.DescriptorImpl().doFillCredentialsIdItems(null, "old-id");
        assertEquals(1, none.size());
        assertEquals("old-id", none.get(0).value);
        Item noRights = new Item() {
            @Override
            public boolean hasPermission(Permission p) {
                return false;
            }
        };
        assertEquals(1, new BakeAmiBuilder.DescriptorImpl().doFillCredentialsIdItems(noRights, "x").size());
    }

    @Test
    public void credentialsResolveOnTheController() throws Exception {
        CredentialsProvider.standInStore.add(new StandInAwsCredentials("role",
                AwsSessionCredentials.create("ASIAEXAMPLE", "s3cr3t", "t0k3n")));
        CredentialsProvider.standInStore.add(new StandInAwsCredentials("keys",
                AwsBasicCredentials.create("AKIAEXAMPLE", "s3cr3t")));
        FakeRun run = new FakeRun();
        assertEquals(List.of("ASIAEXAMPLE", "s3cr3t", "t0k3n"),
                List.of(BakeAmiRunner.resolveCredentials("role", run)));
        assertNull(BakeAmiRunner.resolveCredentials("keys", run)[2]);
        try {
            BakeAmiRunner.resolveCredentials("nope", run);
            fail("resolved a missing id");
        } catch (AbortException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("'nope'"));
        }
    }

    @Test
    public void provenanceAndConsoleLink() {
        EnvVars env = new EnvVars();
        env.put("BUILD_URL", "https://ci.example/job/x/7/");
        env.put("BUILD_NUMBER", "7");
        List<String> tags = BakeAmiRunner.provenance(new FakeRun(), env);
        assertEquals(List.of("BUILD_URL=https://ci.example/job/x/7/", "BUILD_NUMBER=7", "jenkins:run=bakeami-e2e#7"),
                tags);
        assertEquals("https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#ImageDetails:imageId=ami-0abc",
                BakeAmiRunner.consoleUrl("eu-west-1", "ami-0abc"));
    }

    @Test
    public void theCallableSerializesAndNeverShowsItsSecrets() throws Exception {
        BakeOptions r = new BakeAmiStep("web.json").toOptions().credentials("AKID", "the-secret", "the-token")
                .extraTag("a=b");
        BakeCallable c = new BakeCallable("k", r, 1000, new CapturingListener(false));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(c);
        }
        assertTrue(bytes.size() > 0);
        assertFalse(c.toString().contains("the-secret"));
        assertFalse(c.toString().contains("the-token"));
        assertFalse(new String(bytes.toByteArray(), StandardCharsets.ISO_8859_1).isEmpty());
    }

    /**
     * Help exists once: the builder's descriptor finds the step's help-FIELD.html (a redirect:
     * a Builder cannot share a superclass with a Step), its own for vars, varFiles, only and
     * except, and every
     * field of both has help. Resolved as Descriptor.getHelpFile(field) does, from the jar.
     */
    @Test
    public void everyFieldHasHelpAndSharedHelpExistsOnce() {
        BakeAmiStep.DescriptorImpl step = new BakeAmiStep.DescriptorImpl();
        BakeAmiBuilder.DescriptorImpl builder = new BakeAmiBuilder.DescriptorImpl();
        String stepId = "/descriptor/" + BakeAmiStep.class.getName() + "/help/";
        String builderId = "/descriptor/" + BakeAmiBuilder.class.getName() + "/help/";
        for (String f : List.of("template", "vars", "varFiles", "region", "credentialsId", "mfaToken", "junit", "manifest",
                "onError", "reuse", "only", "except", "resultFile")) {
            assertEquals(f, stepId + f, step.getHelpFile(f));
            boolean shared = BakeAmiBuilder.DescriptorImpl.SHARED_HELP.contains(f);
            assertEquals(f, (shared ? stepId : builderId) + f, builder.getHelpFile(f));
            assertEquals(f, !shared, BakeAmiBuilder.class.getResource("BakeAmiBuilder/help-" + f + ".html") != null);
        }
        assertEquals(9, BakeAmiBuilder.DescriptorImpl.SHARED_HELP.size());
        assertNull(builder.getHelpFile("noSuchField"));
        assertEquals("/descriptor/" + BakeAmiBuilder.class.getName() + "/help", builder.getHelpFile());
    }

    /**
     * The form methods both descriptors share are declared once (BakeAmiDescriptor) and are
     * found the way Jenkins looks them up (Class.getMethods), with their annotations.
     */
    @Test
    public void bothDescriptorsShareOneSetOfFormMethods() throws Exception {
        for (Class<?> d : List.of(BakeAmiStep.DescriptorImpl.class, BakeAmiBuilder.DescriptorImpl.class)) {
            assertTrue(d + "", BakeAmiDescriptor.class.isAssignableFrom(d));
            for (String m : List.of("doCheckTemplate", "doCheckJunit", "doCheckManifest")) {
                assertEquals(BakeAmiDescriptor.class, d.getMethod(m, String.class).getDeclaringClass());
            }
            java.lang.reflect.Method fill = d.getMethod("doFillCredentialsIdItems", Item.class, String.class);
            assertEquals(BakeAmiDescriptor.class, fill.getDeclaringClass());
            assertNotNull(fill.getAnnotation(org.kohsuke.stapler.verb.POST.class));
            assertEquals(BakeAmiDescriptor.class, d.getMethod("doFillOnErrorItems").getDeclaringClass());
        }
        assertEquals(new BakeAmiStep.DescriptorImpl().getDisplayName(), new BakeAmiBuilder.DescriptorImpl().getDisplayName());
        assertEquals(FormValidation.Kind.ERROR, new BakeAmiBuilder.DescriptorImpl().doCheckJunit("/abs.xml").kind);
    }

    @Test
    public void theActionExportsTheAmi() throws Exception {
        FakeRun run = new FakeRun();
        run.addAction(new BakeAmiAction("ami-0123", "us-east-1", "bk-1"));
        EnvVars env = run.getEnvironment(new CapturingListener(false));
        assertEquals("ami-0123", env.get("BAKEAMI_AMI_ID"));
        assertEquals("us-east-1", env.get("BAKEAMI_AMI_REGION"));
        // one of several builds: its name in the variables' names
        run.addAction(new BakeAmiAction("ami-0456", "eu-west-1", "bk-2", "amazon-ebs"));
        env = run.getEnvironment(new CapturingListener(false));
        assertEquals("ami-0456", env.get("BAKEAMI_AMI_ID_AMAZON_EBS"));
        assertEquals("eu-west-1", env.get("BAKEAMI_AMI_REGION_AMAZON_EBS"));
        assertEquals("ami-0123", env.get("BAKEAMI_AMI_ID"));
    }

    /** An item (a job) whose caller holds exactly these permissions. */
    private static Item itemWith(Permission... held) {
        Set<Permission> perms = Set.of(held);
        return new Item() {
            @Override
            public boolean hasPermission(Permission p) {
                return perms.contains(p);
            }
        };
    }

    /** A job that is a Queue.Task: its builds run as `as` (what Tasks.getAuthenticationOf2 returns). */
    private static final class TaskJob implements Item, hudson.model.Queue.Task {
        private final Set<Permission> perms;
        private final org.springframework.security.core.Authentication as;

        TaskJob(org.springframework.security.core.Authentication as, Permission... held) {
            this.as = as;
            this.perms = Set.of(held);
        }

        @Override
        public boolean hasPermission(Permission p) {
            return perms.contains(p);
        }

        @Override
        public org.springframework.security.core.Authentication getDefaultAuthentication2() {
            return as;
        }

        @Override
        public String getDisplayName() {
            return "web";
        }
    }

    private static org.springframework.security.core.Authentication user(String name) {
        return new org.springframework.security.core.Authentication() {
            private static final long serialVersionUID = 1L;

            @Override
            public String getName() {
                return name;
            }

            @Override
            public boolean isAuthenticated() {
                return true;
            }
        };
    }

    /**
     * The form methods that touch credentials are POST-only and check the caller's permission
     * first; the others parse text or return a fixed list and say so to the security scan.
     */
    @Test
    public void formMethodsArePostWhereTheyTouchCredentialsAndSayWhyNotElsewhere() throws Exception {
        for (Class<?> d : List.of(BakeAmiStep.DescriptorImpl.class, BakeAmiBuilder.DescriptorImpl.class)) {
            for (java.lang.reflect.Method m : d.getMethods()) {
                if (!m.getName().startsWith("doCheck") && !m.getName().startsWith("doFill")) {
                    continue;
                }
                boolean post = m.getAnnotation(org.kohsuke.stapler.verb.POST.class) != null;
                boolean credentials = m.getName().contains("CredentialsId");
                assertEquals(d.getSimpleName() + "." + m.getName() + " @POST", credentials, post);
                if (!credentials) {
                    // @SuppressWarnings has source retention: the source says why (checked there)
                    String src = java.nio.file.Files.readString(io.bakeami.test.fakes.Workspaces.repo().resolve(
                            "java-shim/src/main/java/io/bakeami/jenkins/" + (m.getDeclaringClass().getEnclosingClass()
                                    != null ? m.getDeclaringClass().getEnclosingClass() : m.getDeclaringClass())
                                    .getSimpleName() + ".java"));
                    int at = src.indexOf(" " + m.getName() + "(");
                    String before = src.substring(Math.max(0, src.lastIndexOf("\n", src.lastIndexOf("\n", at) - 1)), at);
                    assertTrue(m.getName() + " lacks the reason for no permission check: " + before,
                            before.contains("@SuppressWarnings(\"lgtm[jenkins/no-permission-check]\") // "));
                }
            }
        }
    }

    /** A user who may not configure the job learns nothing from doCheckCredentialsId; one who may does. */
    @Test
    public void checkCredentialsIdAnswersOnlyThoseWhoMayConfigure() {
        CredentialsProvider.standInStore.add(new StandInAwsCredentials("aws-prod",
                AwsBasicCredentials.create("AKIDPROD", "secret")));
        BakeAmiStep.DescriptorImpl d = new BakeAmiStep.DescriptorImpl();
        Item reader = itemWith(Item.EXTENDED_READ, CredentialsProvider.USE_ITEM);
        Item configurer = itemWith(Item.CONFIGURE);
        assertEquals(FormValidation.Kind.OK, d.doCheckCredentialsId(reader, "no-such-id").kind);
        assertEquals(FormValidation.Kind.ERROR, d.doCheckCredentialsId(configurer, "no-such-id").kind);
        assertEquals("no \"AWS Credentials\" with id 'no-such-id' are visible to this job's builds",
                d.doCheckCredentialsId(configurer, "no-such-id").getMessage());
        assertEquals(FormValidation.Kind.OK, d.doCheckCredentialsId(configurer, "aws-prod").kind);
        assertEquals(FormValidation.Kind.OK, d.doCheckCredentialsId(configurer, "  ").kind); // the agent's chain
        Jenkins.standInAdmin = false; // no job: Administer is needed
        assertEquals(FormValidation.Kind.OK, d.doCheckCredentialsId(null, "no-such-id").kind);
        Jenkins.standInAdmin = true;
        assertEquals(FormValidation.Kind.ERROR,
                new BakeAmiBuilder.DescriptorImpl().doCheckCredentialsId(null, "no-such-id").kind);
    }

    /** The list is the credentials the job's builds can use: looked up as the job's authentication. */
    @Test
    public void credentialsAreListedAsTheJobsAuthentication() {
        CredentialsProvider.standInStore.add(new StandInAwsCredentials("aws-prod",
                AwsBasicCredentials.create("AKIDPROD", "secret")));
        org.springframework.security.core.Authentication alice = user("alice");
        TaskJob job = new TaskJob(alice, Item.CONFIGURE, Item.EXTENDED_READ);
        ListBoxModel m = new BakeAmiStep.DescriptorImpl().doFillCredentialsIdItems(job, "");
        assertTrue(m.toString(), m.stream().anyMatch(o -> o.value.equals("aws-prod")));
        assertSame(alice, CredentialsProvider.standInListedAs);
        new BakeAmiStep.DescriptorImpl().doCheckCredentialsId(job, "aws-prod");
        assertSame(alice, CredentialsProvider.standInListedAs);
        CredentialsProvider.standInListedAs = null;
        // no ExtendedRead nor UseItem: only the current value, and no lookup at all
        ListBoxModel none = new BakeAmiStep.DescriptorImpl().doFillCredentialsIdItems(new TaskJob(alice), "old");
        assertEquals(1, none.size());
        assertNull(CredentialsProvider.standInListedAs);
    }

    /** A bake on the built-in node is refused (the message says how to allow it), before anything else. */
    @Test
    public void theBuiltInNodeIsRefusedUnlessAllowed() throws Exception {
        java.nio.file.Path ws = java.nio.file.Files.createTempDirectory("bakeami-builtin-");
        try {
            FilePath local = new FilePath(ws.toFile());
            try {
                CapturingListener listener = new CapturingListener(false);
                BakeAmiRunner.bake("k", new BakeAmiStep("web.json").toOptions(), null, null, new FakeRun(), local,
                        new EnvVars(), new Launcher(listener, null) {}, listener);
                fail("baked on the built-in node");
            } catch (AbortException e) {
                assertEquals("bakeAmi: refusing to bake on the built-in node, where the native bake would run inside"
                        + " the Jenkins controller with its AWS credentials; run it on an agent (node('linux') { ... }),"
                        + " or start Jenkins with -Dbakeami.allowBuiltInNode=true to allow it", e.getMessage());
            }
            assertFalse("something was written before the refusal", java.nio.file.Files.exists(ws.resolve(".bakeami")));
            BakeAmiRunner.refuseBuiltInNode(new FilePath(new io.bakeami.test.fakes.FakeAgentChannel(), ws.toString()));
            System.setProperty(BakeAmiRunner.PROP_ALLOW_BUILT_IN, "true");
            try {
                BakeAmiRunner.refuseBuiltInNode(local); // allowed now
            } finally {
                System.clearProperty(BakeAmiRunner.PROP_ALLOW_BUILT_IN);
            }
        } finally {
            io.bakeami.test.fakes.Workspaces.delete(ws);
        }
    }

    /** An execution whose pool tasks wait in {@code held} until the test runs them (a slow pool). */
    private static BakeAmiStepExecution heldBack(io.bakeami.test.fakes.FakeStepContext ctx, List<Runnable> held) {
        return new BakeAmiStepExecution(new BakeAmiStep("web.json").toOptions(), null, null, ctx) {
            private static final long serialVersionUID = 1L;

            @Override
            java.util.concurrent.Executor executor() {
                return held::add;
            }
        };
    }

    /**
     * Race 1: stop() before the pool thread began the bake fails the step at once with the
     * stop's cause, and the late pool thread then does nothing (it never asks for a workspace).
     */
    @Test
    public void aStopBeforeThePoolThreadBeganFailsAtOnceAndNothingStarts() throws Exception {
        List<Runnable> held = new java.util.ArrayList<>();
        io.bakeami.test.fakes.FakeStepContext ctx = new io.bakeami.test.fakes.FakeStepContext();
        BakeAmiStepExecution exec = heldBack(ctx, held);
        assertFalse(exec.start());
        org.jenkinsci.plugins.workflow.steps.FlowInterruptedException cause =
                new org.jenkinsci.plugins.workflow.steps.FlowInterruptedException("aborted");
        exec.stop(cause);
        try {
            ctx.await(0);
            fail("the stopped step did not fail at once");
        } catch (java.util.concurrent.ExecutionException e) {
            assertSame(cause, e.getCause());
        }
        assertEquals(1, held.size());
        held.get(0).run(); // the pool thread begins, late
        assertEquals(1, ctx.completions());
        assertEquals("the late thread began the bake", 0, ctx.gets());
    }

    /**
     * Race 2: the controller's cancel reaches the agent before the bake was registered there
     * (remoting runs calls on separate threads): the bake never starts, nothing is made, its
     * log says why. Real library, no network (the bake is created, never run).
     */
    @Test
    public void aCancelBeforeTheAgentStartedTheBakeKeepsItFromStarting() throws Exception {
        java.nio.file.Path ws = io.bakeami.test.fakes.Workspaces.withE2eTemplates();
        try {
            assertTrue(new CancelBakeCallable("early", 1000, new CapturingListener(false)).invoke(ws.toFile(), FilePath.localChannel));
            CapturingListener console = new CapturingListener(false);
            BakeCallable bake = new BakeCallable("early", new BakeAmiStep("bake.json").toOptions(), 60_000, console);
            try {
                bake.invoke(ws.toFile(), FilePath.localChannel);
                fail("a cancelled bake started");
            } catch (InterruptedException e) {
                assertEquals("bakeAmi: the bake was cancelled before it started", e.getMessage());
            }
            BakeFiles files = new BakeFiles(ws.toFile(), "early");
            assertFalse("the bake began: it has a journal", files.journal.exists());
            assertTrue(java.nio.file.Files.readString(files.log.toPath()).contains("cancelled before it started"));
            assertFalse(files.isRunning());
            // the key was spent: the same callable again starts (and is cancelled at once by the test)
            assertNull(AgentBakes.get("early"));
        } finally {
            io.bakeami.test.fakes.Workspaces.delete(ws);
        }
    }

    /**
     * Several builds survive a restart: the outcome the agent records holds each build, so a
     * resumed step still returns the map; the journals to clean up from are each build's.
     */
    @Test
    public void severalBuildsOutcomeAndJournalsAreReadBack() throws Exception {
        java.nio.file.Path ws = java.nio.file.Files.createTempDirectory("bakeami-outcome-");
        try {
            BakeFiles files = new BakeFiles(ws.toFile(), "k2");
            files.create();
            List<io.bakeami.nativelib.Bake.Build> builds = List.of(
                    new io.bakeami.nativelib.Bake.Build("amazon-ebs", "amazon-ebs", "bk-1", "ami-01", "us-east-1", null),
                    new io.bakeami.nativelib.Bake.Build("web", "amazon-ebs", "bk-2", null, "us-east-1", "build 'web': exit 7"));
            files.writeOutcome(BakeOutcome.of(-10, 1, "build 'web': exit 7", null, null, null, builds));
            BakeOutcome back = files.readOutcome();
            assertEquals(builds, back.builds);
            Map<String, String> amis = new java.util.LinkedHashMap<>();
            amis.put("amazon-ebs", "ami-01");
            amis.put("web", null);
            assertEquals(amis, back.value());
            assertEquals("runs amazon-ebs bk-1, web bk-2", back.runs());

            assertEquals(List.of(), files.journals());
            java.nio.file.Files.createDirectories(files.journal.getParentFile().toPath());
            for (String n : new String[] {"jenkins-k2.web.jsonl", "jenkins-k2.amazon-ebs.jsonl", "jenkins-k22.jsonl"}) {
                java.nio.file.Files.writeString(files.journal.toPath().resolveSibling(n), "{}\n");
            }
            assertEquals(List.of("jenkins-k2.amazon-ebs.jsonl", "jenkins-k2.web.jsonl"),
                    files.journals().stream().map(java.io.File::getName).toList());
            for (String n : new String[] {"jenkins-k2.web.jsonl", "jenkins-k2.amazon-ebs.jsonl"}) {
                java.nio.file.Files.delete(files.journal.toPath().resolveSibling(n));
            }
            java.nio.file.Files.writeString(files.journal.toPath(), "{}\n"); // one build: its journal, once
            assertEquals(List.of(files.journal), files.journals());
        } finally {
            io.bakeami.test.fakes.Workspaces.delete(ws);
        }
    }

    /** Credentials that cannot give keys fail in one line naming them, never with an NPE. */
    @Test
    public void credentialsThatGiveNoKeysFailInOneLine() throws Exception {
        CredentialsProvider.standInStore.add(new StandInAwsCredentials("blank", (software.amazon.awssdk.auth.credentials.AwsCredentials) null)); // blank keys, no role
        CredentialsProvider.standInStore.add(new StandInAwsCredentials("sts-down",
                new IllegalStateException("Unable to assume role arn:aws:iam::123456789012:role/bake\n(Service: Sts,"
                        + " Status Code: 403)")));
        FakeRun run = new FakeRun();
        for (String id : List.of("blank")) {
            try {
                BakeAmiRunner.resolveCredentials(id, run);
                fail("resolved " + id);
            } catch (AbortException e) {
                assertEquals("bakeAmi: the AWS credentials '" + id + "' give no access key: set the access key and"
                        + " secret, or an IAM role to assume, in that credentials entry (or omit credentialsId to use"
                        + " the agent's own AWS chain)", e.getMessage());
            }
        }
        try {
            BakeAmiRunner.resolveCredentials("sts-down", run);
            fail("resolved sts-down");
        } catch (AbortException e) {
            assertEquals("bakeAmi: the AWS credentials 'sts-down' could not be resolved: Unable to assume role"
                    + " arn:aws:iam::123456789012:role/bake (Service: Sts, Status Code: 403)", e.getMessage());
        }
    }

    private static final String ROLE = "arn:aws:iam::123456789012:role/baker";
    private static final String MFA = "arn:aws:iam::123456789012:mfa/ci";

    /** An "AWS Credentials" entry as the aws-credentials plugin stores it. */
    private static AWSCredentialsImpl entry(String id, String key, String secret, String role, String mfa,
            String externalId, Integer duration) {
        AWSCredentialsImpl c = new AWSCredentialsImpl(CredentialsScope.GLOBAL, id, key, secret, "test", role, mfa,
                externalId);
        c.setStsTokenDuration(duration);
        CredentialsProvider.standInStore.add(c);
        return c;
    }

    /** A private field of the request (its secrets have no getter). */
    private static Object field(BakeOptions o, String name) throws Exception {
        java.lang.reflect.Field f = BakeOptions.class.getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
    }

    private static String refusal(String id, String mfaToken, boolean forCleanup) {
        try {
            BakeAmiRunner.applyCredentials(new BakeOptions(), id, mfaToken, new FakeRun(), forCleanup);
        } catch (AbortException e) {
            assertFalse(e.getMessage(), e.getMessage().contains("\n"));
            return e.getMessage();
        }
        throw new AssertionError("took the credentials " + id);
    }

    /**
     * Issue 13: an entry with a role is not resolved on the controller (AWSCredentialsImpl would
     * assume it there, for an hour): its keys, role, external id, token duration and a session
     * name naming the build go to the library, which assumes and renews the role on the agent.
     */
    @Test
    public void aRoleEntryGoesToTheLibraryUnassumed() throws Exception {
        entry("role", " AKIAEXAMPLE ", "s3cr3t", ROLE, null, "ext-42", 1800);
        BakeOptions r = new BakeOptions();
        String said = BakeAmiRunner.applyCredentials(r, "role", null, new FakeRun(), false);
        assertEquals(0, AWSCredentialsImpl.standInAssumeRoleCalls.get());
        assertEquals("AKIAEXAMPLE", field(r, "accessKeyId"));
        assertEquals("s3cr3t", field(r, "secretAccessKey"));
        assertNull(field(r, "sessionToken"));
        assertEquals(ROLE, r.roleArn());
        assertEquals("ext-42", field(r, "roleExternalId"));
        assertEquals("bakeami-bakeami-e2e-7", r.roleSessionName());
        assertEquals(1800, r.roleDurationSeconds());
        assertNull(r.roleMfaSerial());
        assertFalse(r.hasMfaToken());
        assertEquals("'role', role " + ROLE + " assumed on the agent (session bakeami-bakeami-e2e-7, with the"
                + " entry's keys, renewed before it expires)", said);
        assertFalse(said.contains("s3cr3t") || said.contains("ext-42"));

        // Blank keys: the agent's own chain calls AssumeRole (the plugin falls back to the controller's).
        entry("role-chain", "", null, ROLE, "", "", null);
        r = new BakeOptions();
        said = BakeAmiRunner.applyCredentials(r, "role-chain", null, new FakeRun(), false);
        assertFalse(r.hasCredentials());
        assertEquals(ROLE, r.roleArn());
        assertNull(field(r, "roleExternalId"));
        assertEquals(3600, r.roleDurationSeconds()); // the plugin's default STS token duration
        assertTrue(said, said.contains("with the agent's own chain"));
        assertEquals(0, AWSCredentialsImpl.standInAssumeRoleCalls.get());
    }

    /** Entries without a role resolve as before: their keys; blank ones fail naming the entry. */
    @Test
    public void anEntryWithoutARoleGivesItsKeys() throws Exception {
        entry("keys", "AKIAEXAMPLE", "s3cr3t", null, null, null, null);
        BakeOptions r = new BakeOptions();
        assertEquals("'keys'", BakeAmiRunner.applyCredentials(r, "keys", null, new FakeRun(), false));
        assertEquals("AKIAEXAMPLE", field(r, "accessKeyId"));
        assertNull(r.roleArn());
        entry("blank", "", "", "", null, null, null);
        assertEquals("bakeAmi: the AWS credentials 'blank' give no access key: set the access key and secret, or an"
                + " IAM role to assume, in that credentials entry (or omit credentialsId to use the agent's own AWS"
                + " chain)", refusal("blank", null, false));
        assertEquals("bakeAmi: mfaToken is set but the AWS credentials 'keys' name no IAM role with an MFA serial"
                + " number: leave mfaToken out, or set the role and MFA device in that entry",
                refusal("keys", "123456", false));
        assertTrue(refusal("nope", null, false).contains("no AWS credentials with id 'nope'"));
    }

    /** Every way a role entry cannot work is one line naming the entry, before any AWS call. */
    @Test
    public void aBadRoleEntryFailsInOneLineNamingIt() {
        entry("arn", "AKIAEXAMPLE", "s3cr3t", "arn:aws:iam::12345:role/x", null, null, null);
        assertEquals("bakeAmi: the AWS credentials 'arn': the IAM role ARN \"arn:aws:iam::12345:role/x\" is not one"
                + " (like arn:aws:iam::123456789012:role/NAME)", refusal("arn", null, false));
        entry("half", "AKIAEXAMPLE", "", ROLE, null, null, null);
        assertEquals("bakeAmi: the AWS credentials 'half' give an access key without its secret key: set both, or"
                + " neither to use the agent's own chain", refusal("half", null, false));
        entry("long", "AKIAEXAMPLE", "s3cr3t", ROLE, null, null, 86400);
        assertEquals("bakeAmi: the AWS credentials 'long': the STS token duration must be 900 to 43200 seconds,"
                + " not 86400", refusal("long", null, false));
        entry("ext", "AKIAEXAMPLE", "s3cr3t", ROLE, null, "has space", null);
        assertEquals("bakeAmi: the AWS credentials 'ext': the external id must be 2 to 1224 characters of letters,"
                + " digits and +=,.@_-:/", refusal("ext", null, false));
        assertEquals(0, AWSCredentialsImpl.standInAssumeRoleCalls.get());
    }

    /**
     * MFA: the code goes with the role to the library for its first AssumeRole; without one, a
     * malformed one, or one for an entry with no MFA device, the step fails naming it.
     */
    @Test
    public void anMfaRoleTakesTheCodeForItsFirstAssumeRole() throws Exception {
        entry("mfa", "AKIAEXAMPLE", "s3cr3t", ROLE, MFA, null, 7200);
        BakeOptions r = new BakeOptions();
        String said = BakeAmiRunner.applyCredentials(r, "mfa", "012345", new FakeRun(), false);
        assertEquals(MFA, r.roleMfaSerial());
        assertEquals("012345", field(r, "roleMfaToken"));
        assertEquals(7200, r.roleDurationSeconds());
        assertTrue(said, said.endsWith("MFA device " + MFA + "; an MFA session is not renewed: it lasts 7200 s)"));
        assertFalse(r.toString().contains("012345"));
        assertEquals("bakeAmi: the AWS credentials 'mfa': role " + ROLE + " asks for a code from MFA device " + MFA
                + ": pass it as mfaToken (the 6 digits the device shows now)", refusal("mfa", null, false));
        assertEquals("bakeAmi: mfaToken must be the 6 digits MFA device " + MFA + " shows",
                refusal("mfa", "12345", false));
        entry("no-mfa", "AKIAEXAMPLE", "s3cr3t", ROLE, null, null, null);
        assertEquals("bakeAmi: mfaToken is set but the AWS credentials 'no-mfa' name no MFA serial number for role "
                + ROLE + ": leave mfaToken out, or set the MFA serial", refusal("no-mfa", "123456", false));
        try {
            BakeAmiRunner.noMfaWithoutCredentials("123456");
            fail("took an MFA code without credentials");
        } catch (AbortException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("bakeAmi: mfaToken is set but credentialsId is not"));
        }
        assertEquals(0, AWSCredentialsImpl.standInAssumeRoleCalls.get());
    }

    /**
     * A resumed build's cleanup gets the entry's keys and role, but no MFA code (good once): its
     * cleanup then refuses that role with a message, before loading any native code.
     */
    @Test
    public void aResumedCleanupSignsAsTheBakeDidButCannotGiveAnMfaCode() throws Exception {
        entry("mfa", "AKIAEXAMPLE", "s3cr3t", ROLE, MFA, "ext-42", null);
        BakeOptions c = new BakeOptions();
        BakeAmiRunner.applyCredentials(c, "mfa", null, new FakeRun(), true);
        assertEquals("AKIAEXAMPLE", field(c, "accessKeyId"));
        assertEquals(ROLE, c.roleArn());
        assertEquals(MFA, c.roleMfaSerial());
        assertFalse(c.hasMfaToken());
        try {
            io.bakeami.nativelib.Cleanup.fromJournal("/ws/j.jsonl", null, c, e -> {});
            fail("cleaned up with an MFA role and no code");
        } catch (io.bakeami.nativelib.BakeException e) {
            assertEquals("the role " + ROLE + " asks for a code from MFA device " + MFA + ", which a cleanup cannot"
                    + " ask for; run `bakeami cleanup --journal /ws/j.jsonl` with credentials that need none",
                    e.getMessage());
        }
    }

    /** bakeami-<job>-<build> in STS's charset and 64 characters, the build number kept. */
    @Test
    public void theRoleSessionNameNamesTheBuildAsStsAllows() {
        Run<?, ?> deep = new FakeRun("team a/images/web server (prod)/a job name long enough to be cut somewhere#1234",
                1234);
        String n = BakeAmiRunner.sessionName(deep);
        assertEquals(64, n.length());
        assertTrue(n, n.matches("bakeami-[A-Za-z0-9+=,.@_-]+-1234"));
        assertTrue(n, n.startsWith("bakeami-team-a-images-web-server-prod-a-job-name"));
        assertEquals("bakeami-bakeami-e2e-7", BakeAmiRunner.sessionName(new FakeRun()));
    }

    /** The MFA code is not in the step's saved state (program.dat): the execution drops it. */
    @Test
    public void theMfaCodeIsNotSavedWithTheExecution() throws Exception {
        BakeAmiStep step = new BakeAmiStep("web.json");
        step.setCredentialsId("mfa");
        step.setMfaToken(" 024680 ");
        assertEquals("024680", step.getMfaToken());
        BakeAmiStepExecution e = new BakeAmiStepExecution(step.toOptions(), "mfa", step.getMfaToken(),
                new io.bakeami.test.fakes.FakeStepContext());
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(e);
        }
        assertFalse(new String(bytes.toByteArray(), StandardCharsets.ISO_8859_1).contains("024680"));
    }

    /** The pool thread works as the build: the authentication of the (CPS VM) thread that started it. */
    @Test
    public void theWorkRunsAsTheBuildsAuthentication() throws Exception {
        List<Runnable> held = new java.util.ArrayList<>();
        io.bakeami.test.fakes.FakeStepContext ctx = new io.bakeami.test.fakes.FakeStepContext();
        BakeAmiStepExecution exec = heldBack(ctx, held);
        org.springframework.security.core.Authentication alice = user("alice");
        try (hudson.security.ACLContext as = hudson.security.ACL.as2(alice)) {
            exec.start();
        }
        assertEquals(Jenkins.ANONYMOUS2, Jenkins.getAuthentication2());
        held.get(0).run(); // as the pool thread would, on a thread that runs as no one
        assertSame(alice, ctx.lastGetAs());
        assertEquals(Jenkins.ANONYMOUS2, Jenkins.getAuthentication2()); // and restored after
        try {
            ctx.await(0);
            fail("baked without a workspace");
        } catch (java.util.concurrent.ExecutionException e) {
            assertTrue(e.getCause().getMessage(), e.getCause().getMessage().startsWith("bakeAmi needs a workspace"));
        }
    }
}
