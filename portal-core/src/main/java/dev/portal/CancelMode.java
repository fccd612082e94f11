package dev.portal;

/**
 * What {@link ToThread#runSync} does when the calling task is cancelled while its function runs
 * on a worker thread, by its scope or by {@code cancel()} on the stage {@code runSync} returned.
 * Whatever the mode, the function never starts if the caller was cancelled while the call waited
 * for a token, and the call keeps its limiter token until the function returns.
 */
public enum CancelMode {

    /**
     * The default (AnyIO's {@code abandon_on_cancel=False}): the caller keeps waiting for the
     * worker, receives the function's result or exception as usual, and the cancellation surfaces
     * at the caller's next checkpoint. The worker may poll {@link FromThread#checkCancelled()}.
     * Once the call holds its token, {@code cancel()} on its stage is refused: it returns false and
     * the stage completes with the function's outcome.
     */
    SHIELD,

    /**
     * AnyIO's {@code abandon_on_cancel=True}: the caller fails with {@link CancelledException} at
     * once; the function runs on and its outcome is dropped.
     */
    ABANDON,

    /**
     * As {@link #ABANDON}, and the worker thread is also {@link Thread#interrupt() interrupted}, so
     * interruptible blocking calls (sleeps, locks, NIO channels, JDBC drivers that honour it) end
     * early. The interrupt is aimed at this call only: the worker clears it before its next job.
     */
    INTERRUPT
}
