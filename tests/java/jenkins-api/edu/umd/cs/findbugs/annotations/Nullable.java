/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package edu.umd.cs.findbugs.annotations;

import java.lang.annotation.*;

@Documented
@Retention(RetentionPolicy.CLASS)
public @interface Nullable {}
