package io.bakeami.test.fakes;

import hudson.model.Run;

/** Build #7 of job bakeami-e2e, whose artifacts go to a {@link FakeArtifactManager}. */
public final class FakeRun extends Run<FakeJob, FakeRun> {
    private final FakeArtifactManager artifacts = new FakeArtifactManager();

    public FakeRun() {
        standInArtifactManager(artifacts);
    }

    public FakeArtifactManager artifacts() {
        return artifacts;
    }

    @Override
    public String getExternalizableId() {
        return "bakeami-e2e#7";
    }

    @Override
    public String getUrl() {
        return "job/bakeami-e2e/7/";
    }

    @Override
    public int getNumber() {
        return 7;
    }
}
