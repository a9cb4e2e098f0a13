/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package jenkins.util;

import hudson.model.BuildListener;
import hudson.model.TaskListener;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;

/** Stand-in: the real one also forwards annotate, error(format, args) and fatalError. */
public final class BuildListenerAdapter implements BuildListener {
    private final TaskListener delegate;

    public BuildListenerAdapter(TaskListener delegate) {
        this.delegate = delegate;
    }

    @Override
    public PrintStream getLogger() {
        return delegate.getLogger();
    }

    @Override
    public void hyperlink(String url, String text) throws IOException {
        delegate.hyperlink(url, text);
    }

    @Override
    public PrintWriter error(String msg) {
        return delegate.error(msg);
    }

    public static BuildListener wrap(TaskListener l) {
        if (l instanceof BuildListener) {
            return (BuildListener) l;
        } else {
            return new BuildListenerAdapter(l);
        }
    }
}
