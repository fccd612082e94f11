package dev.portal;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.locks.LockSupport;

import dev.portal.internal.WorkerPool;

/**
 * What a test may rely on about worker reuse. The pool promises that a worker parked on its idle
 * stack when a call comes is woken for it rather than a new thread started; it does not promise
 * which worker takes a call that arrives while the last one is still on its way to the stack (the
 * worker and the dispatcher may both act on the call, and a second thread starts). Tests that show
 * reuse therefore wait until the worker is parked, or count workers against calls.
 */
final class Workers {

    private Workers() {
    }

    /**
     * Whether {@code worker} is parked on its pool's idle stack, waiting for a call or its idle
     * timeout. Once true it stays true until a dispatch claims the worker or it retires: a worker
     * parks with its pool as the blocker only while it is idle.
     */
    static boolean parkedIdle(Thread worker) {
        Thread.State state = worker.getState();
        return (state == Thread.State.TIMED_WAITING || state == Thread.State.WAITING)
                && LockSupport.getBlocker(worker) instanceof WorkerPool;
    }

    /**
     * Completes on the loop once {@code worker} is {@linkplain #parkedIdle parked}, so the next call
     * wakes it; fails with an AssertionError after 10 s. Loop thread only (it polls with
     * {@link Async#sleep}).
     */
    static CompletionStage<Void> untilParked(Thread worker) {
        return poll(worker, System.nanoTime() + Duration.ofSeconds(10).toNanos());
    }

    private static CompletionStage<Void> poll(Thread worker, long deadline) {
        if (parkedIdle(worker)) {
            return CompletableFuture.completedFuture(null);
        }
        if (System.nanoTime() - deadline > 0) {
            return CompletableFuture.failedFuture(new AssertionError(worker.getName() + " did not park within 10 s"));
        }
        return Async.sleep(Duration.ofMillis(1)).thenCompose(v -> poll(worker, deadline));
    }
}
