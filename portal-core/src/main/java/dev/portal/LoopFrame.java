package dev.portal;

import io.micrometer.context.ContextSnapshot;

import org.jspecify.annotations.Nullable;

/**
 * What the loop thread writes on every callback: the running task and scope, the nesting depth of
 * promise completions and their trampoline, the tick count the blocked-loop watchdog samples, the time the current turn began, and the lag of the last timer. They live in an object of
 * their own, padded with a cache line on either side, so that these writes never invalidate the
 * line of a field that other threads read to submit work (the loop's thread, state and queue),
 * nor the line of a neighbouring object.
 *
 * <p>The padding relies on HotSpot laying out a superclass's fields before its subclass's; the
 * {@code int} fills the gap after a compressed object header, where a subclass field could
 * otherwise land.
 */
final class LoopFrame extends LoopFrameFields {
    @SuppressWarnings("unused")
    private long q0, q1, q2, q3, q4, q5, q6, q7;

    LoopFrame(CancelScope rootScope) {
        currentScope = rootScope;
    }
}

/** The padding before {@link LoopFrameFields}. */
abstract class LoopFramePadding {
    @SuppressWarnings("unused")
    private int gap;
    @SuppressWarnings("unused")
    private long p0, p1, p2, p3, p4, p5, p6, p7;
}

/** The fields of {@link LoopFrame}; loop thread only, except those written with opaque stores. */
abstract class LoopFrameFields extends LoopFramePadding {
    /** Callbacks run so far; written with opaque stores, read by the watchdog. */
    long ticks;
    /** When the current turn of the loop began ({@link System#nanoTime()}). */
    long turnNanos = System.nanoTime();
    /** How late the last timer fired, and the most any did; written with opaque stores. */
    long lastTimerLagNanos;
    long maxTimerLagNanos;
    @Nullable LoopTask currentTask;
    CancelScope currentScope;
    /**
     * The task whose ThreadLocal context stays applied on the loop thread between callbacks (see
     * {@link EventLoop#enterKeepingContext}), and what restores the thread's own context.
     */
    @Nullable LoopTask contextTask;
    ContextSnapshot.@Nullable Scope contextRestore;
    /** Set while a callback that may keep its task's context applied has not entered a task yet. */
    boolean mayKeepContext;
    /** How many promise completions are nested on the loop's stack now (see LoopPromise#completeInContext). */
    int completionDepth;
    /** Completions queued past the nesting limit, drained by the outermost completion. */
    LoopPromise.@Nullable Deferred deferredHead;
    LoopPromise.@Nullable Deferred deferredTail;

    /** Queues a completion on the trampoline. Loop thread only. */
    final void defer(LoopPromise.Deferred d) {
        LoopPromise.Deferred tail = deferredTail;
        if (tail == null) {
            deferredHead = d;
        } else {
            tail.next = d;
        }
        deferredTail = d;
    }
}
