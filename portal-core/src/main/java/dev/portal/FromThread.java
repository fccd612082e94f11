package dev.portal;

import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;


import io.micrometer.context.ContextSnapshot;

import org.jspecify.annotations.Nullable;

/**
 * Calls back into the event loop from a worker thread started by {@link ToThread#runSync}, and
 * polls for the caller's cancellation (AnyIO's {@code from_thread}).
 *
 * <pre>{@code
 * ToThread.runSync(() -> {
 *     String page = FromThread.run(() -> httpOnTheLoop.get(uri));   // async code, on the loop
 *     FromThread.runSync(event::set);                               // a loop-confined call
 *     FromThread.checkCancelled();                                  // throws once the caller is cancelled
 *     return page;
 * });
 * }</pre>
 *
 * <p><b>Where.</b> Only on a worker thread while it runs a {@code runSync} function. Anywhere else
 * each method fails at once with an {@link IllegalStateException} that says what to use instead: a
 * {@code BlockingPortal} for threads the loop did not start, {@link Async#checkpoint()} on the loop.
 *
 * <p><b>Cancellation.</b> Code started by {@link #run} belongs to the caller's cancel scope: when the
 * caller is cancelled, it is cancelled too, and {@code run} throws {@link CancelledException}.
 * After a caller has abandoned the call ({@link CancelMode#ABANDON}), code started from the worker
 * runs outside that scope and is not cancelled with it, as in AnyIO.
 *
 * <p><b>Interruption.</b> {@link #run} and {@link #runSync} wait interruptibly: an interrupted
 * worker (see {@link CancelMode#INTERRUPT}) throws {@link InterruptedException}, with the flag
 * cleared, and the loop-side code is cancelled.
 */
public final class FromThread {

    private FromThread() {
    }

    /**
     * Runs async code on the loop and blocks the worker until its stage completes.
     *
     * @return the stage's value
     * @throws Exception the exception the stage failed with (the same object), or
     *         {@link CancelledException} if the caller's scope was cancelled
     */
    public static <T> @Nullable T run(AsyncCallable<T> fn) throws Exception {
        Objects.requireNonNull(fn, "fn must not be null");
        Job<?> job = requireJob("FromThread.run");
        return hop(job, "FromThread.run", () -> {
            CompletionStage<T> stage = fn.call();
            if (stage == null) {
                throw new NullPointerException("the async function given to FromThread.run returned null instead "
                        + "of a CompletionStage");
            }
            return stage;
        });
    }

    /**
     * Runs a plain function on the loop thread and blocks the worker until it returns. Use it for
     * loop-confined calls such as {@link Event#set()}.
     *
     * @return the function's value
     * @throws Exception the exception the function threw (the same object)
     */
    public static <T> @Nullable T runSync(Callable<T> fn) throws Exception {
        Objects.requireNonNull(fn, "fn must not be null");
        Job<?> job = requireJob("FromThread.runSync");
        return hop(job, "FromThread.runSync", () -> {
            try {
                return LoopStage.completedFuture(fn.call());
            } catch (Throwable t) {
                return LoopStage.failedFuture(t);
            }
        });
    }

    /**
     * Runs a plain action on the loop thread and blocks the worker until it has run, for example
     * {@code FromThread.runSync(event::set)}.
     *
     * @throws Exception the exception the action threw (the same object)
     */
    public static void runSync(Runnable action) throws Exception {
        Objects.requireNonNull(action, "action must not be null");
        runSync(() -> {
            action.run();
            return null;
        });
    }

    /**
     * Throws {@link CancelledException} if the scope of the task that called
     * {@link ToThread#runSync} has been cancelled (a cancellation beyond a shield does not count).
     * Keeps working after the caller has abandoned the call. Costs a thread check and a volatile
     * read.
     *
     * @throws IllegalStateException if not called from a {@code runSync} worker
     */
    public static void checkCancelled() {
        Job<?> job = ContextHolder.currentJob();
        if (job == null) {
            throw notAWorker("FromThread.checkCancelled()");
        }
        CancelScope scope = job.scope;
        if (scope.cancelled) {
            EventLoop loop = job.loop;
            loop.offloads.checkCancelledRaised.increment();
            if (loop.listeners.any()) {
                loop.listeners.cancellation(new CancellationEvent(loop.name(), CancellationKind.CHECK_CANCELLED,
                        job.mode(), job.options.name()));
            }
            throw scope.newCancelledException();
        }
    }

    private static Job<?> requireJob(String what) {
        Job<?> job = ContextHolder.currentJob();
        if (job == null) {
            throw notAWorker(what);
        }
        return job;
    }

    private static IllegalStateException notAWorker(String what) {
        Thread t = Thread.currentThread();
        String where = EventLoop.current() != null
                ? "this is an event loop thread, where async code awaits directly (Async.checkpoint() for a "
                        + "cancellation point); a BlockingPortal is for threads the loop did not start"
                : "this thread was not started by ToThread.runSync; threads the loop did not start reach it "
                        + "through a BlockingPortal";
        return new IllegalStateException(what + " can only be called from a worker thread running a "
                + "ToThread.runSync function (current thread: " + t.getName() + "): " + where);
    }

    private static <T> @Nullable T hop(Job<?> job, String name, AsyncCallable<T> fn) throws Exception {
        EventLoop loop = job.loop;
        Locals locals = job.locals;
        ContextSnapshot threadLocals = loop.threadContext.captureOnThisThread();
        CompletableFuture<T> outcome = new CompletableFuture<>();
        CancelScope callScope = CancelScope.create();
        try {
            loop.executeSoon(() -> { // a continuation of the offload: accepted while the loop drains
                CancelScope parent = job.abandoned ? loop.rootScope : job.scope;
                LoopTask task = new LoopTask(name, locals, threadLocals);
                LoopPromise<T> done = loop.spawn(task, parent, () -> callScope.run(fn), null, parent);
                done.whenComplete((v, e) -> {
                    if (e == null) {
                        outcome.complete(v);
                    } else {
                        outcome.completeExceptionally(CancelScope.unwrap(e));
                    }
                });
            });
        } catch (RejectedExecutionException stopped) {
            throw new IllegalStateException(name + " cannot reach event loop " + loop.name() + ": it has stopped", stopped);
        }
        try {
            return EventLoop.await(outcome);
        } catch (InterruptedException e) {
            callScope.cancel();
            throw e;
        }
    }
}
