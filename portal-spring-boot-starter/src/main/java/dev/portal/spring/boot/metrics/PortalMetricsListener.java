package dev.portal.spring.boot.metrics;

import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;

import dev.portal.BlockedLoopEvent;
import dev.portal.CancelMode;
import dev.portal.CancellationEvent;
import dev.portal.CancellationKind;
import dev.portal.EventLoopListener;
import dev.portal.OffloadEvent;
import dev.portal.OffloadOutcome;
import dev.portal.PortalCallEvent;
import dev.portal.PortalCallOutcome;
import dev.portal.PortalMethod;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import org.jspecify.annotations.Nullable;

/**
 * Turns one loop's events into timers and counters. Each meter is registered the first time it is
 * needed and then kept in an array indexed by the enums of its tags, so recording an event costs one
 * or two array reads and the meter's own update: no tag list, no registry lookup, no allocation.
 * Events arrive on the loop, worker and watchdog threads at once; every cache is safe for that.
 */
final class PortalMetricsListener implements EventLoopListener {

    /** The limiter tag of a call under a limiter without a name. */
    static final String UNNAMED_LIMITER = "unnamed";

    private static final int MODES = CancelMode.values().length;
    private static final int OUTCOMES = OffloadOutcome.values().length;

    private final MeterRegistry registry;
    private final String loop;
    private final ConcurrentHashMap<String, LimiterMeters> limiters = new ConcurrentHashMap<>();
    /** [kind][mode + 1]: index 0 is "none". */
    private final AtomicReferenceArray<Counter> cancellations =
            new AtomicReferenceArray<>(CancellationKind.values().length * (MODES + 1));
    private final AtomicReferenceArray<Timer> portalCalls =
            new AtomicReferenceArray<>(PortalMethod.values().length * PortalCallOutcome.values().length);
    private final Counter blocked;

    PortalMetricsListener(MeterRegistry registry, String loop) {
        this.registry = registry;
        this.loop = loop;
        this.blocked = Counter.builder(PortalMeters.LOOP_BLOCKED.meterName())
            .description(PortalMeters.LOOP_BLOCKED.description())
            .tag(PortalMeters.Tags.LOOP, loop)
            .register(registry);
    }

    @Override
    public void onOffload(OffloadEvent event) {
        String limiter = (event.limiterName() != null) ? event.limiterName() : UNNAMED_LIMITER;
        LimiterMeters meters = this.limiters.get(limiter);
        if (meters == null) {
            meters = this.limiters.computeIfAbsent(limiter, LimiterMeters::new);
        }
        meters.tokenWait.record(event.tokenWait());
        meters.duration(event.outcome(), event.cancelMode()).record(event.run());
    }

    @Override
    public void onCancellation(CancellationEvent event) {
        CancelMode mode = event.cancelMode();
        int index = event.kind().ordinal() * (MODES + 1) + ((mode != null) ? mode.ordinal() + 1 : 0);
        Counter counter = this.cancellations.get(index);
        if (counter == null) {
            counter = Counter.builder(PortalMeters.CANCELLATIONS.meterName())
                .description(PortalMeters.CANCELLATIONS.description())
                .tag(PortalMeters.Tags.LOOP, this.loop)
                .tag(PortalMeters.Tags.KIND, tagValue(event.kind()))
                .tag(PortalMeters.Tags.CANCEL_MODE, (mode != null) ? tagValue(mode) : "none")
                .register(this.registry);
            this.cancellations.compareAndSet(index, null, counter);
        }
        counter.increment();
    }

    @Override
    public void onPortalCall(PortalCallEvent event) {
        int index = event.method().ordinal() * PortalCallOutcome.values().length + event.outcome().ordinal();
        Timer timer = this.portalCalls.get(index);
        if (timer == null) {
            timer = Timer.builder(PortalMeters.PORTAL_CALLS.meterName())
                .description(PortalMeters.PORTAL_CALLS.description())
                .tag(PortalMeters.Tags.LOOP, this.loop)
                .tag(PortalMeters.Tags.METHOD, event.method().methodName())
                .tag(PortalMeters.Tags.OUTCOME, tagValue(event.outcome()))
                .register(this.registry);
            this.portalCalls.compareAndSet(index, null, timer);
        }
        timer.record(event.duration());
    }

    @Override
    public void onBlockedLoop(BlockedLoopEvent event) {
        this.blocked.increment();
    }

    static String tagValue(Enum<?> value) {
        return value.name().toLowerCase(Locale.ROOT);
    }

    /** The meters of one limiter's calls on this loop. */
    private final class LimiterMeters {

        private final String limiter;
        private final Timer tokenWait;
        /** [outcome][mode]. */
        private final AtomicReferenceArray<Timer> durations = new AtomicReferenceArray<>(OUTCOMES * MODES);

        LimiterMeters(String limiter) {
            this.limiter = limiter;
            this.tokenWait = Timer.builder(PortalMeters.LIMITER_TOKEN_WAIT.meterName())
                .description(PortalMeters.LIMITER_TOKEN_WAIT.description())
                .tag(PortalMeters.Tags.LOOP, PortalMetricsListener.this.loop)
                .tag(PortalMeters.Tags.LIMITER, limiter)
                .register(PortalMetricsListener.this.registry);
        }

        Timer duration(OffloadOutcome outcome, CancelMode mode) {
            int index = outcome.ordinal() * MODES + mode.ordinal();
            @Nullable Timer timer = this.durations.get(index);
            if (timer == null) {
                timer = Timer.builder(PortalMeters.OFFLOAD_DURATION.meterName())
                    .description(PortalMeters.OFFLOAD_DURATION.description())
                    .tag(PortalMeters.Tags.LOOP, PortalMetricsListener.this.loop)
                    .tag(PortalMeters.Tags.LIMITER, this.limiter)
                    .tag(PortalMeters.Tags.OUTCOME, tagValue(outcome))
                    .tag(PortalMeters.Tags.CANCEL_MODE, tagValue(mode))
                    .register(PortalMetricsListener.this.registry);
                this.durations.compareAndSet(index, null, timer);
            }
            return timer;
        }
    }
}
