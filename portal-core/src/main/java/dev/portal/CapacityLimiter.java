package dev.portal;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Objects;
import java.util.concurrent.CompletionStage;

import org.jspecify.annotations.Nullable;

/**
 * A pool of tokens that bounds how many borrowers may proceed at once (AnyIO's and Trio's
 * {@code CapacityLimiter}). Every {@link ToThread#runSync} call holds one token of its limiter
 * while its function runs, so a limiter of 40 tokens means at most 40 blocking calls in flight.
 *
 * <pre>{@code
 * CapacityLimiter db = new CapacityLimiter(10);
 * ToThread.runSync(() -> jdbc.query(sql), RunSyncOptions.defaults().withLimiter(db));
 *
 * db.acquire().thenCompose(v -> work()).whenComplete((v, e) -> db.release());   // current task borrows
 * db.setTotalTokens(20);                                                        // live; wakes waiters
 * }</pre>
 *
 * <p><b>Fairness.</b> Waiters are granted in FIFO order. A non-blocking acquire fails while anyone
 * is queued, even when a token is free, so it cannot overtake the queue. A token freed for a
 * waiter is reserved for it at once, and a waiter cancelled as it is granted hands the token on:
 * the limiter never grants more tokens than its total and never loses one (AnyIO #1170, #947).
 *
 * <p><b>Resizing.</b> {@link #setTotalTokens} may be called from any thread at any time. Raising
 * the total wakes waiters in FIFO order up to the new total; lowering it below the borrowed count
 * evicts nobody: {@link #availableTokens()} goes negative and new acquirers wait until enough
 * tokens are released. A total of 0 pauses the limiter.
 *
 * <p><b>Threads.</b> The methods that take the borrower from the current task ({@link #acquire()},
 * {@link #acquireNowait()}, {@link #release()}) and {@link #acquireOnBehalfOf} run on an event
 * loop thread, because waiting is async. The {@code *OnBehalfOf*Nowait} and release methods, the
 * getters and {@link #statistics()} may be called from any thread. All state sits behind one
 * short lock that is never held while callbacks run.
 */
public final class CapacityLimiter {

    /** A queued acquirer. {@link #grant()} runs outside the lock and fails if it was cancelled. */
    interface Waiter {
        Object borrower();

        boolean grant();
    }

    private int totalTokens;
    /** Stands for "no clock reading yet"; a reading that happens to equal it is read again. */
    private static final long NO_TIME = Long.MIN_VALUE;

    private final HashSet<Object> borrowers = new HashSet<>();
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    private long acquisitions;
    private long waitedAcquisitions;
    /**
     * Time spent queued, summed over waiters: the queue length integrated over time, brought up to
     * date at every change of the queue. No waiter carries a timestamp.
     */
    private long waitNanos;
    private long queueChangedNanos;

    /**
     * @param totalTokens the number of tokens, {@code >= 0}
     * @throws IllegalArgumentException if {@code totalTokens} is negative
     */
    public CapacityLimiter(int totalTokens) {
        this.totalTokens = requireTotal(totalTokens, "totalTokens");
    }

    static int requireTotal(int tokens, String name) {
        if (tokens < 0) {
            throw new IllegalArgumentException(name + " must be >= 0 (was " + tokens + ")");
        }
        return tokens;
    }

    public synchronized int totalTokens() {
        return totalTokens;
    }

    /**
     * Sets the total. Raising it wakes waiters in FIFO order; lowering it evicts nobody.
     *
     * @throws IllegalArgumentException if {@code totalTokens} is negative; the old total stays
     */
    public void setTotalTokens(int totalTokens) {
        requireTotal(totalTokens, "totalTokens");
        Waiter next;
        synchronized (this) {
            this.totalTokens = totalTokens;
            next = reserveForOldestWaiter(NO_TIME);
        }
        grant(next, true);
    }

    public synchronized int borrowedTokens() {
        return borrowers.size();
    }

    /** {@code totalTokens - borrowedTokens}; negative while the limiter is over-subscribed. */
    public synchronized int availableTokens() {
        return totalTokens - borrowers.size();
    }

