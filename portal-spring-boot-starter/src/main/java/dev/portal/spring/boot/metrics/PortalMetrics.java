package dev.portal.spring.boot.metrics;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * Binds {@link PortalMeters} for an event loop and limiters: the limiter meters once per limiter,
 * tagged with its name, the worker and loop meters tagged with the loop's name. Meters hold the loop
 * and limiters strongly, as the application holds them for its whole life.
 */
public final class PortalMetrics implements MeterBinder {

    private final EventLoop eventLoop;

    private final Map<String, CapacityLimiter> limiters;

    /**
     * Creates the binder.
     * @param eventLoop the loop whose workers, tasks and blocked events to meter
     * @param limiters the limiters to meter, keyed by a fallback name (their bean name) for a limiter
     * without a name of its own; the loop's default limiter is metered whether or not it is among them
     */
    public PortalMetrics(EventLoop eventLoop, Map<String, CapacityLimiter> limiters) {
        this.eventLoop = Objects.requireNonNull(eventLoop, "eventLoop must not be null");
        this.limiters = Map.copyOf(Objects.requireNonNull(limiters, "limiters must not be null"));
    }

    /** Registers every meter with {@code registry}; Spring Boot calls it once per registry. */
    @Override
    public void bindTo(MeterRegistry registry) {
        limitersByName().forEach((name, limiter) -> bindLimiter(registry, name, limiter));
        EventLoop loop = this.eventLoop;
        String name = loop.name();
        gauge(registry, PortalMeters.WORKERS_LIVE, name, loop, (l) -> l.statistics().workers().live());
        gauge(registry, PortalMeters.WORKERS_BUSY, name, loop, (l) -> l.statistics().workers().busy());
        gauge(registry, PortalMeters.WORKERS_ABANDONED, name, loop, (l) -> l.statistics().workers().abandonedRunning());
        gauge(registry, PortalMeters.LOOP_TASKS, name, loop, (l) -> l.statistics().tasks());
        FunctionCounter.builder(PortalMeters.LOOP_BLOCKED.meterName(), loop, (l) -> l.statistics().blockedEvents())
            .baseUnit(PortalMeters.LOOP_BLOCKED.baseUnit())
            .description("Times one callback ran past the blocked-loop threshold")
            .tag(PortalMeters.LOOP_BLOCKED.tag(), name)
            .register(registry);
    }

    private static void bindLimiter(MeterRegistry registry, String name, CapacityLimiter limiter) {
        gauge(registry, PortalMeters.LIMITER_TOKENS_TOTAL, name, limiter, CapacityLimiter::totalTokens);
        gauge(registry, PortalMeters.LIMITER_TOKENS_BORROWED, name, limiter, CapacityLimiter::borrowedTokens);
        gauge(registry, PortalMeters.LIMITER_TOKENS_AVAILABLE, name, limiter, CapacityLimiter::availableTokens);
        gauge(registry, PortalMeters.LIMITER_TASKS_WAITING, name, limiter, (l) -> l.statistics().tasksWaiting());
        FunctionTimer
            .builder(PortalMeters.LIMITER_WAIT.meterName(), limiter, (l) -> l.statistics().waitedAcquisitions(),
                    (l) -> l.statistics().totalWaitTime().toNanos(), TimeUnit.NANOSECONDS)
            .description("Grants that had to queue for a token, and the time spent queued")
            .tag(PortalMeters.LIMITER_WAIT.tag(), name)
            .register(registry);
    }

    private static <T> void gauge(MeterRegistry registry, PortalMeters meter, String tagValue, T source,
            java.util.function.ToDoubleFunction<T> value) {
        Gauge.builder(meter.meterName(), source, value)
            .baseUnit(meter.baseUnit())
            .tag(meter.tag(), tagValue)
            .register(registry);
    }

    private Map<String, CapacityLimiter> limitersByName() {
        Map<String, CapacityLimiter> byName = new LinkedHashMap<>();
        CapacityLimiter loopDefault = this.eventLoop.defaultThreadLimiter();
        byName.put(nameOf(loopDefault, "default"), loopDefault);
        this.limiters.entrySet()
            .stream()
            .sorted(Map.Entry.comparingByKey())
            .filter((entry) -> entry.getValue() != loopDefault)
            .forEach((entry) -> byName.putIfAbsent(nameOf(entry.getValue(), entry.getKey()), entry.getValue()));
        return byName;
    }

    private static String nameOf(CapacityLimiter limiter, String fallback) {
        String name = limiter.name();
        return (name != null) ? name : fallback;
    }

}
