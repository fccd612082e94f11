package dev.portal;

/** How a {@link BlockingPortal} call ended, as reported by {@link PortalCallEvent}. */
public enum PortalCallOutcome {

    /** The task completed with a value. */
    SUCCESS,

    /** The task failed with an exception (other than a cancellation). */
    FAILURE,

    /**
     * The task was cancelled: its future was cancelled, its caller was interrupted while waiting,
     * or the portal or loop was stopped with its tasks cancelled.
     */
    CANCELLED,

    /**
     * The call was refused before any task started: the portal was not running, its loop had
     * stopped or was stopping gracefully, or the call was made on the loop's own thread.
     */
    REJECTED
}
