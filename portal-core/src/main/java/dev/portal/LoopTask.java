package dev.portal;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.context.ContextSnapshot;

import org.jspecify.annotations.Nullable;

/** A task on an event loop: a name, its task-local values and its ThreadLocal context. */
final class LoopTask {

    private static final AtomicLong IDS = new AtomicLong();

    final long id = IDS.incrementAndGet();
    final String name;
    final long startNanos = System.nanoTime();
    Locals locals;
    /** The task's ThreadLocal context (MDC, ...); re-captured after each of its callbacks. Loop thread only. */
    @Nullable ContextSnapshot threadLocals;

    LoopTask(@Nullable String name, Locals locals, @Nullable ContextSnapshot threadLocals) {
        this.name = name != null ? name : "task-" + id;
        this.locals = locals;
        this.threadLocals = threadLocals;
    }

    /** A snapshot; the wall-clock start is derived from the monotonic age, so creation reads one clock. */
    TaskInfo info() {
        Duration age = Duration.ofNanos(System.nanoTime() - startNanos);
        return new TaskInfo(id, name, Instant.now().minus(age), age);
    }

    @Override
    public String toString() {
        return "Task[" + name + "]";
    }
}
