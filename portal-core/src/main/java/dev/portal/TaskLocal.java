package dev.portal;

import java.util.Objects;
import java.util.function.Supplier;

import org.jspecify.annotations.Nullable;

/**
 * A value that belongs to the current task, like AnyIO's use of {@code contextvars.ContextVar}.
 *
 * <pre>{@code
 * static final TaskLocal<String> REQUEST_ID = TaskLocal.named("requestId");
 *
 * EventLoop.run(() -> {
 *     REQUEST_ID.set("r-42");
 *     return ToThread.runSync(REQUEST_ID::get);   // "r-42" on the worker
 * });
 * }</pre>
 *
 * <p><b>Where the value lives.</b> In async code on an event loop it belongs to the current task
 * and survives every callback of that task. In a function run by {@link ToThread#runSync} it
 * belongs to that call. Anywhere else (a servlet thread, {@code main}) it belongs to the thread.
 *
 * <p><b>How it travels.</b> Every hop copies the values: task → worker ({@code ToThread.runSync}),
 * worker → loop ({@link FromThread#run}, {@link FromThread#runSync}), parent → child task
 * ({@link TaskGroup#startSoon}), and caller → portal task. A copy is never written back and is
 * never visible to another task. Copying is free: the values are held in an immutable map shared
 * by reference.
 *
 * <p><b>Thread safety.</b> Instances are immutable and may be shared as constants.
 *
 * @param <T> the value type
 */
public final class TaskLocal<T> {

    private static final Object MISSING = new Object();

    private final String name;
    private final @Nullable Supplier<? extends @Nullable T> initial;

    private TaskLocal(String name, @Nullable Supplier<? extends @Nullable T> initial) {
        this.name = name;
        this.initial = initial;
    }

    /** A task-local with no value until one is set. */
    public static <T> TaskLocal<T> named(String name) {
        return new TaskLocal<>(requireName(name), null);
    }

    /** A task-local whose value, until one is set, is computed by {@code initial} on each read. */
    public static <T> TaskLocal<T> withInitial(String name, Supplier<? extends @Nullable T> initial) {
        Objects.requireNonNull(initial, "initial must not be null");
        return new TaskLocal<>(requireName(name), initial);
    }

    private static String requireName(@Nullable String name) {
        Objects.requireNonNull(name, "name must not be null");
        if (name.isBlank()) {
            throw new IllegalArgumentException("name must not be blank (was \"" + name + "\")");
        }
        return name;
    }

    /** The current value, or the initial value (null unless {@link #withInitial} was used). */
    @SuppressWarnings("unchecked")
    public @Nullable T get() {
        Object v = ContextHolder.currentLocals().get(this, MISSING);
        if (v == MISSING) {
            return initial == null ? null : initial.get();
        }
        return (T) v;
    }

    /** Sets the value for the current task (or worker call, or thread); other tasks are unaffected. */
    public void set(@Nullable T value) {
        ContextHolder.setCurrentLocals(ContextHolder.currentLocals().with(this, value));
    }

    /** Removes the value, so {@link #get()} returns the initial value again. */
    public void remove() {
        ContextHolder.setCurrentLocals(ContextHolder.currentLocals().without(this));
    }

    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return "TaskLocal[" + name + "]";
    }
}
