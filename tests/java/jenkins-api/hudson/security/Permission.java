/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.security;

public final class Permission {
    public final String group;
    public final String name;

    /** Stand-in constructor; the real ones take a PermissionGroup and Localizable. */
    public Permission(String group, String name) {
        this.group = group;
        this.name = name;
    }

    @Override
    public String toString() {
        return "Permission[" + group + "." + name + "]";
    }
}
