package io.bakeami.test.fakes;

import hudson.model.TaskListener;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TaskListener that records every console line with the System.nanoTime() at which its newline
 * arrived, and every hyperlink. Serializing it (as remoting does when a callable carries it to an
 * agent) yields a handle that resolves back to this same instance, as RemoteOutputStream does.
 */
public final class CapturingListener implements TaskListener {
    private static final long serialVersionUID = 1L;
    private static final Map<String, CapturingListener> LIVE = new ConcurrentHashMap<>();

    /** One console line and when it arrived. */
    public record Line(long nanos, String text) {}

    /** One TaskListener.hyperlink call. */
    public record Link(String url, String text) {}

    private final String id = UUID.randomUUID().toString();
    private final transient List<Line> lines = new ArrayList<>();
    private final transient List<Link> links = new ArrayList<>();
    private final transient PrintStream logger;
    private final transient boolean echo;
    private transient volatile boolean closed;

    public CapturingListener(boolean echo) {
        this.echo = echo;
        this.logger = new PrintStream(new Recorder(), false, StandardCharsets.UTF_8);
        LIVE.put(id, this);
    }

    private Object readResolve() {
        return LIVE.get(id);
    }

    @Override
    public PrintStream getLogger() {
        return logger;
    }

    @Override
    public void hyperlink(String url, String text) {
        synchronized (this) {
            links.add(new Link(url, text));
        }
        logger.print(text);
    }

    /** The build's log is closed (the build ended): later writes fail, as a closed stream's do. */
    public void close() {
        closed = true;
    }

    public synchronized List<Line> lines() {
        return new ArrayList<>(lines);
    }

    public synchronized List<Link> links() {
        return new ArrayList<>(links);
    }

    public String text() {
        StringBuilder b = new StringBuilder();
        for (Line l : lines()) {
            b.append(l.text()).append('\n');
        }
        return b.toString();
    }

    /** The first line containing s, or null. */
    public Line first(String s) {
        for (Line l : lines()) {
            if (l.text().contains(s)) {
                return l;
            }
        }
        return null;
    }

    /** Waits up to timeoutMs for a line containing s. */
    public Line await(String s, long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        Line l;
        while ((l = first(s)) == null && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        return l;
    }

    private final class Recorder extends OutputStream {
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

        @Override
        public void write(int b) throws java.io.IOException {
            if (closed) {
                throw new java.io.IOException("the build's log is closed");
            }
            synchronized (CapturingListener.this) {
                if (b == '\n') {
                    String text = buf.toString(StandardCharsets.UTF_8);
                    buf.reset();
                    lines.add(new Line(System.nanoTime(), text));
                    if (echo) {
                        System.out.println("    | " + text);
                    }
                } else {
                    buf.write(b);
                }
            }
        }
    }
}
