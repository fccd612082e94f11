package dev.portal.internal;

import java.util.Arrays;

import org.jspecify.annotations.Nullable;

/**
 * A binary min-heap of timers ordered by deadline, then by insertion order. Confined to one thread
 * (the event loop): no synchronisation. Cancelling a timer removes it at once, so a cancelled
 * deadline costs no memory while it would have been pending.
 */
public final class TimerQueue {

    /** One scheduled action. */
    public static final class Timer {
        final long deadlineNanos;
        final long sequence;
        final Runnable action;
        int index = -1;

        Timer(long deadlineNanos, long sequence, Runnable action) {
            this.deadlineNanos = deadlineNanos;
            this.sequence = sequence;
            this.action = action;
        }

        public long deadlineNanos() {
            return deadlineNanos;
        }

        public boolean isScheduled() {
            return index >= 0;
        }
    }

    private Timer[] heap = new Timer[16];
    private int size;
    private long nextSequence;

    public Timer schedule(long deadlineNanos, Runnable action) {
        Timer timer = new Timer(deadlineNanos, nextSequence++, action);
        if (size == heap.length) {
            heap = Arrays.copyOf(heap, size * 2);
        }
        heap[size] = timer;
        timer.index = size;
        size++;
        siftUp(timer.index);
        return timer;
    }

    /** Removes the timer if it is still scheduled; returns whether it was. */
    public boolean cancel(Timer timer) {
        int i = timer.index;
        if (i < 0 || i >= size || heap[i] != timer) {
            return false;
        }
        timer.index = -1;
        size--;
        if (i != size) {
            Timer last = heap[size];
            heap[i] = last;
            last.index = i;
            siftDown(i);
            siftUp(last.index);
        }
        heap[size] = null;
        return true;
    }

    public @Nullable Timer peek() {
        return size == 0 ? null : heap[0];
    }

    /** Removes and returns the earliest timer whose deadline is at or before {@code nowNanos}. */
    public @Nullable Timer pollDue(long nowNanos) {
        Timer first = peek();
        if (first == null || first.deadlineNanos - nowNanos > 0) {
            return null;
        }
        cancel(first);
        return first;
    }

    public int size() {
        return size;
    }

    public Runnable actionOf(Timer timer) {
        return timer.action;
    }

    private boolean less(Timer a, Timer b) {
        long d = a.deadlineNanos - b.deadlineNanos;
        return d < 0 || (d == 0 && a.sequence < b.sequence);
    }

    private void siftUp(int i) {
        Timer t = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            Timer p = heap[parent];
            if (!less(t, p)) {
                break;
            }
            heap[i] = p;
            p.index = i;
            i = parent;
        }
        heap[i] = t;
        t.index = i;
    }

    private void siftDown(int i) {
        Timer t = heap[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            int right = child + 1;
            if (right < size && less(heap[right], heap[child])) {
                child = right;
            }
            if (!less(heap[child], t)) {
                break;
            }
            heap[i] = heap[child];
            heap[i].index = i;
            i = child;
        }
        heap[i] = t;
        t.index = i;
    }
}
