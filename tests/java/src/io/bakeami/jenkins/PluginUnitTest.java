package io.bakeami.jenkins;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import com.cloudbees.plugins.credentials.CredentialsProvider;
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
     * a Builder cannot share a superclass with a Step), its own for vars and varFiles, and every
     * field of both has help. Resolved as Descriptor.getHelpFile(field) does, from the jar.
     */
    @Test
    public void everyFieldHasHelpAndSharedHelpExistsOnce() {
        BakeAmiStep.DescriptorImpl step = new BakeAmiStep.DescriptorImpl();
        BakeAmiBuilder.DescriptorImpl builder = new BakeAmiBuilder.DescriptorImpl();
        String stepId = "/descriptor/" + BakeAmiStep.class.getName() + "/help/";
        String builderId = "/descriptor/" + BakeAmiBuilder.class.getName() + "/help/";
        for (String f : List.of("template", "vars", "varFiles", "region", "credentialsId", "junit", "manifest",
                "onError")) {
            assertEquals(f, stepId + f, step.getHelpFile(f));
            boolean shared = BakeAmiBuilder.DescriptorImpl.SHARED_HELP.contains(f);
            assertEquals(f, (shared ? stepId : builderId) + f, builder.getHelpFile(f));
            assertEquals(f, !shared, BakeAmiBuilder.class.getResource("BakeAmiBuilder/help-" + f + ".html") != null);
        }
        assertEquals(6, BakeAmiBuilder.DescriptorImpl.SHARED_HELP.size());
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
    }
}
