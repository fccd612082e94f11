package dev.portal;

import java.util.concurrent.atomic.LongAdder;

import dev.portal.internal.WorkerPool;

/**
 * The live counters behind {@link OffloadStatistics}; any thread may bump them. A worker counts a
 * call when its function starts and when it returns, in counters of its own that the pool sums
 * ({@link WorkerPool#started()}), so the loop counts nothing for a call that ends normally; the
 * calls running now are those started and not yet returned.
 */
final class OffloadCounters {

    private final WorkerPool workers;
    final LongAdder cancelledBeforeStart = new LongAdder();
    final LongAdder shielded = new LongAdder();
    final LongAdder abandoned = new LongAdder();
    final LongAdder interrupted = new LongAdder();
    final LongAdder checkCancelledRaised = new LongAdder();
    final LongAdder abandonedRunning = new LongAdder();

    OffloadCounters(WorkerPool workers) {
        this.workers = workers;
    }

    long runningNow() {
        // Read the finishes first: a call that finishes between the reads is then never counted
        // as running twice over, and the result is never negative.
        long finished = workers.succeeded() + workers.failed();
        return Math.max(0, workers.started() - finished);
    }

    long abandonedRunning() {
        return abandonedRunning.sum();
    }

    OffloadStatistics snapshot() {
        long succeeded = workers.succeeded();
        long failed = workers.failed();
        long started = workers.started();
        return new OffloadStatistics(started, succeeded, failed, cancelledBeforeStart.sum(),
                shielded.sum(), abandoned.sum(), interrupted.sum(), checkCancelledRaised.sum());
    }
}
