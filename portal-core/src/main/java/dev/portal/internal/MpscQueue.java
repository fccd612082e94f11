package dev.portal.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import org.jspecify.annotations.Nullable;

/**
 * An unbounded queue that many threads offer to and one thread polls from, and that its consumer
 * can close: after {@link #close}, every offer fails, and every offer that succeeded is still
 * handed to the consumer. An event loop's queue of submissions from other threads.
 *
 * <p>A linked list with a stub head, after Dmitry Vyukov's intrusive MPSC queue. An offer costs a
 * node and one CAS, on the tail; a poll costs no atomic operation at all, only an acquiring read of
 * the head's link. {@code ConcurrentLinkedQueue}, the general-purpose alternative, pays two CASes to
 * offer and one or two to poll, because any thread may poll. Closing swaps a sentinel into the
 * tail: an offer that finds it fails, and the swap returns the last node that got in, so the
 * consumer knows exactly what it still owes. No node ever has to be removed again.
 *
 * <p>Between an offer's CAS and its link to the previous node, the queue is not empty but the
 * consumer cannot reach the new node yet. {@link #poll} then returns null and {@link #isEmpty}
 * false; the offer completes within a few instructions. The consumer must treat "not empty" as
 * "poll again soon", never as "poll returns an element".
 *
 * <p><b>Memory consistency:</b> actions in a thread before it offers an element happen-before the
 * consumer's actions after it polls that element.
 */
public final class MpscQueue<E> {

    private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(Node[].class);
    private static final VarHandle NEXT;
    /**
     * Where the tail and the head live in {@link #slots}: a cache line of empty slots on either
     * side of each keeps the tail, which producers CAS, off the line of the head, which the
     * consumer writes on every poll, and both off whatever the heap puts next to the array. The
     * queue object itself is then never written after construction, so producers reading it hit
     * their own cache.
     */
    private static final int TAIL = 16;
    private static final int HEAD = 2 * TAIL;
    private static final int SLOTS = 3 * TAIL;

    static {
        try {
            NEXT = MethodHandles.lookup().findVarHandle(Node.class, "next", Node.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final class Node {
        @Nullable Object item;
        @SuppressWarnings("unused") // read and written with NEXT
        @Nullable Node next;

        Node(@Nullable Object item) {
            this.item = item;
        }
    }

    /** The tail of a closed queue. Never linked to. */
    private static final Node CLOSED = new Node(null);

    /**
     * Holds the tail, the last node offered ({@link #CLOSED} once closed), at {@link #TAIL}; and
     * the head, the stub (the last node polled, or the first stub), at {@link #HEAD}, which only
     * the consumer reads and writes.
     */
    private final Node[] slots = new Node[SLOTS];
    /** The last node that got in before the close; null while open. Consumer only. */
    private @Nullable Node last;

    public MpscQueue() {
        Node stub = new Node(null);
        slots[HEAD] = stub;
        SLOT.setVolatile(slots, TAIL, stub);
    }

    /**
     * Appends {@code e}. Any thread.
     *
     * @return false, and nothing is appended, if the queue is closed
     */
    public boolean offer(E e) {
        Node node = new Node(e);
        Node t;
        do {
            t = tail();
            if (t == CLOSED) {
                return false;
            }
        } while (!SLOT.weakCompareAndSet(slots, TAIL, t, node));
        NEXT.setRelease(t, node);
        return true;
    }

    /**
     * Removes and returns the oldest element, or null if there is none, or if the oldest is still
     * being linked (then {@link #isEmpty} is false). Consumer thread only.
     */
    @SuppressWarnings("unchecked")
    public @Nullable E poll() {
        Node h = head();
        Node n = (Node) NEXT.getAcquire(h);
        if (n == null) {
            return null;
        }
        Object item = n.item;
        n.item = null;
        slots[HEAD] = n;
        // The old stub is garbage; linking it to itself keeps it from holding newer nodes alive
        // from an older generation. Its producer has written its one link already: we read it.
        NEXT.set(h, h);
        return (E) item;
    }

    /**
     * Whether nothing has been offered that was not polled yet. Consumer thread only; a read of the
     * tail, so a consumer that announces it is going to sleep and then finds the queue empty will
     * be seen by any offer that it missed.
     */
    public boolean isEmpty() {
        Node t = tail();
        Node h = head();
        return t == h || (t == CLOSED && h == last);
    }

    /**
     * Refuses every later offer. Every element offered before is still polled; {@link #isEmpty}
     * tells when the last one is out. Idempotent. Consumer thread only.
     */
    public void close() {
        if (last == null) {
            last = (Node) SLOT.getAndSet(slots, TAIL, CLOSED);
        }
    }

    /** Whether {@link #close} has been called. */
    public boolean isClosed() {
        return tail() == CLOSED;
    }

    private Node head() {
        return slots[HEAD];
    }

    private Node tail() {
        return (Node) SLOT.getVolatile(slots, TAIL);
    }
}
