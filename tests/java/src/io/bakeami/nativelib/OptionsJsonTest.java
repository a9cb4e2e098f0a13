package io.bakeami.nativelib;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.Test;

/**
 * The options' one encoding across JNI: BakeOptions writes a JSON document, the library
 * (bakeami_options_from_json) reads it, bakeami_options_to_json writes back what it read.
 */
public class OptionsJsonTest {
    private static final Path REPO = Paths.get(System.getProperty("bakeami.test.repo"));

    /** Every option set, with values that need escaping. */
    private static BakeOptions everyOption() {
        return new BakeOptions()
                .template("/ws/images/wëb \"prod\".json")
                .var("version", "7")
                .var("motd=line one\nline two\ttab \\ back\u0001\b\f")
                .varFile("/ws/a.json")
                .varFile("/ws/b ✓.json")
                .region("eu-west-3")
                .credentials("AKIDEXAMPLE", "s3\"cr3t", "t0k3n")
                .journal("/ws/.bakeami/journal/j.jsonl")
                .manifest("/ws/out/manifest.json")
                .junit("/ws/out/junit.xml")
                .result("/ws/out/result.json")
                .onErrorAbort(true)
                .debug(true)
                .extraTag("BUILD_URL", "https://ci/job/x/7/")
                .extraTag("jenkins:run=x#7")
                .reuse(false)
                .only(List.of("web", "amazon-ebs"))
                .except(List.of("db ✓"))
                .logDir("/ws/bakeami-logs")
                .role("arn:aws:iam::123456789012:role/baker", "ext-42", "bakeami-web-7", 7200)
                .mfa("arn:aws:iam::123456789012:mfa/ci", "987650");
    }

    private static String json(BakeOptions o) {
        return new String(o.toJson(), StandardCharsets.UTF_8);
    }

    private static BakeException refused(String doc) {
        try {
            Bake.libraryView(doc.getBytes(StandardCharsets.UTF_8));
        } catch (BakeException e) {
            assertEquals(e.getMessage(), BakeException.EINVALID, e.getCode());
            assertEquals(2, e.getExitCode());
            return e;
        }
        throw new AssertionError("the library took " + doc);
    }

    @Test
    public void everyOptionRoundTripsThroughTheLibrary() throws Exception {
        String sent = json(everyOption());
        String read = Bake.libraryView(everyOption().toJson());
        assertEquals("what the library read, written back, is what Java sent", sent, read);
        for (String part : new String[] {"\"template_path\":\"/ws/images/wëb \\\"prod\\\".json\"",
                "\"vars\":[\"version=7\",\"motd=line one\\nline two\\ttab \\\\ back\\u0001\\b\\f\"]",
                "\"var_files\":[\"/ws/a.json\",\"/ws/b ✓.json\"]", "\"region\":\"eu-west-3\"",
                "\"access_key_id\":\"AKIDEXAMPLE\"", "\"secret_access_key\":\"s3\\\"cr3t\"",
                "\"session_token\":\"t0k3n\"", "\"journal_path\":\"/ws/.bakeami/journal/j.jsonl\"",
                "\"manifest_path\":\"/ws/out/manifest.json\"", "\"junit_path\":\"/ws/out/junit.xml\"",
                "\"result_path\":\"/ws/out/result.json\"", "\"on_error_abort\":true", "\"debug\":true",
                "\"extra_tags\":[\"BUILD_URL=https://ci/job/x/7/\",\"jenkins:run=x#7\"]", "\"reuse\":false",
                "\"only\":[\"web\",\"amazon-ebs\"]", "\"except\":[\"db ✓\"]",
                "\"log_dir\":\"/ws/bakeami-logs\"", "\"role_arn\":\"arn:aws:iam::123456789012:role/baker\"",
                "\"role_external_id\":\"ext-42\"", "\"role_session_name\":\"bakeami-web-7\"",
                "\"role_duration_seconds\":7200", "\"role_mfa_serial\":\"arn:aws:iam::123456789012:mfa/ci\"",
                "\"role_mfa_token\":\"987650\""}) {
            assertTrue(read + " lacks " + part, read.contains(part));
        }
    }

    /** A field added to BakeOptions and forgotten in toJson() fails here. */
    @Test
    public void everyFieldIsEncoded() {
        long fields = Arrays.stream(BakeOptions.class.getDeclaredFields())
                .filter(f -> !Modifier.isStatic(f.getModifiers())).count();
        Matcher m = Pattern.compile("\"([a-z_]+)\":").matcher(json(everyOption()));
        int keys = 0;
        while (m.find()) {
            keys++;
        }
        assertEquals("keys besides version", fields, keys - 1);
    }

