package dev.portal.spring.boot.metrics;

import java.util.Map;

import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;
import dev.portal.EventLoopStatistics;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.context.annotation.Bean;

import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * Portal's Micrometer meters ({@link PortalMeters}): gauges for every {@link CapacityLimiter} bean,
 * tagged with its name, and for every {@link EventLoop} bean's workers and tasks; timers and counters
 * fed by each loop's events; and a once-a-second lag probe per loop. Active when Micrometer and a
 * {@link MeterRegistry} bean are present, as Spring Boot's own executor metrics are.
 */
@AutoConfiguration(after = PortalAutoConfiguration.class,
        afterName = { "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
                "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
                "org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration" })
@ConditionalOnClass({ MeterRegistry.class, EventLoop.class })
@ConditionalOnBean({ EventLoop.class, MeterRegistry.class })
public final class PortalMetricsAutoConfiguration {

    @Autowired
    void bindPortalToRegistry(Map<String, CapacityLimiter> limiters, ObjectProvider<EventLoop> loops,
            MeterRegistry registry) {
        limiters.forEach((beanName, limiter) -> bindLimiter(beanName, limiter, registry));
        loops.orderedStream().forEach((loop) -> bindLoop(loop, registry));
    }

    @Bean
    static LoopLagProbes portalLoopLagProbes(ObjectProvider<EventLoop> loops, ObjectProvider<MeterRegistry> registry) {
        return new LoopLagProbes(loops, registry);
    }

    private static void bindLimiter(String beanName, CapacityLimiter limiter, MeterRegistry registry) {
        String name = (limiter.name() != null) ? limiter.name() : beanName;
        gauge(PortalMeters.LIMITER_CAPACITY, limiter, CapacityLimiter::totalTokens, name, registry);
        gauge(PortalMeters.LIMITER_BORROWED, limiter, CapacityLimiter::borrowedTokens, name, registry);
        gauge(PortalMeters.LIMITER_AVAILABLE, limiter, CapacityLimiter::availableTokens, name, registry);
        gauge(PortalMeters.LIMITER_WAITING, limiter, CapacityLimiter::tasksWaiting, name, registry);
    }

    private static void gauge(PortalMeters meter, CapacityLimiter limiter,
            java.util.function.ToIntFunction<CapacityLimiter> value, String name, MeterRegistry registry) {
        Gauge.builder(meter.meterName(), limiter, (l) -> value.applyAsInt(l))
            .description(meter.description())
            .baseUnit(meter.baseUnit())
            .tag(PortalMeters.Tags.LIMITER, name)
            .register(registry);
    }

    private static void bindLoop(EventLoop loop, MeterRegistry registry) {
        loopGauge(PortalMeters.WORKERS_LIVE, loop, (s) -> s.workers().live(), registry);
        loopGauge(PortalMeters.WORKERS_BUSY, loop, (s) -> s.workers().busy(), registry);
        loopGauge(PortalMeters.WORKERS_ABANDONED, loop, (s) -> s.workers().abandonedRunning(), registry);
        loopGauge(PortalMeters.LOOP_TASKS, loop, EventLoopStatistics::tasks, registry);
        Gauge.builder(PortalMeters.LOOP_BLOCKED_DURATION.meterName(), loop,
                (l) -> l.blockedFor().toNanos() / 1e9)
            .description(PortalMeters.LOOP_BLOCKED_DURATION.description())
            .baseUnit(PortalMeters.LOOP_BLOCKED_DURATION.baseUnit())
            .tag(PortalMeters.Tags.LOOP, loop.name())
            .register(registry);
        loop.addListener(new PortalMetricsListener(registry, loop.name()));
    }

    private static void loopGauge(PortalMeters meter, EventLoop loop,
            java.util.function.ToDoubleFunction<EventLoopStatistics> value, MeterRegistry registry) {
        Gauge.builder(meter.meterName(), loop, (l) -> value.applyAsDouble(l.statistics()))
            .description(meter.description())
            .baseUnit(meter.baseUnit())
            .tag(PortalMeters.Tags.LOOP, loop.name())
            .register(registry);
    }

}