    /** Acquires a token for the current task, waiting if necessary. Loop thread only. */
    public CompletionStage<Void> acquire() {
        EventLoop loop = EventLoop.requireCurrent("CapacityLimiter.acquire()");
        return acquireOnBehalfOf(requireTask(loop, "acquire()"));
    }

    /**
     * Acquires a token for {@code borrower}, waiting in FIFO order if none is free. The wait is a
     * checkpoint: it fails with {@link CancelledException} if the current scope is (or becomes)
     * cancelled, even when a token is free. Loop thread only.
     *
     * @throws IllegalStateException at once if {@code borrower} already holds a token
     */
    public CompletionStage<Void> acquireOnBehalfOf(Object borrower) {
        Objects.requireNonNull(borrower, "borrower must not be null");
        EventLoop loop = EventLoop.requireCurrent("CapacityLimiter.acquireOnBehalfOf");
        AcquirePromise promise = new AcquirePromise(loop, borrower);
        if (!promise.arm()) {
            return promise;
        }
        synchronized (this) {
            if (borrowers.contains(borrower)) {
                throw alreadyHolding(borrower, promise);
            }
            if (waiters.isEmpty() && borrowers.size() < totalTokens) {
                borrowers.add(borrower);
                acquisitions++;
            } else {
                queueChanging();
                waiters.add(promise);
                return promise;
            }
        }
        promise.settle(null, null);
        return promise;
    }

    private IllegalStateException alreadyHolding(Object borrower, @Nullable AcquirePromise promise) {
        if (promise != null) {
            promise.disarm();
        }
        return new IllegalStateException("borrower " + borrower + " already holds one of this CapacityLimiter's "
                + "tokens; release it before acquiring another");
    }

    /** Acquires a token for the current task without waiting. Loop thread only. */
    public void acquireNowait() {
        EventLoop loop = EventLoop.requireCurrent("CapacityLimiter.acquireNowait()");
        acquireOnBehalfOfNowait(requireTask(loop, "acquireNowait()"));
    }

    /**
     * Acquires a token for {@code borrower} without waiting. Any thread.
     *
     * @throws WouldBlockException if no token is free or others are queued
     * @throws IllegalStateException if {@code borrower} already holds a token (checked first)
     */
    public void acquireOnBehalfOfNowait(Object borrower) {
        Objects.requireNonNull(borrower, "borrower must not be null");
        synchronized (this) {
            if (borrowers.contains(borrower)) {
                throw alreadyHolding(borrower, null);
            }
            if (!waiters.isEmpty() || borrowers.size() >= totalTokens) {
                throw new WouldBlockException("no token free in " + describeLocked());
            }
            borrowers.add(borrower);
            acquisitions++;
        }
    }

    /** Takes a token for {@code job} if one is free and nobody is queued; otherwise queues it. */
    boolean acquireOrEnqueue(Waiter job) {
        synchronized (this) {
            if (waiters.isEmpty() && borrowers.size() < totalTokens) {
                borrowers.add(job.borrower());
                acquisitions++;
                return true;
            }
            queueChanging();
            waiters.add(job);
            return false;
        }
    }

    /** Releases the current task's token. Loop thread only. */
    public void release() {
        EventLoop loop = EventLoop.requireCurrent("CapacityLimiter.release()");
        releaseOnBehalfOf(requireTask(loop, "release()"));
    }

    /**
     * Releases {@code borrower}'s token and grants it to the oldest waiter. Any thread.
     *
     * @throws IllegalStateException if {@code borrower} holds no token
     */
    public void releaseOnBehalfOf(Object borrower) {
        Objects.requireNonNull(borrower, "borrower must not be null");
        Waiter next;
        // With calls queued, read the clock before taking the lock, not under it: the critical
        // section is what the loop and the workers contend for. (A racy peek; under the lock the
        // queue is read again, and the clock too if the peek was wrong.)
        long now = waiters.isEmpty() ? NO_TIME : System.nanoTime();
        synchronized (this) {
            if (!borrowers.remove(borrower)) {
                throw new IllegalStateException("borrower " + borrower + " isn't holding any of this "
                        + "CapacityLimiter's tokens");
            }
            next = reserveForOldestWaiter(now);
        }
        grant(next, false);
    }

