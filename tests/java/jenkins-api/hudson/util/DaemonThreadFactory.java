/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.util;

import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;

/** As jenkinsci/jenkins core 2.555.3: the delegate's threads, made daemons. */
public class DaemonThreadFactory implements ThreadFactory {
    private final ThreadFactory core;

    public DaemonThreadFactory() {
        this(Executors.defaultThreadFactory());
    }

    public DaemonThreadFactory(ThreadFactory core) {
        this.core = core;
    }

    @Override
    public Thread newThread(Runnable r) {
        Thread t = core.newThread(r);
        t.setDaemon(true);
        return t;
    }
}
