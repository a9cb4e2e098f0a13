package io.bakeami.nativelib;

import edu.umd.cs.findbugs.annotations.SuppressFBWarnings;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Loads libbakeami-jni.so, the JNI bridge to libbakeami, from this jar.
 *
 * <p>The library sits in the jar at {@code io/bakeami/native/<os>-<arch>/libbakeami-jni.so}. It
 * is extracted under {@code <dir>/<sha256 of the library>/<class-loader id>/} and loaded from
 * there. A JVM refuses to load one file into two class loaders, and Jenkins loads this class
 * once per plugin class loader and again on every agent reconnect, so each class loader gets its
 * own copy (a copy, not a hard link: glibc's dlopen would hand back the already-mapped object
 * for the same inode, and two class loaders would share the cached class references of
 * JNI_OnLoad). Extraction and loading run under a FileLock on {@code <dir>/<sha256>/.lock}, the
 * copy's bytes are checked against the sha256 before System.load, and the copy is deleted once
 * loaded (Linux keeps the mapping); a copy found while holding the lock was left by a JVM that
 * died mid-load and is removed.
 *
 * <p>System properties: {@code bakeami.native.dir} (default {@code java.io.tmpdir/bakeami-native};
 * set it when /tmp is mounted noexec) and {@code bakeami.native.path} (load this file as is,
 * for development).
 */
public final class NativeBaker {
    public static final String LIBRARY = "libbakeami-jni.so";
    public static final String PROP_DIR = "bakeami.native.dir";
    public static final String PROP_PATH = "bakeami.native.path";
    static final String RESOURCE_ROOT = "io/bakeami/native/";
    /** The platforms a release carries (only those built are in a given jar). */
    static final String[] PLATFORMS = {"linux-x86_64", "linux-aarch64"};

    /** Unique per class loader (this class is loaded once per class loader). */
    static final String LOADER_ID = "cl-" + Long.toHexString(ProcessHandle.current().pid()) + "-"
            + UUID.randomUUID().toString().substring(0, 8);

    private static final Object LOCK = new Object();
    private static volatile String loadedFrom;

    private NativeBaker() {}

    /**
     * Loads the native library once per class loader. Throws UnsatisfiedLinkError with a message
     * a Jenkins user can act on (unsupported platform, a missing shared library and the package
     * that provides it, a noexec temp directory).
     */
    public static void load() {
        if (loadedFrom != null) {
            return;
        }
        synchronized (LOCK) {
            if (loadedFrom != null) {
                return;
            }
            String explicit = System.getProperty(PROP_PATH);
            String path = explicit != null && !explicit.isEmpty() ? loadExplicit(explicit) : extractAndLoad();
            try {
                init0();
            } catch (BakeException e) {
                UnsatisfiedLinkError u = new UnsatisfiedLinkError("bakeami: the native library did not initialise: "
                        + e.getMessage());
                u.initCause(e);
                throw u;
            }
            loadedFrom = path;
        }
    }

    /** The file the library was loaded from (deleted after loading unless given explicitly), or null. */
    public static String loadedFrom() {
        return loadedFrom;
    }

    /** The native library's version (BAKEAMI_VERSION); loads it first. */
    public static String version() {
        load();
        return Bake.str(version0());
    }

    /** The exit code the CLI uses for a library error code. */
    public static int exitCode(int code) {
        load();
        return exitCode0(code);
    }

    /** The platform folder of this JVM, e.g. "linux-x86_64". */
    public static String platform() {
        return platform(System.getProperty("os.name", ""), System.getProperty("os.arch", ""), isMusl());
    }

    static String platform(String osName, String osArch, boolean musl) {
        String os = osName.toLowerCase(Locale.ROOT);
        String arch = osArch.toLowerCase(Locale.ROOT);
        String o = os.startsWith("linux") ? (musl ? "linux-musl" : "linux")
                : os.startsWith("mac") || os.startsWith("darwin") ? "mac"
                : os.startsWith("windows") ? "windows"
                : os.replaceAll("[^a-z0-9]+", "");
        String a = switch (arch) {
            case "amd64", "x86_64", "x86-64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch.replaceAll("[^a-z0-9_]+", "");
        };
        return o + "-" + a;
    }

