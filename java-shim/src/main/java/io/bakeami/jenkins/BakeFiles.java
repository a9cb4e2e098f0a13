package io.bakeami.jenkins;

import java.io.BufferedWriter;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import io.bakeami.nativelib.Bake;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * What one Jenkins bake leaves in the workspace, on the agent, so that it can be read after the
 * controller stopped listening (a timeout, a forced termination, a restart):
 * {@code .bakeami/jenkins-<key>/bake.log} (every console line of the bake, its cleanup
 * included), {@code outcome.properties} (how it ended, written when it ended) and the journal,
 * {@code .bakeami/journal/jenkins-<key>.jsonl}. Plain text only: the workspace is writable by
 * the build, so nothing here is deserialized.
 */
final class BakeFiles {
    /** Written to bake.log when the controller stops listening; a reattach replays what follows. */
    static final String DETACHED = "[bakeAmi] the controller stopped listening";

    final File dir;
    final File log;
    final File outcome;
    final File journal;
    /** Locked by the agent thread that runs the bake, for as long as it runs. */
    final File lock;
    /** Made by a resumed step that follows the bake (another class loader: a new channel). */
    final File attached;
    /** Made to cancel the bake from another class loader than the one running it. */
    final File cancel;

    BakeFiles(File ws, String key) {
        this.dir = new File(ws, ".bakeami/jenkins-" + key);
        this.log = new File(dir, "bake.log");
        this.outcome = new File(dir, "outcome.properties");
        this.journal = new File(ws, ".bakeami/journal/jenkins-" + key + ".jsonl");
        this.lock = new File(dir, "running.lock");
        this.attached = new File(dir, "attached");
        this.cancel = new File(dir, "cancel");
    }

    /**
     * Holds {@link #lock} until closed. On a reconnect the agent loads this plugin's classes
     * anew (a new remoting class loader), so the bake's thread is out of the new classes' sight;
     * the lock is not: a JVM's file locks are shared by all its class loaders.
     */
    FileChannel lockRunning() throws IOException {
        FileChannel ch = FileChannel.open(lock.toPath(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            if (ch.tryLock() == null) {
                throw new IOException(lock + " is locked: this bake is running already");
            }
        } catch (OverlappingFileLockException | IOException e) {
            ch.close();
            throw e instanceof IOException io ? io : new IOException(lock + " is locked: this bake is running already");
        }
        return ch;
    }

    /** Whether a thread of this JVM (any class loader) or another process runs the bake now. */
    boolean isRunning() throws IOException {
        if (!lock.isFile()) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(lock.toPath(), StandardOpenOption.WRITE)) {
            FileLock l = ch.tryLock();
            if (l == null) {
                return true;
            }
            l.release();
            return false;
        } catch (OverlappingFileLockException e) {
            return true;
        }
    }

    /** Makes an empty marker file (attached, cancel). */
    static void touch(File f) throws IOException {
        Files.write(f.toPath(), new byte[0]);
    }

    /** The log's path as the console shows it (the agent's path in the workspace). */
    String logPath() {
        return log.getPath();
    }

    /** The folder, made now (named in the exception when it cannot be). */
    void create() throws IOException {
        Files.createDirectories(dir.toPath());
    }

