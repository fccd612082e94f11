package dev.portal;

import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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

    /** Waits at {@code barrier} for at most 10 s, turning its checked exceptions into an AssertionError. */
    static void await(CyclicBarrier barrier) {
        try {
            barrier.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
            throw new AssertionError("the other side did not arrive at the barrier", e);
        }
    }
}
