package dev.portal.spring.boot.metrics;

import java.util.List;

import io.micrometer.core.instrument.Meter;

import org.jspecify.annotations.Nullable;

/**
 * Every meter Portal registers, in one place: name, type, base unit, tags and meaning. The reference
 * page {@code docs/metrics.md} lists the same meters with what to alert on.
 *
 * <p>Gauges read lock-free counters when the registry polls them; timers and counters are fed by
 * the loop's {@linkplain dev.portal.EventLoopListener events} as calls end.
 */
public enum PortalMeters {

    /** Total tokens of a limiter: the most blocking calls it lets run at once. */
    LIMITER_CAPACITY("portal.limiter.capacity", Meter.Type.GAUGE, "tokens",
            "Total tokens of the limiter: the most blocking calls it lets run at once", Tags.LIMITER),

    /** Tokens of a limiter held now: blocking calls running, abandoned calls still running included. */
    LIMITER_BORROWED("portal.limiter.borrowed", Meter.Type.GAUGE, "tokens",
            "Tokens held now: blocking calls running, abandoned ones still running included", Tags.LIMITER),

    /** Tokens of a limiter free now; negative while a lowered total is still over-subscribed. */
    LIMITER_AVAILABLE("portal.limiter.available", Meter.Type.GAUGE, "tokens",
            "Tokens free now; negative while a lowered total is over-subscribed", Tags.LIMITER),

    /** Calls queued for a token of a limiter. */
    LIMITER_WAITING("portal.limiter.waiting", Meter.Type.GAUGE, "tasks", "Calls queued for a token",
            Tags.LIMITER),

    /** Time each blocking call waited for its token (zero when one was free). */
    LIMITER_TOKEN_WAIT("portal.limiter.token.wait", Meter.Type.TIMER, null,
            "Time each blocking call waited for a token of the limiter", Tags.LOOP, Tags.LIMITER),

    /** Worker threads alive, idle ones included. */
    WORKERS_LIVE("portal.workers.live", Meter.Type.GAUGE, "threads", "Worker threads alive, idle ones included",
            Tags.LOOP),

    /** Worker threads running a call now. */
    WORKERS_BUSY("portal.workers.busy", Meter.Type.GAUGE, "threads", "Worker threads running a call now",
            Tags.LOOP),

    /** Workers still running a call whose caller stopped waiting (abandoned or interrupted). */
    WORKERS_ABANDONED("portal.workers.abandoned", Meter.Type.GAUGE, "threads",
            "Workers still running a call whose caller was cancelled and left (abandoned or interrupted)",
            Tags.LOOP),

    /** How long each blocking call ran on its worker, by outcome. */
    OFFLOAD_DURATION("portal.offload.duration", Meter.Type.TIMER, null,
            "How long each blocking call ran on its worker (zero if it never started), by outcome", Tags.LOOP,
            Tags.LIMITER, Tags.OUTCOME, Tags.CANCEL_MODE),

    /** Cancellations as they happen, by kind and by the cancel mode of the call they hit. */
    CANCELLATIONS("portal.cancellations", Meter.Type.COUNTER, null,
            "Cancellations: scopes cancelled, deadlines passed, checkCancelled raised in a worker", Tags.LOOP,
            Tags.KIND, Tags.CANCEL_MODE),

    /** Calls made through a BlockingPortal from threads the loop did not start, by method and outcome. */
    PORTAL_CALLS("portal.calls", Meter.Type.TIMER, null,
            "Calls into the loop through a BlockingPortal, by method and outcome, from call to result", Tags.LOOP,
            Tags.METHOD, Tags.OUTCOME),

    /** Tasks alive on the loop. */
    LOOP_TASKS("portal.loop.tasks", Meter.Type.GAUGE, null, "Tasks alive on the loop", Tags.LOOP),

    /** How late the loop ran a timer due now: the time a ready callback waits for the loop thread. */
    LOOP_LAG("portal.loop.lag", Meter.Type.TIMER, null,
            "How late the loop runs a timer, sampled every second: the time ready work waits for the loop thread",
            Tags.LOOP),

    /** Stalls of the loop: one callback ran past the blocked-loop threshold. */
    LOOP_BLOCKED("portal.loop.blocked", Meter.Type.COUNTER, null,
            "Stalls: one callback ran longer than portal.loop.blocked-threshold", Tags.LOOP),

    /** How long the loop has been stuck in its current callback, when past the threshold; zero when healthy. */
    LOOP_BLOCKED_DURATION("portal.loop.blocked.duration", Meter.Type.GAUGE, "seconds",
            "How long the loop has been stuck in one callback, past the threshold; 0 when healthy", Tags.LOOP);

    private final String meterName;
    private final Meter.Type type;
    private final @Nullable String baseUnit;
    private final String description;
    private final List<String> tags;

    PortalMeters(String meterName, Meter.Type type, @Nullable String baseUnit, String description, String... tags) {
        this.meterName = meterName;
        this.type = type;
        this.baseUnit = baseUnit;
        this.description = description;
        this.tags = List.of(tags);
    }

    /** The meter's name, dot-separated as Micrometer names are. */
    public String meterName() {
        return this.meterName;
    }

    public Meter.Type type() {
        return this.type;
    }

    /** The base unit of a gauge or counter; null for timers (seconds) and plain counts. */
    public @Nullable String baseUnit() {
        return this.baseUnit;
    }

    public String description() {
        return this.description;
    }

    /** The tag keys every instance of this meter carries. */
    public List<String> tags() {
        return this.tags;
    }

    /** Tag keys. */
    public static final class Tags {

        /** The event loop's name ({@code portal.loop.thread-name}). */
        public static final String LOOP = "loop";

        /** The limiter's name; a limiter bean without a name is tagged with its bean name. */
        public static final String LIMITER = "limiter";

        /** How a call ended: see {@link dev.portal.OffloadOutcome} and {@link dev.portal.PortalCallOutcome}. */
        public static final String OUTCOME = "outcome";

        /**
         * {@code shield}, {@code abandon} or {@code interrupt}; on cancellations, {@code none} for scope and
         * deadline cancellations, which may hold many calls.
         */
        public static final String CANCEL_MODE = "cancel.mode";

        /** {@code scope_cancelled}, {@code deadline} or {@code check_cancelled}. */
        public static final String KIND = "kind";

        /** The portal method: {@code call}, {@code callSync}, {@code startTaskSoon}, {@code startTask}, {@code wrapAsyncResource}. */
        public static final String METHOD = "method";

        private Tags() {
        }
    }
}
