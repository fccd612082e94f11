package dev.portal;

/**
 * How a {@link ToThread#runSync} call ended, as reported by {@link OffloadEvent}. The outcomes match
 * the counters of {@link OffloadStatistics}: a call is reported with exactly one of them.
 */
public enum OffloadOutcome {

    /** The function returned a value and the caller received it. */
    VALUE,

    /** The function threw and the caller received the exception. */
    EXCEPTION,

    /**
     * The function never ran: the caller was cancelled before a worker started it (in a cancelled
     * scope at the call, while queued for a token, or between the grant and the start), or the
     * loop was stopping and its workers took no more calls.
     */
    CANCELLED_BEFORE_START,

    /**
     * The caller was cancelled while the function ran under {@link CancelMode#SHIELD}; the caller
     * waited for the function and received its outcome.
     */
    SHIELDED,

    /** The caller was cancelled under {@link CancelMode#ABANDON} and stopped waiting; the function ran on. */
    ABANDONED,

    /**
     * The caller was cancelled under {@link CancelMode#INTERRUPT}: it stopped waiting and the worker
     * was interrupted (if the function was still running).
     */
    INTERRUPTED
}
