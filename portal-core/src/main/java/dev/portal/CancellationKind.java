package dev.portal;

/** What a {@link CancellationEvent} reports. */
public enum CancellationKind {

    /**
     * {@link CancelScope#cancel()} took effect on a scope: one event per scope, the first time it is
     * cancelled on its own account (a repeated {@code cancel()} and the scopes below it, cancelled
     * with it, are not reported again). Cancelling a {@link BlockingPortal} task's future or stopping
     * a portal with {@code stop(true)} cancels a scope and is reported so.
     */
    SCOPE_CANCELLED,

    /** A scope's deadline passed while the scope was entered (one event per scope, as above). */
    DEADLINE,

    /** {@link FromThread#checkCancelled()} raised {@link CancelledException} in a worker: one event per raise. */
    CHECK_CANCELLED
}
