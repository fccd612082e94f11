package dev.portal;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import dev.portal.internal.TimerQueue;

import org.jspecify.annotations.Nullable;

/**
 * Building blocks for async code on an event loop: sleeping, yielding, adopting foreign stages and
 * naming the current task. Every method here is loop-thread only and every stage it returns is a
 * checkpoint (see {@link CancelScope}).
 */
public final class Async {

    private Async() {
    }

    /**
     * A stage that completes after {@code delay} (AnyIO's {@code sleep}). Cancellation completes
     * it at once with {@link CancelledException} and frees its timer.
     *
     * @throws IllegalArgumentException if {@code delay} is negative
     */
    public static CompletionStage<Void> sleep(Duration delay) {
        CancelScope.requireTimeout(delay, "delay");
        EventLoop loop = EventLoop.requireCurrent("Async.sleep");
        SleepPromise promise = new SleepPromise(loop);
        if (!promise.arm()) {
            return promise;
        }
        long nanos = CancelScope.saturatedNanos(delay);
        if (nanos == 0) {
            loop.executeLocal(() -> promise.settle(null, null));
        } else {
            promise.timer = loop.timers().schedule(CancelScope.saturatedAdd(System.nanoTime(), nanos),
                    () -> promise.settle(null, null));
        }
        return promise;
    }

    /**
     * Yields to the loop and fails with {@link CancelledException} if the current scope is
     * cancelled (AnyIO's {@code checkpoint}). Other ready callbacks run before it completes.
     */
    public static CompletionStage<Void> checkpoint() {
        EventLoop.requireCurrent("Async.checkpoint()");
        return sleep(Duration.ZERO);
    }

    /**
     * Brings a foreign stage onto the loop: the returned stage completes on the loop thread, in the
     * current task and scope, with the foreign stage's outcome. It is a checkpoint: if the scope is
     * cancelled first, it fails with {@link CancelledException} and, when the foreign stage is a
     * {@link CompletableFuture}, cancels it too (a stage that refuses, such as the JDK's
     * {@linkplain CompletableFuture#minimalCompletionStage() minimal stage}, is left to complete on
     * its own). Any {@code CompletionStage} will do: only its {@code whenComplete} is called; if that
     * throws, the returned stage fails with an {@link IllegalStateException} naming the stage's class.
     *
     * @throws NullPointerException if {@code stage} is null
     */
    public static <T> CompletionStage<T> await(CompletionStage<T> stage) {
        Objects.requireNonNull(stage, "stage must not be null");
        EventLoop loop = EventLoop.requireCurrent("Async.await");
        AwaitPromise<T> promise = new AwaitPromise<>(loop, stage);
        if (!promise.arm()) {
            return promise;
        }
        try {
            // Only whenComplete: other stage types may throw from isDone and the rest (the JDK's
            // minimal stage does). The promise settles once, however often the stage calls back.
            stage.whenComplete((value, error) -> {
                if (loop.inEventLoop()) {
                    promise.settle(value, CancelScope.unwrap(error));
                } else {
                    promise.settleSoon(value, CancelScope.unwrap(error));
                }
            });
        } catch (Throwable t) {
            promise.settle(null, new IllegalStateException("Async.await was given a " + stage.getClass().getName()
                    + " that threw from whenComplete, so Portal cannot wait for it: " + t, t));
        }
        return promise;
    }

    /** The current task (AnyIO's {@code get_current_task}). */
    public static TaskInfo currentTask() {
        EventLoop loop = EventLoop.requireCurrent("Async.currentTask()");
        LoopTask task = loop.frame.currentTask;
        if (task == null) {
            throw new IllegalStateException("Async.currentTask() was called in a callback that runs outside any task "
                    + "(submitted with EventLoop.execute)");
        }
        return task.info();
    }

    private static final class SleepPromise extends LoopPromise<Void> {
        TimerQueue.@Nullable Timer timer;

        SleepPromise(EventLoop loop) {
            super(loop, loop.frame.currentTask, loop.frame.currentScope);
        }

        @Override
        boolean cancellableByStage() {
            return true;
        }

        @Override
        boolean onCancelled(CancelledException e) {
            TimerQueue.Timer t = timer;
            if (t != null) {
                loop.timers().cancel(t);
                timer = null;
            }
            return true;
        }
    }

    private static final class AwaitPromise<T> extends LoopPromise<T> {
        private final CompletionStage<T> foreign;

        AwaitPromise(EventLoop loop, CompletionStage<T> foreign) {
            super(loop, loop.frame.currentTask, loop.frame.currentScope);
            this.foreign = foreign;
        }

        @Override
        boolean cancellableByStage() {
            return true;
        }

        @Override
        boolean onCancelled(CancelledException e) {
            if (foreign instanceof CompletableFuture && !(foreign instanceof LoopStage)) {
                try {
                    ((CompletableFuture<T>) foreign).cancel(false);
                } catch (UnsupportedOperationException refused) {
                    // A minimal stage cannot be cancelled; the await ends all the same.
                } catch (RuntimeException | Error fault) {
                    // The foreign stage's own fault: report it, and let the scope's cancellation go on.
                    loop.reportUncaught(fault);
                }
            }
            return true;
        }
    }
}
