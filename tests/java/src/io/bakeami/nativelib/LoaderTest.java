package io.bakeami.nativelib;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.InputStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.Test;

/** The loader and the JNI bridge, without the lab (no network call). */
public class LoaderTest {
    private static final Path JAR = Paths.get(System.getProperty("bakeami.test.jar"));
    private static final Path FIXTURE = Paths.get(System.getProperty("bakeami.test.fixture"));
    private static final Path NATIVE_DIR = Paths.get(System.getProperty(NativeBaker.PROP_DIR));
    private static final Path REPO = Paths.get(System.getProperty("bakeami.test.repo"));

    private static String headerVersion() throws Exception {
        String h = Files.readString(REPO.resolve("native/include/bakeami.h"));
        Matcher m = Pattern.compile("#define BAKEAMI_VERSION \"([^\"]+)\"").matcher(h);
        assertTrue(m.find());
        return m.group(1);
    }

    private static byte[] packedLibrary() throws Exception {
        try (InputStream in = NativeBaker.class.getClassLoader()
                .getResourceAsStream("io/bakeami/native/linux-x86_64/libbakeami-jni.so")) {
            assertNotNull("the .so is not on the class path", in);
            return in.readAllBytes();
        }
    }

    /** A class loader of its own over (a copy of) the plugin jar, as Jenkins gives each plugin. */
    private static URLClassLoader freshLoader(Path jar) throws Exception {
        return new URLClassLoader(new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
    }

    private static Object call(ClassLoader cl, String cls, String method) throws Exception {
        try {
            return Class.forName("io.bakeami.nativelib." + cls, true, cl).getMethod(method).invoke(null);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw (Exception) e.getCause();
        }
    }

    @Test
    public void loadsFromTheJarAndReportsTheVersion() throws Exception {
        assertEquals(headerVersion(), NativeBaker.version());
        String sha = NativeBaker.sha256(packedLibrary());
        String from = NativeBaker.loadedFrom();
        assertEquals(NATIVE_DIR.resolve(sha).resolve(NativeBaker.LOADER_ID).resolve(NativeBaker.LIBRARY).toString(),
                from);
        assertTrue("the lock file is missing", Files.exists(NATIVE_DIR.resolve(sha).resolve(".lock")));
        assertFalse("the per-loader copy is deleted once loaded", Files.exists(Paths.get(from)));
    }

    @Test
    public void platformNames() {
        assertEquals("linux-x86_64", NativeBaker.platform("Linux", "amd64", false));
        assertEquals("linux-x86_64", NativeBaker.platform("Linux", "x86_64", false));
        assertEquals("linux-aarch64", NativeBaker.platform("Linux", "aarch64", false));
        assertEquals("linux-musl-x86_64", NativeBaker.platform("Linux", "amd64", true));
        assertEquals("mac-aarch64", NativeBaker.platform("Mac OS X", "aarch64", false));
        assertEquals("windows-x86_64", NativeBaker.platform("Windows Server 2022", "amd64", false));
        assertEquals("linux-x86_64", NativeBaker.platform());
    }

    /** sqlite-jdbc's multipleClassLoader: 4 isolated class loaders load the library at once. */
    @Test
    public void fourClassLoadersAtOnce() throws Exception {
        Path jar = Files.createTempFile("bakeami-plugin-", ".jar");
        Files.copy(JAR, jar, StandardCopyOption.REPLACE_EXISTING);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        CyclicBarrier start = new CyclicBarrier(4);
        List<Future<String[]>> results = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                results.add(pool.submit(() -> {
                    URLClassLoader cl = freshLoader(jar);
                    Class<?> nb = Class.forName("io.bakeami.nativelib.NativeBaker", false, cl);
                    assertNotSame(NativeBaker.class, nb);
                    start.await(30, TimeUnit.SECONDS);
                    String version = (String) call(cl, "NativeBaker", "version");
                    String from = (String) call(cl, "NativeBaker", "loadedFrom");
                    // The bridge throws this loader's BakeException: JNI_OnLoad of this copy
                    // cached this loader's classes, not another's.
                    Class<?> opts = Class.forName("io.bakeami.nativelib.BakeOptions", true, cl);
                    Object o = opts.getConstructor().newInstance();
                    opts.getMethod("template", String.class).invoke(o, "/nonexistent/bakeami/t.json");
                    Method validate = Class.forName("io.bakeami.nativelib.Bake", true, cl).getMethod("validate", opts);
                    try {
                        validate.invoke(null, o);
                        fail("validated a missing template");
                    } catch (InvocationTargetException e) {
                        assertEquals("io.bakeami.nativelib.BakeException", e.getCause().getClass().getName());
                        assertSame(cl, e.getCause().getClass().getClassLoader());
                    }
                    return new String[] {version, from};
                }));
            }
            Set<String> paths = new HashSet<>();
            for (Future<String[]> f : results) {
                String[] r = f.get(60, TimeUnit.SECONDS);
                assertEquals(headerVersion(), r[0]);
                paths.add(r[1]);
            }
            assertEquals("each class loader loads its own copy", 4, paths.size());
            try (Stream<Path> s = Files.list(NATIVE_DIR.resolve(NativeBaker.sha256(packedLibrary())))) {
                assertEquals("no copy is left behind", 0, s.filter(p -> p.getFileName().toString().startsWith("cl-"))
                        .count());
            }
        } finally {
            pool.shutdownNow();
            Files.deleteIfExists(jar);
        }
    }

    @Test
    public void anUnsupportedPlatformIsNamed() throws Exception {
        String arch = System.getProperty("os.arch");
        try (URLClassLoader cl = freshLoader(JAR)) {
            System.setProperty("os.arch", "riscv64");
            call(cl, "NativeBaker", "load");
            fail("loaded on riscv64");
        } catch (UnsatisfiedLinkError e) {
            assertTrue(e.getMessage(), e.getMessage().contains("no native library for this agent's platform linux-riscv64"));
            assertTrue(e.getMessage(), e.getMessage().contains("linux-x86_64"));
        } finally {
            System.setProperty("os.arch", arch);
        }
    }

    /**
     * The fixture's DT_NEEDED names libbakeami-fixture-gone.so.1, which does not exist: loading
     * it fails exactly as libbakeami-jni.so does on an agent without libcurl & co.
     */
    @Test
    public void aMissingSharedLibraryIsNamed() throws Exception {
        try (URLClassLoader cl = freshLoader(JAR)) {
            System.setProperty(NativeBaker.PROP_PATH, FIXTURE.toString());
            call(cl, "NativeBaker", "load");
            fail("loaded a library whose dependency is missing");
        } catch (UnsatisfiedLinkError e) {
            assertTrue(e.getMessage(), e.getMessage().contains("the shared library libbakeami-fixture-gone.so.1 is missing"));
        } finally {
            System.clearProperty(NativeBaker.PROP_PATH);
        }
    }

    /** The real dlerror text, with the library named as each of ours: the package to install. */
    @Test
    public void eachDependencyMapsToItsPackages() {
        String real;
        try {
            System.load(FIXTURE.toString());
            throw new AssertionError("loaded the fixture");
        } catch (UnsatisfiedLinkError e) {
            real = e.getMessage();
        }
        assertTrue(real, real.contains("libbakeami-fixture-gone.so.1: cannot open shared object file"));
        Map<String, String[]> expect = Map.of(
                "libcurl.so.4", new String[] {"apt-get install libcurl4", "dnf install libcurl"},
                "libssh2.so.1", new String[] {"apt-get install libssh2-1", "dnf install libssh2"},
                "libcjson.so.1", new String[] {"apt-get install libcjson1", "dnf install cjson"},
                "libxml2.so.2", new String[] {"apt-get install libxml2", "dnf install libxml2"},
                "libcrypto.so.3", new String[] {"apt-get install libssl3", "dnf install openssl-libs"});
        for (Map.Entry<String, String[]> e : expect.entrySet()) {
            String msg = NativeBaker.explain(new UnsatisfiedLinkError(
                    real.replace("libbakeami-fixture-gone.so.1", e.getKey()))).getMessage();
            assertTrue(msg, msg.contains("the shared library " + e.getKey() + " is missing"));
            for (String s : e.getValue()) {
                assertTrue(msg, msg.contains(s));
            }
        }
    }

    /** C raises errors through NativeBaker.throwex; strings cross as UTF-8 both ways. */
    @Test
    public void nativeErrorsAreBakeExceptionsWithUtf8Messages() throws Exception {
        Path dir = Files.createTempDirectory("bakeami-ütf8-");
        Path missing = dir.resolve("tëmplate-ünïcode-✓.json");
        try {
            Bake.validate(new BakeOptions().template(missing.toString()));
            fail("validated a missing template");
        } catch (BakeException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("tëmplate-ünïcode-✓.json"));
            assertTrue(e.getCode() < 0);
            assertEquals(2, e.getExitCode());
        }
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"builders\": [ {\"type\": \"amazon-ebs\",", StandardCharsets.UTF_8);
        try {
            Bake.validate(new BakeOptions().template(bad.toString()));
            fail("validated a truncated template");
        } catch (BakeException e) {
            assertEquals(BakeException.EINVALID, e.getCode());
            assertEquals(2, e.getExitCode());
        } finally {
            io.bakeami.test.fakes.Workspaces.delete(dir);
        }
    }

    @Test
    public void aBakeHandleLivesAndDies() throws Exception {
        Path template = REPO.resolve("tests/e2e/templates/bake.json");
        Bake bake = Bake.create(new BakeOptions().template(template.toString()).var("ssh_port", "1")
                .credentials("AKIDEXAMPLE", "not-a-secret", null), e -> {});
        String runId = bake.runId();
        assertTrue(runId, runId.startsWith("bk-"));
        bake.cancel(); // before run: harmless
        bake.close();
        bake.close(); // twice: harmless
        bake.cancel(); // after close: harmless
        assertEquals(null, bake.runId());
        try {
            bake.run();
            fail("ran a closed bake");
        } catch (IllegalStateException expected) {
            // closed
        }
    }

    @Test
    public void aNulInAnOptionIsRefusedInJava() throws Exception {
        try {
            Bake.validate(new BakeOptions().template("a\0b.json"));
            fail("passed a NUL to C");
        } catch (IllegalArgumentException expected) {
            // C strings cannot hold it
        }
    }
}
