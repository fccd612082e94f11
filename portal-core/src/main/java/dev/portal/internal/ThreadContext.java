package dev.portal.internal;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ContextSnapshot;
import io.micrometer.context.ContextSnapshotFactory;
import io.micrometer.context.ThreadLocalAccessor;
import io.micrometer.context.integration.Slf4jThreadLocalAccessor;

import org.jspecify.annotations.Nullable;

/**
 * Bridges ThreadLocal context (SLF4J's MDC and every {@link ThreadLocalAccessor} registered with
 * Micrometer's {@link ContextRegistry}) across Portal's thread hops.
 *
 * <p>Snapshots are taken with {@code clearMissing}: applying one sets every registered ThreadLocal
 * to the captured value or clears it, and closing the returned scope restores what the thread had
 * before. A pooled worker therefore never carries one caller's values into the next call. When no
 * accessor is registered, capture returns {@code null} and costs one list check.
 */
public final class ThreadContext {

    private static final ContextRegistry REGISTRY = ContextRegistry.getInstance();
    private static final ContextSnapshotFactory FACTORY =
            ContextSnapshotFactory.builder().contextRegistry(REGISTRY).clearMissing(true).build();

    static {
        registerMdcIfPresent();
    }

    private ThreadContext() {
    }

    private static void registerMdcIfPresent() {
        try {
            Class.forName("org.slf4j.MDC", false, ThreadContext.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError absent) {
            return;
        }
        boolean registered = REGISTRY.getThreadLocalAccessors().stream()
                .anyMatch(accessor -> Slf4jThreadLocalAccessor.KEY.equals(accessor.key()));
        if (!registered) {
            REGISTRY.registerThreadLocalAccessor(new Slf4jThreadLocalAccessor());
        }
    }

    /** Captures the calling thread's ThreadLocal context, or returns null when nothing is registered. */
    public static @Nullable ContextSnapshot capture() {
        if (REGISTRY.getThreadLocalAccessors().isEmpty()) {
            return null;
        }
        return FACTORY.captureAll();
    }

    /** Applies a snapshot to the calling thread; close the result to restore the previous values. */
    public static ContextSnapshot.@Nullable Scope apply(@Nullable ContextSnapshot snapshot) {
        return snapshot == null ? null : snapshot.setThreadLocals();
    }

    public static void restore(ContextSnapshot.@Nullable Scope scope) {
        if (scope != null) {
            scope.close();
        }
    }
}