    /** Removes a cancelled waiter from the queue; returns whether it was still queued. */
    boolean removeWaiter(Waiter waiter) {
        synchronized (this) {
            queueChanging();
            return waiters.remove(waiter);
        }
    }

    /**
     * Reserves a free token for the oldest waiter and dequeues it, or returns null if nobody waits or
     * no token is free. Under the lock, so the token cannot be taken by anyone else in between.
     */
    private @Nullable Waiter reserveForOldestWaiter(long now) {
        if (waiters.isEmpty() || borrowers.size() >= totalTokens) {
            return null;
        }
        queueChanging(now);
        Waiter next = waiters.poll();
        borrowers.add(next.borrower());
        acquisitions++;
        waitedAcquisitions++;
        return next;
    }

    /**
     * Grants the token reserved for {@code reserved}, outside the lock. A waiter cancelled in the
     * meantime refuses it, and the token goes to the next one. After a release one token was freed,
     * so once a grant succeeds there is nothing more to hand out ({@code untilFull} false: whoever
     * frees another token grants it); after a resize, keep granting while tokens are free.
     */
    private void grant(@Nullable Waiter reserved, boolean untilFull) {
        Waiter next = reserved;
        while (next != null) {
            boolean granted;
            try {
                granted = next.grant();
            } catch (Throwable t) {
                granted = false;
            }
            if (granted && !untilFull) {
                return;
            }
            synchronized (this) {
                if (!granted) {
                    borrowers.remove(next.borrower());
                    acquisitions--;
                    waitedAcquisitions--;
                }
                next = reserveForOldestWaiter(NO_TIME);
            }
        }
    }

    /** Adds the time the current waiters have queued since the last change. Under the lock. */
    private void queueChanging() {
        queueChanging(NO_TIME);
    }

    /**
     * As {@link #queueChanging()}, with the clock read before the lock was taken ({@link #NO_TIME}
     * to read it now). A reading taken before another thread's later one went in adds nothing.
     */
    private void queueChanging(long now) {
        long t = now == NO_TIME ? System.nanoTime() : now;
        long elapsed = t - queueChangedNanos;
        if (elapsed > 0) {
            waitNanos += waiters.size() * elapsed;
            queueChangedNanos = t;
        }
    }

    private static LoopTask requireTask(EventLoop loop, String what) {
        LoopTask task = loop.frame.currentTask;
        if (task == null) {
            throw new IllegalStateException("CapacityLimiter." + what + " borrows for the current task, but this "
                    + "callback runs outside any task; use the *OnBehalfOf variants with an explicit borrower");
        }
        return task;
    }

    /** An immutable snapshot. Any thread. */
    public synchronized CapacityLimiterStatistics statistics() {
        queueChanging();
        return new CapacityLimiterStatistics(totalTokens, borrowers.size(), totalTokens - borrowers.size(),
                waiters.size(), new ArrayList<>(borrowers), acquisitions, waitedAcquisitions,
                Duration.ofNanos(waitNanos));
    }

    private String describeLocked() {
        return "CapacityLimiter[" + borrowers.size() + "/" + totalTokens + " borrowed, " + waiters.size() + " waiting]";
    }

    @Override
    public synchronized String toString() {
        return describeLocked();
    }

    /** A task (or explicit borrower) queued for a token. */
    private final class AcquirePromise extends LoopPromise<Void> implements Waiter {
        private final Object borrower;

        AcquirePromise(EventLoop loop, Object borrower) {
            super(loop, loop.frame.currentTask, loop.frame.currentScope);
            this.borrower = borrower;
        }

        @Override
        public Object borrower() {
            return borrower;
        }

        @Override
        public boolean grant() {
            return settleSoon(null, null);
        }

        @Override
        boolean onCancelled(CancelledException e) {
            removeWaiter(this);
            return true;
        }
    }
}
