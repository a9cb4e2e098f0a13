package io.bakeami.bench;

import io.bakeami.nativelib.Bake;
import io.bakeami.nativelib.BakeEvent;
import io.bakeami.nativelib.BakeOptions;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * make bench's log latency through the Java shim: bakes the template given (its provisioner
 * prints "bench-line <date +%s.%N>" lines) through JNI, as the Jenkins step does, and prints
 * "latency <seconds>" for each such line when it reaches the {@code BakeListener}. Credentials
 * and endpoints come from the environment, as for the CLI.
 */
public final class ListenerLatency {
    private static final Pattern STAMP = Pattern.compile("bench-line (\\d+\\.\\d+)");

    private ListenerLatency() {}

    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        try (Bake bake = Bake.create(new BakeOptions().template(args[0]), e -> arrived(e, out))) {
            bake.run();
        }
        System.out.print(out);
    }

    /** On the bake's thread: stamp first, format later, so printing costs nothing measured. */
    private static void arrived(BakeEvent e, StringBuilder out) {
        java.time.Instant now = java.time.Instant.now();
        if (e.kind() != BakeEvent.Kind.OUTPUT) {
            return;
        }
        Matcher m = STAMP.matcher(e.line());
        if (m.find()) {
            double sent = Double.parseDouble(m.group(1));
            out.append("latency ").append(now.getEpochSecond() - sent + now.getNano() / 1e9).append('\n');
        }
    }
}
