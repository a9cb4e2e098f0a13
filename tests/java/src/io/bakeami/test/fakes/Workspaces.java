package io.bakeami.test.fakes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

/** Temporary workspaces holding a copy of tests/e2e/templates (bake.json and files/). */
public final class Workspaces {
    private Workspaces() {}

    public static Path repo() {
        return Paths.get(System.getProperty("bakeami.test.repo", "."));
    }

    /** Deletes a tree, best effort. */
    public static void delete(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort
        }
    }

    public static Path withE2eTemplates() throws IOException {
        Path ws = Files.createTempDirectory("bakeami-ws-");
        Path src = repo().resolve("tests/e2e/templates");
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path dst = ws.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(dst);
                } else {
                    Files.copy(p, dst, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        return ws;
    }
}
