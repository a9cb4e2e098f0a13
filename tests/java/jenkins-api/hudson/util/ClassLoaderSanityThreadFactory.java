/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.util;

import java.util.concurrent.ThreadFactory;

/** As jenkinsci/jenkins core (since 2.105; checked at 2.555.3): sets its own loader as the context loader. */
public class ClassLoaderSanityThreadFactory implements ThreadFactory {
    private final ThreadFactory delegate;

    public ClassLoaderSanityThreadFactory(ThreadFactory delegate) {
        this.delegate = delegate;
    }

    @Override
    public Thread newThread(Runnable r) {
        Thread t = delegate.newThread(r);
        t.setContextClassLoader(ClassLoaderSanityThreadFactory.class.getClassLoader());
        return t;
    }
}
