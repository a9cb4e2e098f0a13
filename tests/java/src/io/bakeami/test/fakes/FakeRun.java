package io.bakeami.test.fakes;

import hudson.model.Run;

/** Build #7 of job bakeami-e2e. */
public final class FakeRun extends Run<FakeJob, FakeRun> {
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
