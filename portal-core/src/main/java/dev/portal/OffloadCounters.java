package dev.portal;

import java.util.concurrent.atomic.LongAdder;

import dev.portal.internal.WorkerPool;

/**
 * The live counters behind {@link OffloadStatistics}; any thread may bump them. A worker counts a
 * call when its function starts and when it returns, in counters of its own that the pool sums
 * ({@link WorkerPool#callCounts()}), so the loop counts nothing for a call that ends normally; the
 * calls running now are those started and not yet returned.
 */
final class OffloadCounters {

    final LongAdder cancelledBeforeStart = new LongAdder();
    final LongAdder shielded = new LongAdder();
    final LongAdder abandoned = new LongAdder();
    final LongAdder interrupted = new LongAdder();
    final LongAdder checkCancelledRaised = new LongAdder();
    final LongAdder abandonedRunning = new LongAdder();

    long abandonedRunning() {
        return abandonedRunning.sum();
    }

    /** The counters, with the workers' call counts read in the same statistics call. */
    OffloadStatistics snapshot(WorkerPool.CallCounts calls) {
        return new OffloadStatistics(calls.started(), calls.succeeded(), calls.failed(), cancelledBeforeStart.sum(),
                shielded.sum(), abandoned.sum(), interrupted.sum(), checkCancelledRaised.sum());
    }
}
