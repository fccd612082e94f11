package dev.portal;

import java.util.concurrent.atomic.LongAdder;

/** The live counters behind {@link OffloadStatistics}; any thread may bump them. */
final class OffloadCounters {

    final LongAdder started = new LongAdder();
    final LongAdder succeeded = new LongAdder();
    final LongAdder failed = new LongAdder();
    final LongAdder cancelledBeforeStart = new LongAdder();
    final LongAdder shielded = new LongAdder();
    final LongAdder abandoned = new LongAdder();
    final LongAdder interrupted = new LongAdder();
    final LongAdder checkCancelledRaised = new LongAdder();
    final LongAdder running = new LongAdder();
    final LongAdder abandonedRunning = new LongAdder();

    long runningNow() {
        return running.sum();
    }

    long abandonedRunning() {
        return abandonedRunning.sum();
    }

    OffloadStatistics snapshot() {
        return new OffloadStatistics(started.sum(), succeeded.sum(), failed.sum(), cancelledBeforeStart.sum(),
                shielded.sum(), abandoned.sum(), interrupted.sum(), checkCancelledRaised.sum());
    }
}
