package dev.portal;

/** What a {@link CancellationEvent} reports. */
public enum CancellationKind {

    /**
     * {@link CancelScope#cancel()} took effect on a scope: one event per scope, the first time it is
     * cancelled on its own account (a repeated {@code cancel()} and the scopes below it, cancelled
     * with it, are not reported again). The cancellations Portal makes itself count too: a
     * {@link TaskGroup} cancelling its scope because a child failed, a cancelled
     * {@link BlockingPortal} task future, a portal stopped with {@code stop(true)}. A scope cancelled
     * before it was entered is reported when it is entered.
     */
    SCOPE_CANCELLED,

    /** A scope's deadline passed while the scope was entered (one event per scope, as above). */
    DEADLINE,

    /** {@link FromThread#checkCancelled()} raised {@link CancelledException} in a worker: one event per raise. */
    CHECK_CANCELLED
}
