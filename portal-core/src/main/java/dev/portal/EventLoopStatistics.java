package dev.portal;

import java.time.Duration;

/**
 * An immutable snapshot of an event loop, for meters and endpoints.
 *
 * @param name the loop's name
 * @param running whether the loop is running and not stopping
 * @param terminated whether the loop has stopped
 * @param tasks tasks alive on the loop now
 * @param callbacksRun callbacks the loop has run (timers, submitted callbacks, completions)
 * @param callbackFailures callbacks that threw
 * @param lastTimerLag how late the most recent timer fired
 * @param maxTimerLag the latest any timer fired
 * @param blockedEvents times the blocked-loop detector reported a stalled callback
 * @param longestBlock the longest stall the detector observed
 * @param workers the worker pool
 * @param offloads {@link ToThread#runSync} calls by outcome and cancellations by kind
 * @param defaultLimiter the loop's default limiter's counters, read without its lock; its
 *        {@code borrowers} list is left empty (see {@link CapacityLimiter#statistics()} for it)
 */
public record EventLoopStatistics(String name, boolean running, boolean terminated, int tasks, long callbacksRun,
        long callbackFailures, Duration lastTimerLag, Duration maxTimerLag, long blockedEvents, Duration longestBlock,
        WorkerPoolStatistics workers, OffloadStatistics offloads, CapacityLimiterStatistics defaultLimiter) {
}