    @SuppressFBWarnings(value = "DMI_HARDCODED_ABSOLUTE_FILENAME",
            justification = "musl's dynamic loader is /lib/ld-musl-<arch>.so.1 by the musl ABI, on every distribution")
    private static boolean isMusl() {
        File lib = new File("/lib");
        String[] names = lib.list((d, n) -> n.startsWith("ld-musl-"));
        return names != null && names.length > 0;
    }

    // ---- loading ---------------------------------------------------------------------------

    private static String loadExplicit(String file) {
        try {
            System.load(new File(file).getAbsolutePath());
        } catch (UnsatisfiedLinkError e) {
            throw explain(e);
        }
        return file;
    }

    private static String extractAndLoad() {
        String platform = platform();
        String resource = RESOURCE_ROOT + platform + "/" + LIBRARY;
        byte[] lib;
        try {
            lib = readResource(resource);
        } catch (IOException e) {
            throw linkError("bakeami: cannot read " + resource + " from the plugin: " + e, e);
        }
        if (lib == null) {
            throw new UnsatisfiedLinkError("bakeami: no native library for this agent's platform " + platform
                    + " (os.name=" + System.getProperty("os.name") + ", os.arch=" + System.getProperty("os.arch")
                    + "); the plugin carries " + String.join(", ", PLATFORMS) + " (glibc). Run bakeAmi on a Linux"
                    + " x86_64 or aarch64 agent.");
        }
        String sha = sha256(lib);
        Path base = baseDir().resolve(sha);
        Path mine = base.resolve(LOADER_ID);
        Path so = mine.resolve(LIBRARY);
        try {
            Files.createDirectories(base);
            try (FileChannel ch = FileChannel.open(base.resolve(".lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE); FileLock ignored = lockInterJvm(ch)) {
                removeStaleCopies(base);
                Files.createDirectories(mine);
                Path tmp = mine.resolve(LIBRARY + ".part");
                Files.write(tmp, lib);
                Files.move(tmp, so, StandardCopyOption.ATOMIC_MOVE);
                so.toFile().setExecutable(true, false);
                String got = sha256(Files.readAllBytes(so));
                if (!got.equals(sha)) {
                    throw new UnsatisfiedLinkError("bakeami: the extracted " + so + " is corrupt (sha256 " + got
                            + ", expected " + sha + "); is " + base + " on a full or faulty file system?");
                }
                try {
                    System.load(so.toAbsolutePath().toString());
                } catch (UnsatisfiedLinkError e) {
                    throw explain(e);
                } finally {
                    deleteTree(mine); // loaded or not, this copy is done with
                }
            }
        } catch (IOException e) {
            throw linkError("bakeami: cannot extract the native library to " + base + ": " + e
                    + " (set -D" + PROP_DIR + "=<a writable directory>)", e);
        }
        return so.toString();
    }

    private static Path baseDir() {
        String dir = System.getProperty(PROP_DIR);
        if (dir == null || dir.isEmpty()) {
            return Paths.get(System.getProperty("java.io.tmpdir"), "bakeami-native");
        }
        return Paths.get(dir);
    }

    /**
     * A FileLock keeps other JVMs out. Inside this JVM the lock belongs to the process, so another
     * class loader's thread holding it shows as OverlappingFileLockException: wait for it.
     */
    private static FileLock lockInterJvm(FileChannel ch) throws IOException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (true) {
            try {
                return ch.lock();
            } catch (OverlappingFileLockException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("timed out waiting for the lock on the native library directory", e);
                }
                try {
                    Thread.sleep(5);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while waiting for the native library lock", ie);
                }
            }
        }
    }

