package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiConsumer;

import org.jspecify.annotations.Nullable;

/**
 * A thread parked on a portal future, and its place in the tree of wake-ups that the loop hands
 * out at the end of a turn.
 *
 * <p>The loop does not unpark every thread whose result it completed in a turn: each
 * {@code unpark} of a parked thread is a futex wake, and with 64 callers on two cores those wakes
 * took 95 % of the loop's CPU while the callers queued behind them. The loop unparks only the
 * first waiter of the turn; every woken thread, as it leaves its park and before it returns to its
 * caller, unparks the two waiters below it. The turn's waiters form a binary heap in the order
 * the loop completed their futures, so all of them are awake after about log2(n) rounds, spread
 * over their own threads, while the loop is back at its queue after one {@code unpark}. A thread
 * the loop answers quickly enough can then take its result without ever parking (see the
 * caller's spin in {@link BlockingPortal}).
 *
 * <p>Each waiter is handed the wake-up at most once: whoever moves it from {@link #WAITING} to
 * {@link #HANDED} unparks its thread, and the thread passes the wake-up on when it leaves. A
 * thread that leaves on its own (its future completed before it parked, or it was interrupted)
 * moves itself to {@link #LEFT}; whoever then reaches it wakes its two children in its place.
 * So every waiter of a turn is woken, whatever order the threads leave in, and the cost of a
 * waiter is one {@code unpark}, paid by its parent's thread. The price is that a waiter deep in
 * the tree wakes after its ancestors are scheduled, not at once.
 */
final class Wakeup implements BiConsumer<Object, Throwable> {

    static final int WAITING = 0;
    static final int LEFT = 1;
    static final int HANDED = 2;

    private final EventLoop loop;
    final Thread thread;
    private volatile int state;
    /** The waiters this one wakes when it leaves; written by the loop before it hands out the turn. */
    private @Nullable Wakeup left;
    private @Nullable Wakeup right;

    /** A wake-up for the calling thread, which is about to park on a future of {@code loop}'s. */
    Wakeup(EventLoop loop) {
        this.loop = loop;
        this.thread = Thread.currentThread();
    }

    /** The future completed: wake the thread, at the end of the loop's turn if on the loop. */
    @Override
    public void accept(@Nullable Object value, @Nullable Throwable failure) {
        loop.wake(this);
    }

    /**
     * Wakes every waiter of {@code turn}, in order: links them into a binary heap and unparks the
     * first. The loop thread only, and each waiter in at most one turn.
     */
    static void wakeAll(List<Wakeup> turn) {
        int n = turn.size();
        if (n == 0) {
            return;
        }
        for (int i = 0; i < n; i++) {
            Wakeup w = turn.get(i);
            w.left = 2 * i + 1 < n ? turn.get(2 * i + 1) : null;
            w.right = 2 * i + 2 < n ? turn.get(2 * i + 2) : null;
        }
        handTo(turn.get(0)); // the CAS publishes the links to the threads that follow them
    }

    /**
     * Wakes every waiter of {@code turn} directly, in order, with no tree: each is made runnable by
     * the loop itself ({@link EventLoop.Builder#fairWakeups}). The waiters are not linked, so a
     * waiter that left on its own has no children to pass on to and is skipped. The loop thread only.
     */
    static void wakeEach(List<Wakeup> turn) {
        for (int i = 0, n = turn.size(); i < n; i++) {
            handTo(turn.get(i));
        }
    }

    /**
     * Wakes {@code w}'s thread, or, if it has left, the waiters below it. Any thread; a waiter
     * that is in no turn has no children.
     */
    static void handTo(@Nullable Wakeup w) {
        if (w == null) {
            return;
        }
        if (STATE.compareAndSet(w, WAITING, HANDED)) {
            LockSupport.unpark(w.thread);
        } else {
            handTo(w.left);
            handTo(w.right);
        }
    }

    /**
     * The waiting thread stops waiting (its future is done, or it gives up): if it was handed the
     * wake-up, it passes the wake-up on to the waiters below it. Called once, by the thread.
     *
     * @return whether the thread was handed the wake-up (else it left on its own)
     */
    boolean leave() {
        if (STATE.compareAndSet(this, WAITING, LEFT)) {
            return false;
        }
        handTo(left);
        handTo(right);
        return true;
    }

    int state() {
        return state;
    }

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Wakeup.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
