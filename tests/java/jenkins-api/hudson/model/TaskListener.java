/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import org.jenkinsci.remoting.SerializableOnlyOverRemoting;

public interface TaskListener extends SerializableOnlyOverRemoting {
    @NonNull
    PrintStream getLogger();

    @NonNull
    default Charset getCharset() {
        return StandardCharsets.UTF_8;
    }

    /** Stand-in: the real one writes a HyperlinkNote (a console note) before the text. */
    default void hyperlink(String url, String text) throws IOException {
        getLogger().print(text);
    }

    @NonNull
    default PrintWriter error(String msg) {
        getLogger().println("ERROR: " + msg);
        return new PrintWriter(getLogger(), true);
    }
}
