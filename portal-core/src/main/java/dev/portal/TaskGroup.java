package dev.portal;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletionStage;


import org.jspecify.annotations.Nullable;

/**
 * Structured concurrency for async code (AnyIO's task group, Trio's nursery): tasks started in a
 * group finish before the group does.
 *
 * <pre>{@code
 * TaskGroup.open(tg -> {
 *     tg.startSoon("fetch-a", () -> fetch(a));
 *     tg.startSoon("fetch-b", () -> fetch(b));
 *     return Async.sleep(Duration.ofMillis(10));
 * });   // completes when the body and both tasks are done
 * }</pre>
 *
 * <p><b>Failures.</b> The first task (or body) that fails cancels the group's scope, so the others
 * are cancelled at their next checkpoint. The group then fails with that exception, or with a
 * {@link TaskGroupException} holding every failure when there were several. Cancellations caused
 * by the group itself are not failures.
 *
 * <p><b>Threads.</b> Loop thread only. Each task gets a copy of the starting task's
 * {@link TaskLocal}s and ThreadLocal context.
 */
public final class TaskGroup {

    /** The body of a task group. */
    @FunctionalInterface
    public interface Body<T> {
        CompletionStage<T> run(TaskGroup group) throws Exception;
    }

    private final EventLoop loop;
    private final CancelScope scope;
    private final List<Throwable> errors = new ArrayList<>();
    private int active;
    private boolean bodyDone;
    private boolean finished;
    private @Nullable Object bodyValue;
    private @Nullable Throwable bodyCancellation;
    private @Nullable LoopPromise<Object> done;

    private TaskGroup(EventLoop loop, CancelScope scope) {
        this.loop = loop;
        this.scope = scope;
    }

    /**
     * Opens a task group, runs {@code body} in it, and completes with the body's value once the
     * body and every task started in the group have finished.
     */
    @SuppressWarnings("unchecked")
    public static <T> CompletionStage<T> open(Body<T> body) {
        Objects.requireNonNull(body, "body must not be null");
        EventLoop loop = EventLoop.requireCurrent("TaskGroup.open");
        CancelScope scope = CancelScope.create();
        TaskGroup group = new TaskGroup(loop, scope);
        return (CompletionStage<T>) scope.run(() -> {
            LoopPromise<Object> done = LoopPromise.here(loop);
            group.done = done;
            CompletionStage<T> stage = EventLoop.callSafely(() -> body.run(group));
            // A failure in here goes to the loop: nobody waits on the adoption.
            loop.adopt(stage, "the body of TaskGroup.open", (v, e) -> {
                try {
                    group.bodyFinished(v, e);
                } catch (Throwable t) {
                    loop.reportUncaught(t);
                }
            }, null);
            return done;
        });
    }

    /** The group's cancel scope: cancel it to cancel the body and every task. */
    public CancelScope cancelScope() {
        return scope;
    }

    /** Starts {@code fn} as a new task in this group; see {@link #startSoon(String, AsyncCallable)}. */
    public <T> CompletionStage<T> startSoon(AsyncCallable<T> fn) {
        return startSoon(null, fn);
    }

    /**
     * Starts {@code fn} as a new task named {@code name} on the loop's next turn. The returned stage
     * completes with the task's outcome; a failure also fails the group.
     *
     * <p><b>Cancelling the stage is refused</b> ({@link UnsupportedOperationException}): as in
     * AnyIO, the task runs in the group's scope and has no scope of its own for {@code cancel()} to
     * stop, and a hidden one would change what {@link CancelScope#current()} is inside the task. To
     * cancel one task, run its body in a {@link CancelScope} of its own and cancel that; to cancel
     * them all, cancel {@link #cancelScope()}.
     *
     * @throws IllegalStateException if the group has already finished
     */
    public <T> CompletionStage<T> startSoon(@Nullable String name, AsyncCallable<T> fn) {
        Objects.requireNonNull(fn, "fn must not be null");
        EventLoop.requireLoop(loop, "TaskGroup.startSoon");
        if (finished) {
            throw new IllegalStateException("this task group has finished; start tasks while its body or one of "
                    + "its tasks is still running");
        }
        active++;
        LoopTask parent = loop.frame.currentTask;
        LoopTask task = new LoopTask(name, parent != null ? parent.locals : Locals.EMPTY, loop.captureContext());
        LoopPromise<T> handle = LoopPromise.here(loop);
        loop.taskStarted(task);
        loop.executeLocal(() -> {
            LoopPromise<T> result = loop.spawn(task, scope, fn, loop.frame.currentTask, scope);
            result.whenComplete((v, e) -> {
                try {
                    taskFinished(e);
                } catch (Throwable t) {
                    loop.reportUncaught(t); // the stage whenComplete returns is dropped
                }
                handle.settle(v, e);
            });
        });
        return handle;
    }

    private void bodyFinished(@Nullable Object value, @Nullable Throwable error) {
        bodyDone = true;
        bodyValue = value;
        Throwable cause = CancelScope.unwrap(error);
        if (cause instanceof CancelledException) {
            bodyCancellation = cause;
        } else if (cause != null) {
            fail(cause);
        }
        maybeFinish();
    }

    private void taskFinished(@Nullable Throwable error) {
        active--;
        Throwable cause = CancelScope.unwrap(error);
        if (cause != null && !(cause instanceof CancelledException)) {
            fail(cause);
        }
        maybeFinish();
    }

    private void fail(Throwable cause) {
        errors.add(cause);
        if (errors.size() == 1) {
            scope.cancelOnLoop();
        }
    }

    private void maybeFinish() {
        if (!bodyDone || active > 0 || finished) {
            return;
        }
        finished = true;
        LoopPromise<Object> d = Objects.requireNonNull(done);
        if (errors.size() == 1) {
            d.settle(null, errors.get(0));
        } else if (errors.size() > 1) {
            d.settle(null, new TaskGroupException(errors));
        } else if (bodyCancellation != null) {
            d.settle(null, bodyCancellation);
        } else {
            d.settle(bodyValue, null);
        }
    }

    @Override
    public String toString() {
        return "TaskGroup[" + active + " tasks running" + (finished ? ", finished" : "") + "]";
    }
}
