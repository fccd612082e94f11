package dev.portal.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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

    private static final GlobalWithMdc GLOBAL_WITH_MDC = new GlobalWithMdc();
    private static final ThreadContext DEFAULT = new ThreadContext(GLOBAL_WITH_MDC, null);

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

    /**
     * The accessors whose values make up a capture, when a capture can be recognised by their
     * identities ({@link #sameValues}); null when it cannot (a snapshot factory, whose accessors
     * are not known, or SLF4J's MDC with a binding other than Logback, whose only reading is a
     * fresh copy of the map).
     */
    private @Nullable List<ThreadLocalAccessor<?>> identifiable() {
        ContextRegistry r = this == DEFAULT ? GLOBAL_WITH_MDC : registry;
        if (r == null) {
            return null;
        }
        List<ThreadLocalAccessor<?>> accessors = r.getThreadLocalAccessors();
        for (int i = 0, n = accessors.size(); i < n; i++) {
            if (isMdc(accessors.get(i)) && LogbackMdc.PROPERTY_MAP == null) {
                return null;
            }
        }
        return accessors;
    }

    private static boolean isMdc(ThreadLocalAccessor<?> accessor) {
        return Slf4jThreadLocalAccessor.KEY.equals(accessor.key());
    }

    /**
     * An accessor's value as an identity: the object itself, and for the MDC under Logback the map
     * Logback keeps for readers, which stays the same object until the MDC changes (SLF4J's own
     * reading copies the map on every call).
     */
    private static @Nullable Object identity(ThreadLocalAccessor<?> accessor) {
        if (isMdc(accessor)) {
            return LogbackMdc.propertyMap();
        }
        return accessor.getValue();
    }

    private static Object[] identities(List<ThreadLocalAccessor<?>> accessors) {
        Object[] ids = new Object[accessors.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = identity(accessors.get(i));
        }
        return ids;
    }

    private static boolean sameValues(List<ThreadLocalAccessor<?>> accessors, Object @Nullable [] ids) {
        if (ids == null || ids.length != accessors.size()) {
            return false;
        }
        for (int i = 0; i < ids.length; i++) {
            if (identity(accessors.get(i)) != ids[i]) {
                return false;
            }
        }
        return true;
    }

    /**
     * The last capture one thread made (or the snapshot it last applied), kept to be handed out
     * again while the thread's values stay the same objects. One thread only: a loop's, a portal
     * caller's (see {@link #captureOnThisThread}), or a worker's (inside {@link Kept}).
     */
    public static final class Captured {
        private @Nullable List<ThreadLocalAccessor<?>> accessors;
        private Object @Nullable [] ids;
        private @Nullable ContextSnapshot snapshot;

        /** Records that the thread's values of {@code accessors}, as they are now, are {@code snapshot}'s. */
        private void remember(List<ThreadLocalAccessor<?>> accessors, @Nullable ContextSnapshot snapshot) {
            this.accessors = accessors;
            this.ids = identities(accessors);
            this.snapshot = snapshot;
        }

        /** Whether the thread's values of {@code accessors} are still the very objects remembered. */
        private boolean unchanged(List<ThreadLocalAccessor<?>> accessors) {
            return this.accessors == accessors && sameValues(accessors, ids);
        }

        private void forget() {
            accessors = null;
            ids = null;
            snapshot = null;
        }
    }

    /**
     * As {@link #capture()}, but hands out {@code last}'s snapshot again when every value is the
     * same object as at that capture: a loop task that offloads a thousand calls with one MDC
     * captures it once, not a thousand times. Snapshots are immutable, so sharing one is safe.
     * The thread that owns {@code last} only.
     */
    public @Nullable ContextSnapshot capture(Captured last) {
        List<ThreadLocalAccessor<?>> accessors = identifiable();
        if (accessors == null) {
            return capture();
        }
        if (accessors.isEmpty()) {
            return null;
        }
        if (last.unchanged(accessors)) {
            return last.snapshot;
        }
        ContextSnapshot snapshot = factory.captureAll();
        last.remember(accessors, snapshot);
        return snapshot;
    }

    /** Each thread's last capture, for the threads that call into a loop (portal callers, workers). */
    private static final ThreadLocal<Captured> THIS_THREAD = ThreadLocal.withInitial(Captured::new);

    /**
     * As {@link #capture(Captured)} with the calling thread's own record: a thread that makes many
     * portal calls (or starts many tasks) with one MDC captures it once. The record holds the last
     * snapshot for as long as the thread lives. Any thread.
     */
    public @Nullable ContextSnapshot captureOnThisThread() {
        if (registry != null && this != DEFAULT && registry.getThreadLocalAccessors().isEmpty()) {
            return null; // nothing to capture: not even the ThreadLocal lookup
        }
        return capture(THIS_THREAD.get());
    }

    /**
     * Applies a snapshot, as {@link #apply(ContextSnapshot)}, and records in {@code last} that the
     * thread's values are now {@code snapshot}'s, so that a capture made before they change hands
     * back that same snapshot instead of a copy. The thread that owns {@code last} only.
     */
    public ContextSnapshot.@Nullable Scope apply(@Nullable ContextSnapshot snapshot, Captured last) {
        if (snapshot == null) {
            return null;
        }
        ContextSnapshot.Scope scope = snapshot.setThreadLocals();
        List<ThreadLocalAccessor<?>> accessors = identifiable();
        if (accessors != null) {
            last.remember(accessors, snapshot);
        }
        return scope;
    }

    /**
     * The context a pooled thread has applied and keeps between the jobs it runs: one thread only
     * (a worker's). See {@link #enter}.
     */
    public static final class Kept {
        /** The snapshot applied and its values' identities, if they can be recognised; empty otherwise. */
        private final Captured applied = new Captured();
        private ContextSnapshot.@Nullable Scope scope;
    }

    /**
     * Applies {@code snapshot} for a job on a pooled thread, unless the thread still has it applied
     * from its previous job, unchanged: a worker running a burst of calls from one loop task applies
     * their context once. A job that changed a value in between (an {@code MDC.put}) is seen by the
     * values' identities, and the context is then restored and applied afresh, so no job sees what
     * an earlier one left. Follow each job with {@link #afterJob} and, before the thread idles or
     * exits, {@link #leave}. The thread that owns {@code kept} only.
     */
    public void enter(Kept kept, @Nullable ContextSnapshot snapshot) {
        if (snapshot == null) {
            leave(kept);
            return;
        }
        Captured applied = kept.applied;
        List<ThreadLocalAccessor<?>> accessors = identifiable();
        if (applied.snapshot == snapshot && accessors != null && applied.unchanged(accessors)) {
            return;
        }
        leave(kept);
        kept.scope = snapshot.setThreadLocals();
        if (accessors != null) {
            applied.remember(accessors, snapshot);
        }
    }

    /** After a job: keeps its context applied if the next job can recognise it, else restores now. */
    public static void afterJob(Kept kept) {
        if (kept.applied.accessors == null) {
            leave(kept);
        }
    }

    /** Restores what the thread had before the kept context was applied. */
    public static void leave(Kept kept) {
        ContextSnapshot.Scope scope = kept.scope;
        kept.scope = null;
        kept.applied.forget();
        if (scope != null) {
            scope.close();
        }
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

    /**
     * Logback's reader map of the MDC, reached without a compile-time dependency: a method handle on
     * {@code LogbackMDCAdapter.getPropertyMap()}, found once, when SLF4J is bound to Logback.
     */
    private static final class LogbackMdc {
        static final @Nullable MethodHandle PROPERTY_MAP = find();

        private static @Nullable MethodHandle find() {
            try {
                Class.forName("org.slf4j.MDC", false, ThreadContext.class.getClassLoader());
                Object adapter = org.slf4j.MDC.getMDCAdapter();
                if (adapter == null || !adapter.getClass().getName().equals("ch.qos.logback.classic.util.LogbackMDCAdapter")) {
                    return null;
                }
                MethodHandle h = MethodHandles.publicLookup().findVirtual(adapter.getClass(), "getPropertyMap",
                        MethodType.methodType(Map.class));
                return h.bindTo(adapter).asType(MethodType.methodType(Object.class));
            } catch (ReflectiveOperationException | LinkageError | RuntimeException absent) {
                return null;
            }
        }

        static @Nullable Object propertyMap() {
            MethodHandle h = PROPERTY_MAP;
            if (h == null) {
                return new Object(); // never the same: no identity to go by
            }
            try {
                return (Object) h.invokeExact();
            } catch (Throwable t) {
                return new Object();
            }
        }
    }
}
