/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package edu.umd.cs.findbugs.annotations;

import java.lang.annotation.*;

/** spotbugs-annotations 4.10.3 (the real one also has {@code matchType}, which we do not use). */
@Retention(RetentionPolicy.CLASS)
public @interface SuppressFBWarnings {
    String[] value() default {};

    String justification() default "";
}
