/* Compile-only stand-in of a Jenkins type (tests/java/jenkins-api, see README.md); never packaged. */
package hudson.model;

import edu.umd.cs.findbugs.annotations.NonNull;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

public abstract class Actionable {
    private final List<Action> actions = new ArrayList<>();

    public void addAction(@NonNull Action a) {
        actions.add(a);
    }

    @NonNull
    public final List<? extends Action> getAllActions() {
        return Collections.unmodifiableList(actions);
    }

    public <T extends Action> List<T> getActions(Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Action a : actions) {
            if (type.isInstance(a)) {
                out.add(type.cast(a));
            }
        }
        return out;
    }
}
