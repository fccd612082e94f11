package dev.portal;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Lock-step helpers for tests that race two threads through a narrow window. */
final class Races {

    private Races() {
    }

    /** Spins until {@code counter} reaches {@code value}; false if the race was stopped first. */
    static boolean spinUntil(AtomicInteger counter, int value, AtomicInteger stopAt) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (int n = 0; counter.get() < value; n++) {
            if (stopAt.get() <= value) {
                return false;
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the other side did not arrive within 10 s");
            }
            if (n < 10_000) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
        return true;
    }
}
