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
    final Instant startedAt = Instant.now();
    Locals locals;
    final @Nullable ContextSnapshot threadLocals;

    LoopTask(@Nullable String name, Locals locals, @Nullable ContextSnapshot threadLocals) {
        this.name = name != null ? name : "task-" + id;
        this.locals = locals;
        this.threadLocals = threadLocals;
    }

    TaskInfo info() {
        return new TaskInfo(id, name, startedAt, Duration.ofNanos(System.nanoTime() - startNanos));
    }

    @Override
    public String toString() {
        return "Task[" + name + "]";
    }
}
