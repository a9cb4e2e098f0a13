package io.bakeami.test;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.BeforeClass;
import org.junit.Test;

/** What `make plugin-jar` packs, as `jar tf` lists it. */
public class JarContentsTest {
    private static final String[] FIELDS = {"template", "vars", "varFiles", "region", "credentialsId", "junit",
            "manifest", "onError", "reuse", "only", "except", "resultFile"};
    private static Set<String> entries;

    @BeforeClass
    public static void list() throws Exception {
        String jar = System.getProperty("bakeami.test.jar");
        String jarTool = System.getProperty("java.home") + "/bin/jar";
        if (!new File(jarTool).canExecute()) {
            jarTool = "jar";
        }
        Process p = new ProcessBuilder(jarTool, "tf", jar).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(out, 0, p.waitFor());
        entries = new HashSet<>(Arrays.asList(out.split("\\R")));
    }

    private static void has(String entry) {
        assertTrue("the jar lacks " + entry, entries.contains(entry));
    }

    @Test
    public void nativeLibraryUnderItsPlatform() {
        has("io/bakeami/native/linux-x86_64/libbakeami-jni.so");
    }

    @Test
    public void indexJelly() {
        has("index.jelly");
    }

    /**
     * Each class has its form and overall help; the step has help for every field, the builder
     * only for the four it edits differently (vars, varFiles, only, except): its descriptor
     * redirects the other eight to the step's (PluginUnitTest resolves them), so each text
     * exists once.
     */
    @Test
    public void jellyAndHelpForEveryField() {
        for (String cls : new String[] {"BakeAmiStep", "BakeAmiBuilder"}) {
            String dir = "io/bakeami/jenkins/" + cls + "/";
            has(dir + "config.jelly");
            has(dir + "help.html");
        }
        for (String f : FIELDS) {
            has("io/bakeami/jenkins/BakeAmiStep/help-" + f + ".html");
            boolean own = List.of("vars", "varFiles", "only", "except").contains(f);
            assertEquals(f, own, entries.contains("io/bakeami/jenkins/BakeAmiBuilder/help-" + f + ".html"));
        }
    }

    @Test
    public void classes() {
        for (String c : new String[] {"jenkins/BakeAmiStep", "jenkins/BakeAmiStep$DescriptorImpl",
                "jenkins/BakeAmiStepExecution", "jenkins/BakeAmiBuilder", "jenkins/BakeAmiBuilder$DescriptorImpl",
                "jenkins/BakeAmiAction", "jenkins/BakeCallable", "jenkins/CancelBakeCallable", "jenkins/ResumeBakeCallable",
                "nativelib/NativeBaker", "nativelib/Bake", "nativelib/BakeException"}) {
            has("io/bakeami/" + c + ".class");
        }
    }

    @Test
    public void noStandInsPacked() {
        for (String e : entries) {
            assertFalse("a stand-in is packed: " + e, e.startsWith("hudson/") || e.startsWith("jenkins/")
                    || e.startsWith("org/") || e.startsWith("com/") || e.startsWith("software/"));
        }
    }
}
