package io.bakeami.nativelib;

/**
 * One log event of a bake, as the native library delivered it.
 *
 * @param kind    what it is
 * @param stream  for {@link Kind#OUTPUT}: 1 stdout, 2 stderr; else 0
 * @param elapsed seconds since the bake started
 * @param stage   "launch", "provision", ...
 * @param line    the console line, formatted, secrets masked by the library
 */
public record BakeEvent(Kind kind, int stream, double elapsed, String stage, String line) {

    /** bakeami_event_kind, in its order. */
    public enum Kind {
        STEP, OUTPUT, STATE, WARN, ERROR, SUMMARY, DEBUG;

        static Kind of(int code) {
            Kind[] all = values();
            return code >= 0 && code < all.length ? all[code] : STEP;
        }
    }
}
