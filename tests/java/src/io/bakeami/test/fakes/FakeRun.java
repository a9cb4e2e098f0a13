package io.bakeami.test.fakes;

import hudson.model.Run;

/** Build #7 of job bakeami-e2e (or as given), whose artifacts go to a {@link FakeArtifactManager}. */
public final class FakeRun extends Run<FakeJob, FakeRun> {
    private final FakeArtifactManager artifacts = new FakeArtifactManager();
    private final String id;
    private final int number;

    public FakeRun() {
        this("bakeami-e2e#7", 7);
    }

    /** externalizableId: "FOLDER/JOB#NUMBER". */
    public FakeRun(String externalizableId, int number) {
        this.id = externalizableId;
        this.number = number;
        standInArtifactManager(artifacts);
    }

    public FakeArtifactManager artifacts() {
        return artifacts;
    }

    @Override
    public String getExternalizableId() {
        return id;
    }

    @Override
    public String getUrl() {
        return "job/bakeami-e2e/7/";
    }

    @Override
    public int getNumber() {
        return number;
    }
}
