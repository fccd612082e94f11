package dev.portal;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;

import org.jspecify.annotations.Nullable;

/**
 * The clock readings and the cancellation verdict of one {@link ToThread#runSync} call made while
 * its loop had listeners, for its {@link OffloadEvent}. A call made with no listener has none, so
 * an unobserved call reads no clock and allocates nothing for events.
 */
final class OffloadObservation {

    private static final AtomicIntegerFieldUpdater<OffloadObservation> REPORTED =
            AtomicIntegerFieldUpdater.newUpdater(OffloadObservation.class, "reported");

    /** When {@code runSync} was called; loop thread. */
    final long calledNanos;
    /** When the token was granted; written by the granting thread before the call is dispatched. */
    long grantedNanos;
    /** When the function started and returned; written by the worker before the result is posted. */
    long startNanos;
    long endNanos;
    /** SHIELDED, ABANDONED or INTERRUPTED once the caller was cancelled while the function ran; loop thread. */
    volatile @Nullable OffloadOutcome cancelled;
    private volatile int reported;

    OffloadObservation(long calledNanos) {
        this.calledNanos = calledNanos;
    }

    /** Reports the call once, whichever completion path gets here first. */
    void report(Job<?> job, OffloadOutcome outcome, long waitNanos, long runNanos, @Nullable Throwable error) {
        if (!REPORTED.compareAndSet(this, 0, 1)) {
            return;
        }
        EventLoop loop = job.loop;
        if (!loop.listeners.any()) {
            return;
        }
        loop.listeners.offload(new OffloadEvent(loop.name(), job.limiter().name(), job.options.name(), job.mode(),
                outcome, Duration.ofNanos(Math.max(0, waitNanos)), Duration.ofNanos(Math.max(0, runNanos)), error));
    }

    /** A call whose function never ran, given up now. */
    void reportNotStarted(Job<?> job) {
        report(job, OffloadOutcome.CANCELLED_BEFORE_START, System.nanoTime() - calledNanos, 0, null);
    }

    /** A call whose function ran and returned, with {@code error} if it threw. */
    void reportRan(Job<?> job, @Nullable Throwable error) {
        OffloadOutcome verdict = cancelled;
        OffloadOutcome outcome = verdict != null ? verdict : error != null ? OffloadOutcome.EXCEPTION : OffloadOutcome.VALUE;
        report(job, outcome, grantedNanos - calledNanos, endNanos - startNanos, error);
    }
}
