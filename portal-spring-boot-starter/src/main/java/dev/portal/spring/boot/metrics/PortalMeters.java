package dev.portal.spring.boot.metrics;

import io.micrometer.core.instrument.Meter;

/**
 * Every meter Portal registers: name, type, base unit and tags, in one place
 * ({@code docs/metrics.md} explains each and what to alert on). Gauges read current values when the
 * registry is scraped; function counters and timers read the loop's and limiters' own counters, so
 * no meter costs anything between scrapes.
 */
public enum PortalMeters {

    /** Total tokens of a limiter: the most blocking calls it lets run at once. Tag {@code limiter}. */
    LIMITER_TOKENS_TOTAL("portal.limiter.tokens.total", Meter.Type.GAUGE, "tokens", "limiter"),

    /** Tokens held now, by calls running or abandoned-but-running. Tag {@code limiter}. */
    LIMITER_TOKENS_BORROWED("portal.limiter.tokens.borrowed", Meter.Type.GAUGE, "tokens", "limiter"),

    /** Total minus borrowed; negative right after the total was lowered. Tag {@code limiter}. */
    LIMITER_TOKENS_AVAILABLE("portal.limiter.tokens.available", Meter.Type.GAUGE, "tokens", "limiter"),

    /** Calls queued for a token now. Tag {@code limiter}. */
    LIMITER_TASKS_WAITING("portal.limiter.tasks.waiting", Meter.Type.GAUGE, "tasks", "limiter"),

    /**
     * Grants that had to queue, and the time queued (a function timer: count, total time). Tag
     * {@code limiter}.
     */
    LIMITER_WAIT("portal.limiter.wait", Meter.Type.TIMER, "seconds", "limiter"),

    /** Worker threads alive. Tag {@code loop}. */
    WORKERS_LIVE("portal.workers.live", Meter.Type.GAUGE, "threads", "loop"),

    /** Blocking calls running on workers now. Tag {@code loop}. */
    WORKERS_BUSY("portal.workers.busy", Meter.Type.GAUGE, "threads", "loop"),

    /** Abandoned or interrupted calls whose function has not returned yet. Tag {@code loop}. */
    WORKERS_ABANDONED("portal.workers.abandoned", Meter.Type.GAUGE, "threads", "loop"),

    /** Tasks alive on the loop. Tag {@code loop}. */
    LOOP_TASKS("portal.loop.tasks", Meter.Type.GAUGE, "tasks", "loop"),

    /** Times one callback ran past the blocked-loop threshold. Tag {@code loop}. */
    LOOP_BLOCKED("portal.loop.blocked", Meter.Type.COUNTER, "events", "loop");

    private final String meterName;

    private final Meter.Type type;

    private final String baseUnit;

    private final String tag;

    PortalMeters(String meterName, Meter.Type type, String baseUnit, String tag) {
        this.meterName = meterName;
        this.type = type;
        this.baseUnit = baseUnit;
        this.tag = tag;
    }

    /** The meter's name, dot-separated as Micrometer expects. */
    public String meterName() {
        return this.meterName;
    }

    /** The meter's type. */
    public Meter.Type type() {
        return this.type;
    }

    /** The meter's base unit. */
    public String baseUnit() {
        return this.baseUnit;
    }

    /** The key of the meter's one tag: {@code limiter} or {@code loop}. */
    public String tag() {
        return this.tag;
    }

}
