package io.bakeami.test.fakes;

import edu.umd.cs.findbugs.annotations.NonNull;
import hudson.FilePath;
import hudson.Launcher;
import hudson.model.BuildListener;
import hudson.model.Run;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Map;
import java.util.TreeMap;
import jenkins.model.ArtifactManager;

/**
 * What StandardArtifactManager does, in memory: each artifact is copied from the workspace
 * (here a folder of this JVM, the in-process "agent") under its archive name; archiving twice
 * keeps both sets. Records the listener it was given.
 */
public final class FakeArtifactManager extends ArtifactManager {
    private final Map<String, byte[]> archived = new TreeMap<>();
    private BuildListener listener;

    @Override
    public void onLoad(@NonNull Run<?, ?> build) {}

    @Override
    public synchronized void archive(FilePath workspace, Launcher launcher, BuildListener listener,
            Map<String, String> artifacts) throws IOException {
        this.listener = listener;
        for (Map.Entry<String, String> e : artifacts.entrySet()) {
            archived.put(e.getKey(), Files.readAllBytes(new File(workspace.getRemote(), e.getValue()).toPath()));
        }
    }

    @Override
    public synchronized boolean delete() {
        boolean had = !archived.isEmpty();
        archived.clear();
        return had;
    }

    /** Archive name -> the bytes archived. */
    public synchronized Map<String, byte[]> archived() {
        return new TreeMap<>(archived);
    }

    public synchronized BuildListener listener() {
        return listener;
    }
}
