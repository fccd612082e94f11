package dev.portal;

import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;

/**
 * Runs blocking code on a worker thread so the event loop stays free (AnyIO's {@code to_thread}).
 *
 * <pre>{@code
 * EventLoop.run(() -> ToThread.runSync(() -> {
 *     Thread.sleep(5_000);          // blocking: fine on a worker
 *     return "done";
 * }));
 * }</pre>
 *
 * <p><b>Bounded.</b> Each call holds one token of a {@link CapacityLimiter} while its function runs:
 * the loop's default limiter (40 tokens, see {@link #currentDefaultThreadLimiter()}) or one given in
 * {@link RunSyncOptions}. Calls beyond the limit wait in FIFO order; a waiting call costs about
 * 120 bytes with its continuation, not a thread. Worker threads are pooled, named after the loop, reused most-recently-idle
 * first, and retired after the loop's idle timeout (10 s by default).
 *
 * <p><b>Cancellation.</b> The call is a checkpoint: in a cancelled scope it fails at once and the
 * function never runs, and so does a call cancelled while it waits for a token. Once the function
 * runs, the {@link CancelMode} decides: {@code SHIELD} (default) waits for it and returns its
 * outcome, and the cancellation surfaces at the caller's next checkpoint; {@code ABANDON} fails the
 * caller at once and lets the function run on; {@code INTERRUPT} also interrupts the worker. An
 * abandoned call keeps its token until its function returns, so the limiter stays a true bound on
 * threads. The function may poll {@link FromThread#checkCancelled()} in every mode.
 *
 * <p><b>Outcome.</b> The stage completes on the loop thread, in the caller's task and scope, with
 * the function's value, or with the very exception object it threw.
 *
 * <p><b>Context.</b> The function sees a copy of the caller's {@link TaskLocal}s and ThreadLocal
 * context (MDC and whatever is registered with Micrometer's context-propagation). Changes it makes
 * stay on the worker and are cleared before the thread's next job.
 *
 * <p><b>Memory consistency.</b> Actions on the loop before {@code runSync} happen-before the function
 * runs; actions in the function happen-before the stage completes.
 */
public final class ToThread {

    private ToThread() {
    }

    /** Runs {@code fn} on a worker, shielded, under the loop's default limiter. Loop thread only. */
    public static <T> CompletionStage<T> runSync(Callable<T> fn) {
        return runSync(fn, RunSyncOptions.defaults());
    }

    /** Runs {@code fn} on a worker with the given cancel mode. Loop thread only. */
    public static <T> CompletionStage<T> runSync(Callable<T> fn, CancelMode cancelMode) {
        return runSync(fn, RunSyncOptions.defaults().withCancelMode(cancelMode));
    }

    /** Runs {@code fn} on a worker under the given limiter. Loop thread only. */
    public static <T> CompletionStage<T> runSync(Callable<T> fn, CapacityLimiter limiter) {
        return runSync(fn, RunSyncOptions.defaults().withLimiter(limiter));
    }

    /**
     * Runs {@code fn} on a worker thread with the given options.
     *
     * @throws IllegalStateException if called off an event loop thread (from a worker use
     *         {@link FromThread#run}; from other threads a {@code BlockingPortal})
     */
    public static <T> CompletionStage<T> runSync(Callable<T> fn, RunSyncOptions options) {
        Objects.requireNonNull(fn, "fn must not be null");
        Objects.requireNonNull(options, "options must not be null");
        EventLoop loop = EventLoop.requireCurrent("ToThread.runSync");
        Job<T> job = Job.create(loop, fn, options);
        if (!job.arm()) {
            loop.offloads.cancelledBeforeStart.increment();
            OffloadObservation o = job.observation();
            if (o != null) {
                o.reportNotStarted(job);
            }
            return job;
        }
        loop.offloadsOut++; // until its result comes back (Job.run) or it is withdrawn
        if (job.limiter().acquireOrEnqueue(job, loop.frame.turnNanos)) {
            job.granted();
        }
        return job;
    }

    /** The calling loop's default limiter: 40 tokens unless configured; resizable live. */
    public static CapacityLimiter currentDefaultThreadLimiter() {
        return EventLoop.requireCurrent("ToThread.currentDefaultThreadLimiter()").defaultLimiter;
    }
}
