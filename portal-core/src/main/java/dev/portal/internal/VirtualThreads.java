package dev.portal.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

import org.jspecify.annotations.Nullable;

/**
 * Creates virtual threads when the running JDK has them (21+). Portal compiles for Java 17, so the
 * API is reached through method handles found once at class initialisation.
 */
public final class VirtualThreads {

    private static final @Nullable MethodHandle OF_VIRTUAL;
    private static final @Nullable MethodHandle NAME;
    private static final @Nullable MethodHandle UNSTARTED;
    private static final @Nullable MethodHandle INHERIT;
    private static final @Nullable MethodHandle IS_VIRTUAL;

    static {
        MethodHandle ofVirtual = null;
        MethodHandle name = null;
        MethodHandle unstarted = null;
        MethodHandle inherit = null;
        MethodHandle isVirtual = null;
        try {
            Class<?> builder = Class.forName("java.lang.Thread$Builder");
            Class<?> virtualBuilder = Class.forName("java.lang.Thread$Builder$OfVirtual");
            MethodHandles.Lookup lookup = MethodHandles.publicLookup();
            ofVirtual = lookup.findStatic(Thread.class, "ofVirtual", MethodType.methodType(virtualBuilder));
            name = lookup.findVirtual(virtualBuilder, "name", MethodType.methodType(virtualBuilder, String.class));
            unstarted = lookup.findVirtual(builder, "unstarted", MethodType.methodType(Thread.class, Runnable.class));
            inherit = lookup.findVirtual(virtualBuilder, "inheritInheritableThreadLocals",
                    MethodType.methodType(virtualBuilder, boolean.class));
            isVirtual = lookup.findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException | LinkageError absent) {
            ofVirtual = null;
        }
        OF_VIRTUAL = ofVirtual;
        NAME = name;
        UNSTARTED = unstarted;
        INHERIT = inherit;
        IS_VIRTUAL = isVirtual;
    }

    private VirtualThreads() {
    }

    public static boolean available() {
        return OF_VIRTUAL != null;
    }

    /** Whether {@code thread} is a virtual thread; false on a JDK without them. */
    public static boolean isVirtual(Thread thread) {
        if (IS_VIRTUAL == null) {
            return false;
        }
        try {
            return (boolean) IS_VIRTUAL.invokeExact(thread);
        } catch (Throwable t) {
            return false;
        }
    }

    /**
     * An unstarted virtual thread that does not inherit the creating thread's
     * InheritableThreadLocals; fails with a clear message on a JDK without them.
     */
    public static Thread unstarted(String name, Runnable task) {
        if (OF_VIRTUAL == null || NAME == null || UNSTARTED == null || INHERIT == null) {
            throw new UnsupportedOperationException("virtual threads need JDK 21 or newer (running "
                    + Runtime.version() + "); turn virtual workers off or run on a newer JDK");
        }
        try {
            Object builder = OF_VIRTUAL.invoke();
            builder = NAME.invoke(builder, name);
            builder = INHERIT.invoke(builder, false);
            return (Thread) UNSTARTED.invoke(builder, task);
        } catch (Throwable t) {
            throw new IllegalStateException("could not create a virtual thread", t);
        }
    }
}
