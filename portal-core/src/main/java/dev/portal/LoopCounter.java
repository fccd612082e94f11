package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A counter that only its loop thread changes and any thread reads. An increment is a plain
 * read and an opaque store: no CAS and no fence, where a {@code LongAdder} pays a CAS per
 * increment even when one thread is the only writer.
 */
final class LoopCounter {

    private static final VarHandle VALUE;

    static {
        try {
            VALUE = MethodHandles.lookup().findVarHandle(LoopCounter.class, "value", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused") // read and written with VALUE
    private long value;

    /** Adds one. The owning loop thread only. */
    void increment() {
        VALUE.setOpaque(this, (long) VALUE.getOpaque(this) + 1);
    }

    /** Subtracts one, for a gauge such as the tasks alive. The owning loop thread only. */
    void decrement() {
        VALUE.setOpaque(this, (long) VALUE.getOpaque(this) - 1);
    }

    /** The count; a recent value from any thread, never a torn one. */
    long get() {
        return (long) VALUE.getOpaque(this);
    }
}
