package io.bakeami.test.fakes;

import hudson.model.Job;
import hudson.security.Permission;

public final class FakeJob extends Job<FakeJob, FakeRun> {
    @Override
    public boolean hasPermission(Permission permission) {
        return true;
    }
}
