package dev.portal;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

import org.jspecify.annotations.Nullable;

/**
 * An immutable snapshot of a {@link CapacityLimiter} (AnyIO's {@code CapacityLimiterStatistics},
 * plus wait-time counters).
 *
 * @param name the limiter's {@linkplain CapacityLimiter#name() name}, or null if it has none
 * @param totalTokens the current total
 * @param borrowedTokens tokens held now (may exceed the total right after it was lowered)
 * @param availableTokens {@code totalTokens - borrowedTokens}; negative while over-subscribed
 * @param tasksWaiting acquirers queued for a token
 * @param borrowers who holds the tokens: tasks, {@link ToThread#runSync} calls, or the objects given
 *        to {@link CapacityLimiter#acquireOnBehalfOf}
 * @param acquisitions tokens granted since the limiter was made
 * @param waitedAcquisitions grants that had to queue first
 * @param totalWaitTime time spent queued, summed over every waiter: granted, cancelled, and those
 *        still queued up to this snapshot
 */
public record CapacityLimiterStatistics(@Nullable String name, int totalTokens, int borrowedTokens, int availableTokens, int tasksWaiting,
        List<Object> borrowers, long acquisitions, long waitedAcquisitions, Duration totalWaitTime) {

    public CapacityLimiterStatistics {
        borrowers = List.copyOf(Objects.requireNonNull(borrowers, "borrowers must not be null"));
    }
}