    /** Holding the lock, any per-loader copy is a leftover of a JVM that died while loading. */
    private static void removeStaleCopies(Path base) {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(base, "cl-*")) {
            for (Path p : ds) {
                deleteTree(p);
            }
        } catch (IOException e) {
            // best effort
        }
    }

    private static void deleteTree(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(NativeBaker::deleteQuietly);
        } catch (IOException | UncheckedIOException e) {
            // best effort
        }
    }

    /** A copy another JVM still holds open stays; the next start tries again. */
    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // best effort
        }
    }

    private static byte[] readResource(String name) throws IOException {
        ClassLoader cl = NativeBaker.class.getClassLoader();
        try (InputStream in = cl != null ? cl.getResourceAsStream(name) : ClassLoader.getSystemResourceAsStream(name)) {
            if (in == null) {
                return null;
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 20);
            in.transferTo(out);
            return out.toByteArray();
        }
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static UnsatisfiedLinkError linkError(String msg, Throwable cause) {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError(msg);
        e.initCause(cause);
        return e;
    }

    // ---- making UnsatisfiedLinkError actionable --------------------------------------------

    /**
     * The shared libraries libbakeami-jni.so needs: soname -> {Debian/Ubuntu package, RHEL/Fedora
     * package, note}.
     */
    static final Map<String, String[]> PACKAGES = Map.of(
            "libcurl.so.4", new String[] {"libcurl4", "libcurl", " (libcurl4t64 on Debian 13 and Ubuntu 24.04)"},
            "libssh2.so.1", new String[] {"libssh2-1", "libssh2", " (libssh2-1t64 on Debian 13 and Ubuntu 24.04)"},
            "libcjson.so.1", new String[] {"libcjson1", "cjson", " (cjson is in EPEL)"},
            "libxml2.so.2", new String[] {"libxml2", "libxml2", ""},
            "libcrypto.so.3", new String[] {"libssl3", "openssl-libs", " (libssl3t64 on Debian 13 and Ubuntu 24.04)"});

    /** glibc's dlerror text, as the JVM puts it in the UnsatisfiedLinkError. */
    private static final Pattern MISSING = Pattern.compile("([^\\s:/]+\\.so(?:\\.[0-9]+)*): cannot open shared object file");

    /**
     * Rewrites the UnsatisfiedLinkError of System.load into one that names the missing shared
     * library and the package to install; other errors get a hint about noexec directories.
     */
    public static UnsatisfiedLinkError explain(UnsatisfiedLinkError e) {
        UnsatisfiedLinkError x = new UnsatisfiedLinkError(explainMessage(String.valueOf(e.getMessage())));
        x.initCause(e);
        return x;
    }

    static String explainMessage(String msg) {
        Matcher m = MISSING.matcher(msg);
        if (m.find() && !msg.contains(LIBRARY + ": cannot open shared object file")) {
            String lib = m.group(1);
            String[] pkg = PACKAGES.get(lib);
            String install = pkg != null
                    ? "Install it on the agent: Debian/Ubuntu: apt-get install " + pkg[0] + "; RHEL/Fedora: dnf install "
                            + pkg[1] + pkg[2] + "."
                    : "Install the package that provides it on the agent.";
            return "bakeAmi cannot load its native library on this agent: the shared library " + lib
                    + " is missing. " + install + " (" + msg + ")";
        }
        if (msg.contains("failed to map segment") || msg.contains("operation not permitted")) {
            return "bakeAmi cannot load its native library: " + msg + ". The directory may be mounted noexec;"
                    + " set -D" + PROP_DIR + "=<a directory that allows executables> on the agent.";
        }
        return "bakeAmi cannot load its native library: " + msg;
    }

    // ---- called from C -------------------------------------------------------------------------

    /** The bridge's only way to raise an error (sqlite-jdbc's throwex): C calls this, then returns. */
    @SuppressWarnings("unused")
    static void throwex(int code, byte[] msgUtf8) throws BakeException {
        String msg = msgUtf8 == null ? "" : new String(msgUtf8, StandardCharsets.UTF_8);
        throw new BakeException(code, exitCode0(code), msg);
    }

    // ---- natives (native/jni/NativeBaker.c) ----------------------------------------------------

    private static native byte[] version0();

    private static native void init0() throws BakeException;

    private static native int exitCode0(int code);

    static native byte[] strerror0(int code);
}
