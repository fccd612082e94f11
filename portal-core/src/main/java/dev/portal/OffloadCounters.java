package dev.portal;

import java.util.concurrent.atomic.LongAdder;

/**
 * The live counters behind {@link OffloadStatistics}; any thread may bump them. A worker counts a
 * call when its function starts and when it returns, so the loop counts nothing for a call that
 * ends normally; the calls running now are those started and not yet returned.
 */
final class OffloadCounters {

    final LongAdder started = new LongAdder();
    final LongAdder succeeded = new LongAdder();
    final LongAdder failed = new LongAdder();
    final LongAdder cancelledBeforeStart = new LongAdder();
    final LongAdder shielded = new LongAdder();
    final LongAdder abandoned = new LongAdder();
    final LongAdder interrupted = new LongAdder();
    final LongAdder checkCancelledRaised = new LongAdder();
    final LongAdder abandonedRunning = new LongAdder();

    long runningNow() {
        // Read the finishes first: a call that finishes between the reads is then never counted
        // as running twice over, and the result is never negative.
        long finished = succeeded.sum() + failed.sum();
        return Math.max(0, started.sum() - finished);
    }

    long abandonedRunning() {
        return abandonedRunning.sum();
    }

    OffloadStatistics snapshot() {
        return new OffloadStatistics(started.sum(), succeeded.sum(), failed.sum(), cancelledBeforeStart.sum(),
                shielded.sum(), abandoned.sum(), interrupted.sum(), checkCancelledRaised.sum());
    }
}
