package dev.portal.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import io.micrometer.context.ContextAccessor;
import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ContextSnapshot;
import io.micrometer.context.ContextSnapshotFactory;
import io.micrometer.context.ThreadLocalAccessor;
import io.micrometer.context.integration.Slf4jThreadLocalAccessor;

import org.jspecify.annotations.Nullable;

/**
 * Carries ThreadLocal context (SLF4J's MDC, and whatever a {@link ContextRegistry} knows) across
 * Portal's thread hops for one event loop.
 *
 * <p>Snapshots are taken with {@code clearMissing}: applying one sets every known ThreadLocal to the
 * captured value or clears it, and closing the returned scope restores what the thread had before.
 * A pooled worker therefore never carries one caller's values into the next call. When the registry
 * knows no accessor, capture returns {@code null} and costs one list check.
 *
 * <p>{@link #defaults()} reads the process-wide {@link ContextRegistry#getInstance()} as it is at
 * each capture, plus SLF4J's MDC when SLF4J is present and the global registry has no MDC accessor
 * of its own; it registers nothing in the global registry, so other libraries propagate exactly what
 * they did before Portal was loaded.
 */
public final class ThreadContext {

    private static final ThreadContext DEFAULT = new ThreadContext(new GlobalWithMdc(), null);

    /**
     * The registry whose accessors decide whether there is anything to capture; null when that
     * cannot be empty (the default with the MDC) or is not known (a factory): then always capture.
     */
    private final @Nullable ContextRegistry registry;
    private final ContextSnapshotFactory factory;

    private ThreadContext(ContextRegistry registry, @Nullable ContextSnapshotFactory factory) {
        // The default registry always holds the MDC accessor when SLF4J is present: asking it whether
        // it is empty would merge the global list twice per capture.
        boolean neverEmpty = registry instanceof GlobalWithMdc && ((GlobalWithMdc) registry).mdc != null;
        this.registry = neverEmpty ? null : registry;
        this.factory = factory != null ? factory
                : ContextSnapshotFactory.builder().contextRegistry(registry).clearMissing(true).build();
    }

    private ThreadContext(ContextSnapshotFactory factory) {
        this.registry = null;
        this.factory = factory;
    }

    /** The global registry's accessors plus the MDC, without registering anything globally. */
    public static ThreadContext defaults() {
        return DEFAULT;
    }

    /** Exactly the accessors of {@code registry}, captured with {@code clearMissing}. */
    public static ThreadContext of(ContextRegistry registry) {
        return new ThreadContext(Objects.requireNonNull(registry, "contextRegistry must not be null"), null);
    }

    /** Whatever {@code factory} captures; it is asked at every hop. */
    public static ThreadContext of(ContextSnapshotFactory factory) {
        return new ThreadContext(Objects.requireNonNull(factory, "contextSnapshotFactory must not be null"));
    }

    /** Captures the calling thread's ThreadLocal context, or returns null when there is nothing to capture. */
    public @Nullable ContextSnapshot capture() {
        ContextRegistry r = registry;
        if (r != null && r.getThreadLocalAccessors().isEmpty()) {
            return null;
        }
        return factory.captureAll();
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

    @Override
    public String toString() {
        return "ThreadContext[" + (this == DEFAULT ? "global registry + MDC" : registry != null ? registry : factory) + "]";
    }

    /**
     * A read-only view of the global registry that adds an MDC accessor when SLF4J is present and
     * the global registry has none. The merged list is rebuilt only when the global list changes,
     * which the identity of its elements tells (accessors are few, and registered at start-up).
     */
    private static final class GlobalWithMdc extends ContextRegistry {
        private static final ContextRegistry GLOBAL = ContextRegistry.getInstance();
        private final @Nullable ThreadLocalAccessor<?> mdc = mdcAccessorIfPresent();
        /** What the global registry held when {@link #merged} was built; null before the first build. */
        private volatile @Nullable List<ThreadLocalAccessor<?>> seen;
        private volatile List<ThreadLocalAccessor<?>> merged = List.of();

        @Override
        public List<ThreadLocalAccessor<?>> getThreadLocalAccessors() {
            List<ThreadLocalAccessor<?>> global = GLOBAL.getThreadLocalAccessors();
            if (mdc == null) {
                return global;
            }
            List<ThreadLocalAccessor<?>> last = seen;
            if (last == null || !sameElements(global, last)) {
                List<ThreadLocalAccessor<?>> copy = List.copyOf(global);
                boolean hasMdc = copy.stream().anyMatch(a -> Slf4jThreadLocalAccessor.KEY.equals(a.key()));
                List<ThreadLocalAccessor<?>> all = new ArrayList<>(copy);
                if (!hasMdc) {
                    all.add(mdc);
                }
                merged = List.copyOf(all);
                seen = copy;
            }
            return merged;
        }

        private static boolean sameElements(List<ThreadLocalAccessor<?>> a, List<ThreadLocalAccessor<?>> b) {
            int n = a.size();
            if (n != b.size()) {
                return false;
            }
            for (int i = 0; i < n; i++) {
                if (a.get(i) != b.get(i)) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public List<ContextAccessor<?, ?>> getContextAccessors() {
            return GLOBAL.getContextAccessors();
        }

        @Override
        public ContextAccessor<?, ?> getContextAccessorForRead(Object context) {
            return GLOBAL.getContextAccessorForRead(context);
        }

        @Override
        public ContextAccessor<?, ?> getContextAccessorForWrite(Object context) {
            return GLOBAL.getContextAccessorForWrite(context);
        }

        @Override
        public ContextRegistry registerContextAccessor(ContextAccessor<?, ?> accessor) {
            throw readOnly();
        }

        @Override
        public ContextRegistry registerThreadLocalAccessor(ThreadLocalAccessor<?> accessor) {
            throw readOnly();
        }

        @Override
        public boolean removeThreadLocalAccessor(String key) {
            throw readOnly();
        }

        private static UnsupportedOperationException readOnly() {
            return new UnsupportedOperationException("Portal's default context registry is a read-only view of "
                    + "ContextRegistry.getInstance(); register accessors there, or give the loop a registry of "
                    + "its own with EventLoop.Builder.contextRegistry");
        }

        private static @Nullable ThreadLocalAccessor<?> mdcAccessorIfPresent() {
            try {
                Class.forName("org.slf4j.MDC", false, ThreadContext.class.getClassLoader());
                return new Slf4jThreadLocalAccessor();
            } catch (ClassNotFoundException | LinkageError absent) {
                return null;
            }
        }

        @Override
        public String toString() {
            return "ContextRegistry.getInstance() + MDC";
        }
    }
}
