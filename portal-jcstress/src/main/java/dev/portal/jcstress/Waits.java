package dev.portal.jcstress;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Bounded waits and a little timing noise for the jcstress actors.
 *
 * <p>The tests check that work handed to a sleeping thread is picked up. A lost wake-up would
 * leave an actor waiting for ever, and jcstress only reports a hung iteration after 30 s, so the
 * actors wait at most {@link #LATE_NANOS} and report the work as late instead. Nothing legitimate
 * takes that long: a wake-up costs tens of microseconds, even interpreted on a loaded machine.
 */
public final class Waits {

    /** How long work may take to be picked up before the test calls it lost: 1 s. */
    public static final long LATE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(20);
    private static final long YIELD_NANOS = TimeUnit.MICROSECONDS.toNanos(200);
    private static final long PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(20);

    private Waits() {
    }

    /**
     * Waits until {@code condition} holds, or {@code timeoutNanos} have passed. Spins for the first
     * 20 µs (so the waiter reacts within a few hundred nanoseconds, inside the other thread's
     * window), then yields, then parks in short steps so that on a small machine the threads being
     * waited for get the CPU. Returns whether the condition held.
     */
    public static boolean until(BooleanSupplier condition, long timeoutNanos) {
        long start = System.nanoTime();
        while (!condition.getAsBoolean()) {
            long waited = System.nanoTime() - start;
            if (waited > timeoutNanos) {
                return condition.getAsBoolean();
            }
            if (waited < SPIN_NANOS) {
                Thread.onSpinWait();
            } else if (waited < YIELD_NANOS) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(PARK_NANOS);
            }
        }
        return true;
    }

    /**
     * Spins until {@code condition} holds, or {@code timeoutNanos} have passed, reacting within
     * nanoseconds. For waiting on the other actor, which has a CPU of its own; a thread that the
     * waiter started itself may need the waiter's CPU, so wait for those with {@link #until}.
     */
    public static boolean spinUntil(BooleanSupplier condition, long timeoutNanos) {
        long start = System.nanoTime();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - start > timeoutNanos) {
                return condition.getAsBoolean();
            }
            Thread.onSpinWait();
        }
        return true;
    }

    /**
     * Spins for a random short while, from nothing to a few microseconds, spread evenly on a log
     * scale, so that the racing step lands at every point of the other thread's window and not only
     * where the actors' natural timing puts it.
     */
    public static void jitter() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int spins = (1 << random.nextInt(9)) - 1; // 0, 1, 3, 7 ... 255
        for (int i = 0; i < spins; i++) {
            Thread.onSpinWait();
        }
    }
}