    /** Records how the bake ended: written to a temporary file, then moved into place. */
    void writeOutcome(BakeOutcome o) throws IOException {
        Properties p = new Properties();
        put(p, "code", Integer.toString(o.code));
        put(p, "exitCode", Integer.toString(o.exitCode));
        put(p, "message", o.message);
        put(p, "ami", o.ami);
        put(p, "region", o.region);
        put(p, "runId", o.runId);
        for (int i = 0; i < o.builds.size(); i++) { // each build: a restart keeps the map of several
            Bake.Build b = o.builds.get(i);
            put(p, "build." + i + ".name", b.name());
            put(p, "build." + i + ".type", b.type());
            put(p, "build." + i + ".runId", b.runId());
            put(p, "build." + i + ".ami", b.ami());
            put(p, "build." + i + ".region", b.region());
            put(p, "build." + i + ".error", b.error());
        }
        Path tmp = new File(dir, "outcome.properties.tmp").toPath();
        try (OutputStream out = Files.newOutputStream(tmp)) {
            p.store(out, "how the bake ended");
        }
        Files.move(tmp, outcome.toPath(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** How the bake ended, or null when it has not (or left no outcome). */
    BakeOutcome readOutcome() throws IOException {
        if (!outcome.isFile()) {
            return null;
        }
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(outcome.toPath())) {
            p.load(in);
        }
        try {
            return BakeOutcome.of(Integer.parseInt(p.getProperty("code", "-1")),
                    Integer.parseInt(p.getProperty("exitCode", "1")), p.getProperty("message"), p.getProperty("ami"),
                    p.getProperty("region"), p.getProperty("runId"), builds(p));
        } catch (NumberFormatException e) {
            throw new IOException(outcome + ": not an outcome this plugin wrote", e);
        }
    }

    private static List<Bake.Build> builds(Properties p) {
        List<Bake.Build> builds = new ArrayList<>();
        for (int i = 0; p.getProperty("build." + i + ".name") != null; i++) {
            String b = "build." + i + ".";
            builds.add(new Bake.Build(p.getProperty(b + "name"), p.getProperty(b + "type"), p.getProperty(b + "runId"),
                    p.getProperty(b + "ami"), p.getProperty(b + "region"), p.getProperty(b + "error")));
        }
        return builds;
    }

    /**
     * The bake's journals on disk: the one, or with several builds one per build (the library
     * puts ".<build>" before the extension), in name order.
     */
    List<File> journals() {
        List<File> found = new ArrayList<>();
        if (journal.isFile()) {
            found.add(journal);
        }
        String stem = journal.getName().replaceFirst("\\.jsonl$", ".");
        File[] perBuild = journal.getParentFile().listFiles((d, n) -> n.startsWith(stem) && n.endsWith(".jsonl")
                && !n.equals(journal.getName()));
        if (perBuild != null) {
            Arrays.sort(perBuild);
            found.addAll(Arrays.asList(perBuild));
        }
        return found;
    }

    private static void put(Properties p, String k, String v) {
        if (v != null) {
            p.setProperty(k, v);
        }
    }

    /** The byte offset in bake.log just after its last {@link #DETACHED} line (0 without one). */
    long offsetAfterDetached() throws IOException {
        byte[] all = log.isFile() ? Files.readAllBytes(log.toPath()) : new byte[0];
        byte[] marker = DETACHED.getBytes(StandardCharsets.UTF_8);
        long after = 0;
        int lineStart = 0;
        for (int i = 0; i < all.length; i++) {
            if (all[i] == '\n') {
                if (startsWith(all, lineStart, i, marker)) {
                    after = i + 1;
                }
                lineStart = i + 1;
            }
        }
        return after;
    }

    private static boolean startsWith(byte[] b, int from, int to, byte[] prefix) {
        if (to - from < prefix.length) {
            return false;
        }
        for (int k = 0; k < prefix.length; k++) {
            if (b[from + k] != prefix[k]) {
                return false;
            }
        }
        return true;
    }

    /**
     * Prints the whole lines bake.log holds from {@code offset} on (a line still being written
     * waits for the next call); returns the offset after the last one printed.
     */
    long printFrom(long offset, PrintStream to) throws IOException {
        if (!log.isFile()) {
            return offset;
        }
        try (RandomAccessFile f = new RandomAccessFile(log, "r")) {
            long len = f.length();
            if (len <= offset) {
                return offset;
            }
            byte[] b = new byte[(int) Math.min(len - offset, 1 << 20)];
            f.seek(offset);
            f.readFully(b);
            int end = b.length;
            while (end > 0 && b[end - 1] != '\n') {
                end--;
            }
            if (end > 0) {
                to.print(new String(b, 0, end, StandardCharsets.UTF_8));
                to.flush();
            }
            return offset + end;
        }
    }

    /**
     * The bake's console: every line goes to bake.log (flushed: it is what survives the
     * controller) and to the build's console while one listens. A console that fails (the build
     * ended, the channel closed) is dropped; the file goes on.
     */
    static final class Log implements AutoCloseable {
        private final BakeFiles files;
        private final BufferedWriter file;
        private PrintStream console; // guarded by this

        Log(BakeFiles f, PrintStream console) throws IOException {
            f.create();
            this.files = f;
            this.file = Files.newBufferedWriter(f.log.toPath(), StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
            this.console = console;
        }

        synchronized void line(String s) {
            toFile(s);
            if (console != null) {
                console.println(s);
                console.flush(); // Pipeline's remote log would otherwise hold it for up to seconds
                if (console.checkError()) {
                    console = null;
                }
            }
        }

        private void toFile(String s) {
            try {
                file.write(s);
                file.newLine();
                file.flush();
            } catch (IOException e) {
                // a full disk must not stop the bake, nor its cleanup
            }
        }

        /**
         * Marks in bake.log where the controller stopped listening (a reattach replays what
         * follows). The console stays: after an abort it still shows the cleanup; after a
         * closed channel its writes fail and it is dropped.
         */
        synchronized void detach() {
            toFile(DETACHED + " at " + java.time.Instant.now() + "; the bake goes on here");
        }

        @Override
        public synchronized void close() {
            console = null;
            try {
                file.close();
            } catch (IOException e) {
                // the lines are flushed already
            }
        }
    }
}
