package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A counter that only its loop thread changes and any thread reads. An increment is a plain
 * read and an opaque store: no CAS and no fence, where a {@code LongAdder} pays a CAS per
 * increment even when one thread is the only writer. The value sits in the middle of an array, a
 * cache line from either end, so the loop's stores never invalidate a line that a submitting
 * thread reads or writes (such as a {@code LongAdder} allocated next to it).
 */
final class LoopCounter {

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int VALUE = 8;

    private final long[] slots = new long[2 * VALUE + 1];

    /** Adds one. The owning loop thread only. */
    void increment() {
        SLOT.setOpaque(slots, VALUE, (long) SLOT.getOpaque(slots, VALUE) + 1);
    }

    /** Subtracts one, for a gauge such as the tasks alive. The owning loop thread only. */
    void decrement() {
        SLOT.setOpaque(slots, VALUE, (long) SLOT.getOpaque(slots, VALUE) - 1);
    }

    /** The count; a recent value from any thread, never a torn one. */
    long get() {
        return (long) SLOT.getOpaque(slots, VALUE);
    }
}
