package io.bakeami.test;

import java.util.ArrayList;
import java.util.List;
import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Request;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs JUnit 4 classes (or Class#method) and ends with exactly one line "N passed, N failed",
 * which CI reads; exits 1 on any failure or when nothing ran.
 */
public final class RunTests {
    private RunTests() {}

    public static void main(String[] args) throws Exception {
        JUnitCore core = new JUnitCore();
        core.addListener(new RunListener() {
            private long t0;

            @Override
            public void testStarted(Description d) {
                t0 = System.nanoTime();
                System.out.println("== " + d.getClassName() + "." + d.getMethodName());
                System.out.flush();
            }

            @Override
            public void testFailure(Failure f) {
                System.out.println("FAIL " + f.getDescription().getMethodName() + ": " + f.getMessage());
                System.out.println(f.getTrace());
            }

            @Override
            public void testFinished(Description d) {
                System.out.printf("   done %s (%.1f s)%n", d.getMethodName(), (System.nanoTime() - t0) / 1e9);
                System.out.flush();
            }
        });
        int run = 0;
        int failed = 0;
        int ignored = 0;
        List<String> failures = new ArrayList<>();
        for (String arg : args) {
            int hash = arg.indexOf('#');
            Class<?> c = Class.forName(hash < 0 ? arg : arg.substring(0, hash));
            Request req = hash < 0 ? Request.aClass(c) : Request.method(c, arg.substring(hash + 1));
            Result r = core.run(req);
            run += r.getRunCount();
            failed += r.getFailureCount();
            ignored += r.getIgnoreCount();
            for (Failure f : r.getFailures()) {
                failures.add(f.getDescription().getDisplayName());
            }
        }
        for (String f : failures) {
            System.out.println("failed: " + f);
        }
        if (ignored > 0) {
            System.out.println(ignored + " skipped");
        }
        System.out.println((run - failed) + " passed, " + failed + " failed");
        System.out.flush();
        System.exit(failed == 0 && run > 0 ? 0 : 1);
    }
}
