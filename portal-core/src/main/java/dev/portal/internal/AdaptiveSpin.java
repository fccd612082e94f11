package dev.portal.internal;

/**
 * Decides whether a thread about to wait for work (or a result) spins first, from how its recent
 * waits went. A spin pays only when what it waits for arrives within it: then the thread skips a
 * park and the other side skips an unpark, which together cost more CPU than a short spin. When it
 * arrives later (a web application's calls, one every few hundred microseconds), the spin is CPU
 * burnt on every wait, and the wait still ends in a park.
 *
 * <p>So a spin that ends without the work makes the next waits park at once: the next one, then two,
 * four and so on up to {@value #MAX_SKIP} waits, after each further spin that fails; a spin that
 * succeeds, or a park that ends sooner than the spin would have (the work was arriving quickly
 * after all), spins again on the next wait. Back-to-back traffic keeps spinning; paced traffic
 * spins once every {@value #MAX_SKIP} waits, which costs it a {@value #MAX_SKIP}th of one spin per
 * wait and finds out within as many waits when the traffic speeds up. This is the backoff of
 * HotSpot's adaptive spinning for monitors, with a wait's outcome in place of a lock's.
 *
 * <p>Not thread-safe on purpose: each instance is written by the one thread that waits (the loop),
 * or by whichever of several threads waits (workers, portal callers), whose racing plain writes can
 * only make one decision wrong; {@code int} writes do not tear. No allocation, no atomics.
 */
public final class AdaptiveSpin {

    /** The most waits that park without spinning after repeated failed spins. */
    public static final int MAX_SKIP = 64;

    private final long spinNanos;
    /** Waits left to park without spinning. */
    private int skip;
    /** How many waits the next failed spin makes park: 0 after a success. */
    private int backoff;

    /** @param spinNanos the longest spin, as configured; 0 turns spinning off */
    public AdaptiveSpin(long spinNanos) {
        this.spinNanos = spinNanos;
    }

    /** How long to spin for this wait: the configured spin, or 0 while backing off. Counts the wait. */
    public long spinNanos() {
        int s = skip;
        if (s > 0) {
            skip = s - 1;
            return 0;
        }
        return spinNanos;
    }

    /** Reports a spin that the work ended ({@code arrived}) or that ran out. */
    public void spun(boolean arrived) {
        if (arrived) {
            backoff = 0;
            return;
        }
        int b = backoff;
        b = b == 0 ? 1 : Math.min(MAX_SKIP, b * 2);
        backoff = b;
        skip = b;
    }

    /**
     * Reports a wait that parked (without spinning, or after a spin ran out) and lasted
     * {@code waitedNanos}: sooner than a spin would have lasted, the work is arriving quickly again.
     */
    public void parked(long waitedNanos) {
        if (waitedNanos < spinNanos && (backoff | skip) != 0) {
            backoff = 0;
            skip = 0;
        }
    }

    /** The configured spin. */
    public long maxSpinNanos() {
        return spinNanos;
    }

    /** Whether the next wait parks without spinning (for tests and statistics). */
    public boolean backingOff() {
        return skip > 0;
    }
}
