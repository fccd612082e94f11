package dev.portal.spring.boot.actuate;

import java.time.Duration;
import java.util.Objects;

import dev.portal.CapacityLimiterStatistics;
import dev.portal.EventLoop;
import dev.portal.EventLoopStatistics;

import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Reports the application's {@link EventLoop}: DOWN when the loop is stopping or stopped, or while
 * one callback has been running past the loop's blocked-loop threshold
 * ({@link EventLoop#blockedFor()}); UP otherwise. Details: the loop's name and state, its tasks,
 * its workers, its default limiter and, when blocked, for how long.
 */
public final class PortalHealthIndicator extends AbstractHealthIndicator {

    private final EventLoop eventLoop;

    /**
     * Creates an indicator for {@code eventLoop}. A loop whose blocked-loop detector is off
     * (threshold zero) is reported by its state only.
     * @param eventLoop the loop to report
     */
    public PortalHealthIndicator(EventLoop eventLoop) {
        super("Portal event loop health check failed");
        this.eventLoop = Objects.requireNonNull(eventLoop, "eventLoop must not be null");
    }

    /**
     * Checks the loop. Any thread (Actuator's); never waits for the loop: it reads the loop's
     * statistics and its blocked-loop watchdog, lock-free.
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
        Duration blockedFor = this.eventLoop.blockedFor();
        if (!blockedFor.isZero()) {
            builder.down().withDetail("blockedFor", blockedFor.toString());
            return;
        }
        builder.up();
    }

    static String state(EventLoopStatistics statistics) {
        if (statistics.terminated()) {
            return "terminated";
        }
        return statistics.running() ? "running" : "stopping";
    }

}
