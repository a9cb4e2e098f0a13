package io.bakeami.test.fakes;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * The class loader an agent loads the plugin's classes with after it reconnected: remoting
 * makes one per channel, so the plugin's classes (and their statics, such as the bakes an
 * earlier channel started) are loaded anew from the plugin jar, while Jenkins' own classes are
 * shared. Child-first for io.bakeami.jenkins and io.bakeami.nativelib, the parent for the rest.
 */
public final class ReconnectedAgentLoader extends URLClassLoader {
    public ReconnectedAgentLoader() throws Exception {
        super(new URL[] {jar().toUri().toURL()}, ReconnectedAgentLoader.class.getClassLoader());
    }

    private static Path jar() {
        String jar = System.getProperty("bakeami.test.jar");
        return jar != null ? Paths.get(jar) : Workspaces.repo().resolve("build/bakeami-plugin.jar");
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (!name.startsWith("io.bakeami.jenkins.") && !name.startsWith("io.bakeami.nativelib.")) {
            return super.loadClass(name, resolve);
        }
        synchronized (getClassLoadingLock(name)) {
            Class<?> c = findLoadedClass(name);
            if (c == null) {
                c = findClass(name);
            }
            if (resolve) {
                resolveClass(c);
            }
            return c;
        }
    }
}
