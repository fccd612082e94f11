package dev.portal.spring.boot.actuate;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import dev.portal.CapacityLimiterStatistics;
import dev.portal.EventLoop;
import dev.portal.EventLoopStatistics;

import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Reports the application's {@link EventLoop}: DOWN when the loop is stopping or stopped, or when
 * it has not run a fresh callback within the blocked-loop threshold (one callback is blocking it);
 * UP otherwise. Details: the loop's name and state, its tasks, its scheduling lag or how long it has
 * been blocked, its workers and its default limiter.
 */
public final class PortalHealthIndicator extends AbstractHealthIndicator {

    private final EventLoop eventLoop;

    private final Duration blockedThreshold;

    /**
     * Creates an indicator for {@code eventLoop}.
     * @param eventLoop the loop to report
     * @param blockedThreshold how long a probe callback may wait for the loop before the loop counts
     * as blocked; zero only reports the loop's state
     */
    public PortalHealthIndicator(EventLoop eventLoop, Duration blockedThreshold) {
        super("Portal event loop health check failed");
        this.eventLoop = Objects.requireNonNull(eventLoop, "eventLoop must not be null");
        Objects.requireNonNull(blockedThreshold, "blockedThreshold must not be null");
        if (blockedThreshold.isNegative()) {
            throw new IllegalArgumentException("blockedThreshold must be >= 0 (was " + blockedThreshold + ")");
        }
        this.blockedThreshold = blockedThreshold;
    }

    /**
     * Checks the loop. Runs on the caller's thread (Actuator's); while the loop is blocked it waits
     * up to the blocked-loop threshold for the probe. An interrupt ends that wait, reports DOWN and
     * keeps the flag set.
     */
    @Override
    protected void doHealthCheck(Health.Builder builder) {
        EventLoopStatistics statistics = this.eventLoop.statistics();
        builder.withDetail("loop", statistics.name())
            .withDetail("state", state(statistics))
            .withDetail("tasks", statistics.tasks())
            .withDetail("workers", statistics.workers().live())
            .withDetail("busyWorkers", statistics.workers().busy());
        CapacityLimiterStatistics limiter = statistics.defaultLimiter();
        builder.withDetail("limiter", limiter.borrowedTokens() + "/" + limiter.totalTokens() + " borrowed, "
                + limiter.tasksWaiting() + " waiting");
        if (!statistics.running()) {
            builder.down();
            return;
        }
        if (this.blockedThreshold.isZero()) {
            builder.up();
            return;
        }
        CompletableFuture<Duration> lag = this.eventLoop.measureLag();
        try {
            builder.up().withDetail("lag", lag.get(this.blockedThreshold.toNanos(), TimeUnit.NANOSECONDS).toString());
        }
        catch (TimeoutException blocked) {
            lag.cancel(false);
            builder.down().withDetail("blocked", "no callback ran for " + this.blockedThreshold);
        }
        catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            builder.down(ex);
        }
        catch (Exception ex) {
            builder.down(ex);
        }
    }

    static String state(EventLoopStatistics statistics) {
        if (statistics.terminated()) {
            return "terminated";
        }
        return statistics.running() ? "running" : "stopping";
    }

}