    /** The JSON keys are the C struct's field names, one for one. */
    @Test
    public void theKeysAreTheFieldsOfBakeamiOptions() throws Exception {
        String h = java.nio.file.Files.readString(REPO.resolve("native/include/bakeami.h"));
        String struct = h.substring(h.indexOf("typedef struct {\n\tunsigned int version;          /* BAKEAMI_OPTIONS_VERSION"));
        struct = struct.substring(0, struct.indexOf("} bakeami_options;"));
        Matcher m = Pattern.compile("\"([a-z_]+)\":").matcher(json(everyOption()));
        while (m.find()) {
            String key = m.group(1);
            assertTrue(key + " is not a field of bakeami_options",
                    Pattern.compile("[ *]" + key + ";").matcher(struct).find());
        }
    }

    @Test
    public void unsetOptionsAreLeftOut() throws Exception {
        BakeOptions o = new BakeOptions().template("t.json");
        assertEquals("{\"version\":5,\"template_path\":\"t.json\"}", json(o));
        assertEquals(json(o), Bake.libraryView(o.toJson()));
    }

    /** reuse is three-valued, as the CLI's --reuse / --no-reuse / neither: each survives the library. */
    @Test
    public void reuseKeepsItsThreeValues() throws Exception {
        String base = "{\"version\":5,\"template_path\":\"t.json\"";
        assertEquals(base + ",\"reuse\":true}", Bake.libraryView(new BakeOptions().template("t.json").reuse(true).toJson()));
        assertEquals(base + ",\"reuse\":false}", Bake.libraryView(new BakeOptions().template("t.json").reuse(false).toJson()));
        assertEquals(base + "}", Bake.libraryView(new BakeOptions().template("t.json").reuse(null).toJson()));
    }

    @Test
    public void anUnknownKeyIsNamed() {
        BakeException e = refused("{\"version\":1,\"template_path\":\"t.json\",\"regoin\":\"eu-west-3\"}");
        assertTrue(e.getMessage(), e.getMessage().contains("unknown key \"regoin\""));
        e = refused("{\"templatePath\":\"t.json\"}"); // Java's name is not the library's
        assertTrue(e.getMessage(), e.getMessage().contains("unknown key \"templatePath\""));
    }

    @Test
    public void aWrongTypeIsNamed() {
        BakeException e = refused("{\"on_error_abort\":\"yes\"}");
        assertTrue(e.getMessage(), e.getMessage().contains("\"on_error_abort\" must be true or false"));
        e = refused("{\"vars\":\"a=1\"}");
        assertTrue(e.getMessage(), e.getMessage().contains("\"vars\" must be an array of strings"));
        e = refused("{\"region\":[\"eu-west-3\"]}");
        assertTrue(e.getMessage(), e.getMessage().contains("\"region\" must be a string"));
        e = refused("{\"version\":99}");
        assertTrue(e.getMessage(), e.getMessage().contains("\"version\" must be 1"));
    }

    /** A bad document also fails Bake.create and Bake.validate the same way (their one path). */
    @Test
    public void createAndValidateReadTheSameDocument() throws Exception {
        try {
            Bake.validate(new BakeOptions()); // no template
            fail("validated without a template");
        } catch (BakeException e) {
            assertEquals(BakeException.EINVALID, e.getCode());
        }
        try (Bake b = Bake.create(new BakeOptions().template("/nonexistent/t.json").region("eu-west-3"), null)) {
            assertNull("the region is known once the run resolved it", b.region());
            assertTrue(b.runId().startsWith("bk-"));
        }
    }

    /** The request travels controller -> agent by Java serialization, secrets and all. */
    @Test
    public void theOptionsSerialize() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(everyOption());
        }
        BakeOptions back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (BakeOptions) in.readObject();
        }
        assertEquals(json(everyOption()), json(back));
        assertEquals(List.of("version=7", "motd=line one\nline two\ttab \\ back\u0001\b\f"), back.vars());
        for (String secret : new String[] {"s3\"cr3t", "t0k3n", "ext-42", "987650"}) {
            assertTrue(back.toString(), !back.toString().contains(secret));
        }
    }

    /** What a later cleanup signs with: the keys and the role, not the MFA code (good once). */
    @Test
    public void credentialsOnlyKeepsTheKeysAndTheRole() {
        BakeOptions c = everyOption().credentialsOnly();
        assertEquals("{\"version\":5,\"access_key_id\":\"AKIDEXAMPLE\",\"secret_access_key\":\"s3\\\"cr3t\","
                + "\"session_token\":\"t0k3n\",\"role_arn\":\"arn:aws:iam::123456789012:role/baker\","
                + "\"role_external_id\":\"ext-42\",\"role_session_name\":\"bakeami-web-7\","
                + "\"role_duration_seconds\":7200,\"role_mfa_serial\":\"arn:aws:iam::123456789012:mfa/ci\"}", json(c));
        assertTrue(!c.hasMfaToken());
    }

    @Test
    public void aCopyIsIndependent() {
        BakeOptions a = everyOption();
        BakeOptions b = a.copy().var("x=1").varFiles(List.of());
        assertEquals(json(everyOption()), json(a));
        assertEquals(3, b.vars().size());
        assertTrue(b.varFiles().isEmpty());
        for (Field f : BakeOptions.class.getDeclaredFields()) {
            assertTrue(f.getName(), Modifier.isPrivate(f.getModifiers()));
        }
    }
}
