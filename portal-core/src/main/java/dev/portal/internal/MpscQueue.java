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
    private static final VarHandle HEAD;
    /**
     * The tail's index in {@link #tailSlot}: a cache line of empty slots on either side keeps the
     * tail, which producers CAS, off the lines of whatever the heap puts next to the array, in
     * particular the consumer's fields, allocated right after it.
     */
    private static final int TAIL = 16;
    private static final int RETIRE_DELAY = 64;

    static {
        try {
            NEXT = MethodHandles.lookup().findVarHandle(Node.class, "next", Node.class);
            HEAD = MethodHandles.lookup().findVarHandle(Consumer.class, "head", Node.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final class Node {
        @Nullable Object item;
        @SuppressWarnings("unused") // read and written with NEXT
        @Nullable Node next;
        /** How many nodes were offered before this one; written before the node is published. */
        long seq;

        Node(@Nullable Object item) {
            this.item = item;
        }
    }

    /** What only the consumer reads and writes, in an object of its own. */
    private static final class Consumer {
        /** The stub: the last node polled (or the first stub). Written with release stores. */
        Node head;
        /** The last node that got in before the close; null while open. */
        @Nullable Node last;
        /** Nodes polled past and not yet cleared, see {@link #retire}; a ring. */
        final Node[] retiring = new Node[RETIRE_DELAY];
        int retired;

        Consumer(Node stub) {
            head = stub;
        }
    }

    /** The tail of a closed queue. Never linked to. */
    private static final Node CLOSED = new Node(null);

    /**
     * Holds the tail, the last node offered ({@link #CLOSED} once closed), at {@link #TAIL}. This
     * queue object is never written after construction, so producers that read it hit their own
     * cache.
     */
    private final Node[] tailSlot = new Node[2 * TAIL + 1];
    private final Consumer consumer;

    public MpscQueue() {
        Node stub = new Node(null);
        consumer = new Consumer(stub);
        SLOT.setVolatile(tailSlot, TAIL, stub);
    }

    /**
     * Appends {@code e}. Any thread.
     *
     * @return false, and nothing is appended, if the queue is closed
     */
    public boolean offer(E e) {
        return append(e) > 0;
    }

    /**
     * Appends {@code e} and returns its sequence number: how many elements were offered before it,
     * plus one. Compare it with {@link #polled()} to tell how many are ahead of it. Any thread.
     *
     * @return the sequence number, or -1 (nothing is appended) if the queue is closed
     */
    public long append(E e) {
        Node node = new Node(e);
        Node t;
        long seq;
        do {
            t = tail();
            if (t == CLOSED) {
                return -1;
            }
            seq = t.seq + 1;
            node.seq = seq;
            if (e instanceof Sequenced) {
                ((Sequenced) e).sequenced(seq); // before it is published, so the consumer never sees the write
            }
        } while (!SLOT.weakCompareAndSet(tailSlot, TAIL, t, node));
        NEXT.setRelease(t, node);
        return seq;
    }

    /** An element that wants to know its sequence number, told before it is published. */
    public interface Sequenced {
        void sequenced(long seq);
    }

    /** The sequence number of the last element polled (0 before the first). Any thread; a hint. */
    public long polled() {
        return ((Node) HEAD.getAcquire(consumer)).seq;
    }

    /**
     * Removes and returns the oldest element, or null if there is none, or if the oldest is still
     * being linked (then {@link #isEmpty} is false). Consumer thread only.
     */
    @SuppressWarnings("unchecked")
    public @Nullable E poll() {
        Consumer c = consumer;
        Node h = c.head;
        Node n = (Node) NEXT.getAcquire(h);
        if (n == null) {
            return null;
        }
        HEAD.setRelease(c, n);
        retire(c, h);
        return (E) n.item;
    }

    /**
     * Clears a node that left the queue, once {@link #RETIRE_DELAY} more have left after it: its
     * item is dropped, and it links to itself so that, should it have aged into an older heap
     * generation, it does not keep the nodes after it alive there. The clearing is delayed because
     * a node sits in memory next to what its producer allocated right after it, often the element
     * of the next offer, which that producer may be reading at this very moment (a thread waiting
     * for its call's result): a write there now would take the line from under it, one transfer
     * per poll. Nodes a few dozen polls back are long out of the producers' caches.
     */
    private static void retire(Consumer c, Node old) {
        int i = c.retired++ & (RETIRE_DELAY - 1);
        Node due = c.retiring[i];
        c.retiring[i] = old;
        if (due != null) {
            clear(due);
        }
    }

    private static void clear(Node n) {
        n.item = null;
        NEXT.set(n, n);
    }

    /**
     * Clears every node that left the queue, and drops the last element polled, which the head
     * still holds: call it before the consumer goes idle, so that an idle queue keeps nothing
     * reachable that was polled from it. Consumer thread only.
     */
    public void trim() {
        Consumer c = consumer;
        Node[] ring = c.retiring;
        for (int i = 0; i < RETIRE_DELAY; i++) {
            Node n = ring[i];
            if (n != null) {
                ring[i] = null;
                clear(n);
            }
        }
        c.head.item = null;
    }

    /**
     * Whether nothing has been offered that was not polled yet. Consumer thread only; a read of the
     * tail, so a consumer that announces it is going to sleep and then finds the queue empty will
     * be seen by any offer that it missed.
     */
    public boolean isEmpty() {
        Node t = tail();
        Node h = consumer.head;
        return t == h || (t == CLOSED && h == consumer.last);
    }

    /**
     * Refuses every later offer. Every element offered before is still polled; {@link #isEmpty}
     * tells when the last one is out. Idempotent. Consumer thread only.
     */
    public void close() {
        Consumer c = consumer;
        if (c.last == null) {
            c.last = (Node) SLOT.getAndSet(tailSlot, TAIL, CLOSED);
        }
    }

    /**
     * The sequence number of the last element appended (0 before the first; once closed, that of
     * the last one polled). Any thread; a hint.
     */
    public long appended() {
        Node t = tail();
        return t == CLOSED ? polled() : t.seq;
    }

    /**
     * About how many elements wait to be polled: a hint for a thread deciding how to wait for the
     * consumer, not a count to act on. Any thread; 0 once closed.
     */
    public long backlog() {
        Node t = tail();
        if (t == CLOSED) {
            return 0;
        }
        return Math.max(0, t.seq - polled());
    }

    /** Whether {@link #close} has been called. */
    public boolean isClosed() {
        return tail() == CLOSED;
    }

    private Node tail() {
        return (Node) SLOT.getVolatile(tailSlot, TAIL);
    }
}
