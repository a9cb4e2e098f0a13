/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import java.util.HashMap;
import java.util.Map;

public abstract class Descriptor<T extends Describable<T>> {
    public final transient Class<? extends T> clazz;

    protected Descriptor(Class<? extends T> clazz) {
        this.clazz = clazz;
    }

    @SuppressWarnings("unchecked")
    protected Descriptor() {
        Class<?> outer = getClass().getEnclosingClass();
        this.clazz = (Class<? extends T>) outer;
    }

    @NonNull
    public String getDisplayName() {
        return clazz.getSimpleName();
    }

    public String getId() {
        return clazz.getName();
    }

    // Stand-in: the real one resolves a redirect through Jenkins.get().getDescriptor(owner); here
    // the owner's help is found the way the owner's own descriptor finds it.
    @SuppressWarnings("rawtypes")
    private final transient Map<String, Class<? extends Describable>> helpOwner = new HashMap<>();
    private final transient Map<String, String> helpOwnerField = new HashMap<>();

    public String getHelpFile() {
        return getHelpFile(null);
    }

    /**
     * Stand-in: the real rule without Stapler views or locales. A redirect first; else the first
     * class up clazz's superclasses with help[-field].html beside it (Klass.getAncestors and
     * getStaticHelpUrl in the real Descriptor.getHelpFile(Klass, String)).
     */
    public String getHelpFile(final String fieldName) {
        if (helpOwner.containsKey(fieldName)) {
            return helpOf(helpOwner.get(fieldName), helpOwner.get(fieldName).getName(), helpOwnerField.get(fieldName));
        }
        return helpOf(clazz, getId(), fieldName);
    }

    private static String helpOf(Class<?> c, String id, String fieldName) {
        String suffix = fieldName == null ? "" : "-" + fieldName;
        for (; c != null && c.getClassLoader() != null; c = c.getSuperclass()) {
            String name = c.getName().replace('.', '/').replace('$', '/') + "/help" + suffix + ".html";
            if (c.getClassLoader().getResource(name) != null) {
                return "/descriptor/" + id + "/help" + (fieldName == null ? "" : "/" + fieldName);
            }
        }
        return null;
    }

    @SuppressWarnings("rawtypes")
    protected void addHelpFileRedirect(String fieldName, Class<? extends Describable> owner, String fieldNameToRedirectTo) {
        helpOwner.put(fieldName, owner);
        helpOwnerField.put(fieldName, fieldNameToRedirectTo);
    }

    public static final class FormException extends Exception {
        private static final long serialVersionUID = 1L;
        private final String formField;

        public FormException(String message, String formField) {
            super(message);
            this.formField = formField;
        }

        public String getFormField() {
            return formField;
        }
    }
}
