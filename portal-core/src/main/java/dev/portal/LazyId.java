package dev.portal;

import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Ids drawn from a sequence the first time they are read, so making a task or a scope touches no
 * counter shared by every thread; most are never read.
 */
final class LazyId {

    private LazyId() {
    }

    /** The {@code long} field {@code id} of {@code holder}, set from {@code sequence} on first read. */
    static long get(Object holder, VarHandle id, AtomicLong sequence) {
        long n = (long) id.getVolatile(holder);
        if (n == 0) {
            id.compareAndSet(holder, 0L, sequence.incrementAndGet());
            n = (long) id.getVolatile(holder);
        }
        return n;
    }
}
