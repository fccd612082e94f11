package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import io.micrometer.context.ContextSnapshot;

import org.jspecify.annotations.Nullable;

/** A task on an event loop: a name, its task-local values and its ThreadLocal context. */
final class LoopTask {

    private static final AtomicLong IDS = new AtomicLong();
    private static final VarHandle ID;
    static final VarHandle NEXT_LIVE;

    static {
        try {
            ID = MethodHandles.lookup().findVarHandle(LoopTask.class, "id", long.class);
            NEXT_LIVE = MethodHandles.lookup().findVarHandle(LoopTask.class, "nextLive", LoopTask.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Assigned when first read, so starting a task touches no shared counter. */
    private volatile long id;
    private final @Nullable String givenName;
    /**
     * When the task started, from the loop's clock (see {@code EventLoop.addLive}); written by the
     * loop before the task is published in the live list, read by anyone who reaches it there.
     */
    long startNanos;
    Locals locals;
    /** The task's ThreadLocal context (MDC, ...); re-captured after each of its callbacks. Loop thread only. */
    @Nullable ContextSnapshot threadLocals;
    /** The portal that started the task, or null. */
    @Nullable Object owner;

    // Links in the loop's LiveTasks, written by the loop thread only; nextLive with release stores
    // through NEXT_LIVE, read by other threads through nextLive().
    @SuppressWarnings("unused") // read and written with NEXT_LIVE
    private @Nullable LoopTask nextLive;
    @Nullable LoopTask prevLive;
    boolean live;

    LoopTask(@Nullable String name, Locals locals, @Nullable ContextSnapshot threadLocals) {
        this.givenName = name;
        this.locals = locals;
        this.threadLocals = threadLocals;
    }

    @Nullable LoopTask nextLive() {
        return (LoopTask) NEXT_LIVE.getAcquire(this);
    }

    long id() {
        return LazyId.get(this, ID, IDS);
    }

    /** A snapshot; the wall-clock start is derived from the monotonic age, so creation reads one clock. */
    TaskInfo info() {
        return info(System.nanoTime(), Instant.now());
    }

    private TaskInfo info(long nowNanos, Instant now) {
        Duration age = Duration.ofNanos(nowNanos - startNanos);
        return new TaskInfo(id(), name(), now.minus(age), age);
    }

    /** Snapshots of {@code tasks}, oldest first, all against one clock reading. */
    static List<TaskInfo> infos(Collection<LoopTask> tasks) {
        List<LoopTask> sorted = new ArrayList<>(tasks);
        // Stable: tasks that started in the same nanosecond keep the order they were given in.
        sorted.sort((a, b) -> Long.signum(a.startNanos - b.startNanos));
        long nowNanos = System.nanoTime();
        Instant now = Instant.now();
        List<TaskInfo> infos = new ArrayList<>(sorted.size());
        for (LoopTask t : sorted) {
            infos.add(t.info(nowNanos, now));
        }
        return infos;
    }

    /** The given name, or {@code task-<id>}; built when first read, not for every task. */
    String name() {
        return givenName != null ? givenName : "task-" + id();
    }

    @Override
    public String toString() {
        return "Task[" + name() + "]";
    }
}
