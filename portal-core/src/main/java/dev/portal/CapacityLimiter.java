package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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
 * short lock that is never held while callbacks run; the getters ({@link #totalTokens()},
 * {@link #borrowedTokens()}, {@link #availableTokens()}, {@link #tasksWaiting()}) read without it.
 */
public final class CapacityLimiter {

    /**
     * A queued acquirer ({@code runSync} calls and {@link #acquireOnBehalfOf} waits). The queue is
     * intrusive: each waiter carries the link to the next one, so a queued call costs no node.
     * {@link #claim} and {@link #withdraw} run under the limiter's lock, which orders a grant
     * against a cancellation: a claim fails exactly when the waiter was withdrawn first.
     */
    interface Waiter {
        /**
         * The borrower recorded while the waiter holds its token, or null if the waiter itself is
         * the borrower: then the limiter keeps it in a slot (no hashing) and it gives the token
         * back with {@link #releaseHeld}.
         */
        @Nullable Object borrower();

        /** Under the lock: takes the token reserved for this waiter; false if it was withdrawn. */
        boolean claim();

        /** Under the lock: stops waiting; false if the token was already claimed. */
        boolean withdraw();

        /** Under the lock: whether {@link #withdraw} succeeded (the entry only awaits removal). */
        boolean isWithdrawn();

        /** Outside the lock, after a successful claim: act on the token (dispatch, resume). */
        void granted();

        /** The next waiter while queued; this waiter's slot while it holds a token. Under the lock. */
        @Nullable Object limiterLink();

        void limiterLink(@Nullable Object link);
    }

    /** A holder slot: where a waiter that borrows as itself is kept while it holds a token. */
    private static final class Slot {
        @Nullable Waiter holder;
        @Nullable Slot nextFree;
    }

    /** Stands for "no clock reading yet"; a reading that happens to equal it is read again. */
    private static final long NO_TIME = Long.MIN_VALUE;
    /** Withdrawn entries are swept out once there are this many and more than live ones. */
    private static final int SWEEP_THRESHOLD = 64;

    // The counters that gauges poll are written under the lock with opaque stores (a plain store on
    // common hardware) and read without the lock with opaque loads: a reading never waits for the
    // lock the loop and the workers contend for, and never sees a torn or stale-forever value.
    private static final VarHandle TOTAL_TOKENS;
    private static final VarHandle BORROWED;
    private static final VarHandle AVAILABLE;
    private static final VarHandle WAITING;
    private static final VarHandle ACQUISITIONS;
    private static final VarHandle WAITED_ACQUISITIONS;
    private static final VarHandle WAIT_NANOS;
    private static final VarHandle QUEUE_CHANGED_NANOS;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            TOTAL_TOKENS = lookup.findVarHandle(CapacityLimiter.class, "totalTokens", int.class);
            BORROWED = lookup.findVarHandle(CapacityLimiter.class, "borrowed", int.class);
            AVAILABLE = lookup.findVarHandle(CapacityLimiter.class, "available", int.class);
            WAITING = lookup.findVarHandle(CapacityLimiter.class, "waiting", int.class);
            ACQUISITIONS = lookup.findVarHandle(CapacityLimiter.class, "acquisitions", long.class);
            WAITED_ACQUISITIONS = lookup.findVarHandle(CapacityLimiter.class, "waitedAcquisitions", long.class);
            WAIT_NANOS = lookup.findVarHandle(CapacityLimiter.class, "waitNanos", long.class);
            QUEUE_CHANGED_NANOS = lookup.findVarHandle(CapacityLimiter.class, "queueChangedNanos", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private int totalTokens;
    /** Every token out: the borrowers in {@link #borrowers} plus the waiters held in slots. */
    private int borrowed;
    /**
     * {@code totalTokens - borrowed}, kept as a field of its own so that {@link #availableTokens()}
     * is one read: subtracting two lock-free reads could give a value the limiter never had.
     */
    private int available;
    /** Borrowers that are not waiters holding as themselves: tasks and explicit borrower objects. */
    private final HashSet<Object> borrowers = new HashSet<>();
    /**
     * Borrowers of {@link #acquireOnBehalfOf} waits still queued: one borrower queued twice would be
     * granted two tokens that it could release only once.
     */
    private final HashSet<Object> queuedBorrowers = new HashSet<>();
    /** Every slot ever made, for {@link #statistics()}; reused through {@link #freeSlots}. */
    private final ArrayList<Slot> slots = new ArrayList<>();
    private @Nullable Slot freeSlots;
    /** The FIFO queue, linked through {@link Waiter#limiterLink}; withdrawn entries stay until skipped. */
    private @Nullable Waiter head;
    private @Nullable Waiter tail;
    /** Entries in the queue, withdrawn ones included. */
    private int queued;
    /** Entries in the queue still waiting. */
    private int waiting;
    private long acquisitions;
    private long waitedAcquisitions;
    /**
     * Time spent queued, summed over waiters: the queue length integrated over time, brought up to
     * date at every change of the queue. No waiter carries a timestamp.
     */
    private long waitNanos;
    private long queueChangedNanos;
    private final @Nullable String name;

    /**
     * An unnamed limiter.
     *
     * @param totalTokens the number of tokens, {@code >= 0}
     * @throws IllegalArgumentException if {@code totalTokens} is negative
     */
    public CapacityLimiter(int totalTokens) {
        this.totalTokens = requireTotal(totalTokens, "totalTokens");
        this.available = totalTokens;
        this.name = null;
    }

    /**
     * A named limiter. The name shows in {@link #toString()}, {@link #statistics()} and the events an
     * event loop reports for calls under it (meters tag them with it); it need not be unique, but
     * meters of two limiters with one name add up.
     *
     * @param name a short, non-blank name such as {@code "default"} or {@code "jdbc"}
     * @param totalTokens the number of tokens, {@code >= 0}
     * @throws IllegalArgumentException if {@code totalTokens} is negative or {@code name} is blank
     */
    public CapacityLimiter(String name, int totalTokens) {
        Objects.requireNonNull(name, "name must not be null");
        if (name.isBlank()) {
            throw new IllegalArgumentException("name must not be blank (was \"" + name + "\")");
        }
        this.totalTokens = requireTotal(totalTokens, "totalTokens");
        this.available = totalTokens;
        this.name = name;
    }

    /** The name given at construction, or null for an unnamed limiter. Any thread. */
    public @Nullable String name() {
        return name;
    }

    /** Under the lock: sets the borrowed count and the available count with it, for lock-free readers. */
    private void setBorrowed(int value) {
        BORROWED.setOpaque(this, value);
        AVAILABLE.setOpaque(this, totalTokens - value);
    }

    /** Under the lock: sets the total and the available count with it, for lock-free readers. */
    private void setTotal(int value) {
        TOTAL_TOKENS.setOpaque(this, value);
        AVAILABLE.setOpaque(this, value - borrowed);
    }

    static int requireTotal(int tokens, String name) {
        if (tokens < 0) {
            throw new IllegalArgumentException(name + " must be >= 0 (was " + tokens + ")");
        }
        return tokens;
    }

    /**
     * The current total. Any thread; lock-free (an opaque read of a field written under the lock), so
     * a gauge may poll it without contending with the loop and the workers.
     */
    public int totalTokens() {
        return (int) TOTAL_TOKENS.getOpaque(this);
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
            setTotal(totalTokens);
            next = grantOldest(NO_TIME);
        }
        while (next != null) {
            grantOutsideLock(next);
            synchronized (this) {
                next = grantOldest(NO_TIME);
            }
        }
    }

    /** Tokens held now (may exceed the total right after it was lowered). Any thread; lock-free. */
    public int borrowedTokens() {
        return (int) BORROWED.getOpaque(this);
    }

    /**
     * {@code totalTokens - borrowedTokens}; negative while the limiter is over-subscribed. Any thread;
     * lock-free: one read of a count kept with the other two under the lock, so the value is one the
     * limiter really had (the three getters are each exact, not one snapshot together).
     */
    public int availableTokens() {
        return (int) AVAILABLE.getOpaque(this);
    }

    /**
     * Acquirers queued for a token now ({@link CapacityLimiterStatistics#tasksWaiting()}). Any thread;
     * lock-free.
     */
    public int tasksWaiting() {
        return (int) WAITING.getOpaque(this);
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
     * @throws IllegalStateException at once if {@code borrower} already holds a token, or is already
     *         waiting for one
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
            if (queuedBorrowers.contains(borrower)) {
                promise.disarm();
                throw new IllegalStateException("borrower " + borrower + " is already waiting for one of this "
                        + "CapacityLimiter's tokens; a borrower holds at most one");
            }
            if (waiting == 0 && borrowed < totalTokens) {
                borrowers.add(borrower);
                setBorrowed(borrowed + 1);
                ACQUISITIONS.setOpaque(this, acquisitions + 1);
            } else {
                queuedBorrowers.add(borrower);
                enqueue(promise, NO_TIME);
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
            if (waiting > 0 || borrowed >= totalTokens) {
                throw new WouldBlockException("no token free in " + describeLocked());
            }
            borrowers.add(borrower);
            setBorrowed(borrowed + 1);
            ACQUISITIONS.setOpaque(this, acquisitions + 1);
        }
    }

    /**
     * Takes a token for {@code waiter} (claimed, and held in a slot) if one is free and nobody is
     * queued, and returns true: the caller then calls {@link Waiter#granted()}. Otherwise queues it.
     * The waiter must borrow as itself ({@link Waiter#borrower()} null). {@code now} is a clock
     * reading the caller already has (the loop's turn clock), for the wait-time statistics.
     */
    boolean acquireOrEnqueue(Waiter waiter, long now) {
        synchronized (this) {
            if (waiting == 0 && borrowed < totalTokens && waiter.claim()) {
                hold(waiter);
                ACQUISITIONS.setOpaque(this, acquisitions + 1);
                return true;
            }
            enqueue(waiter, now);
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
        long now = clockIfQueued(null);
        Waiter next;
        synchronized (this) {
            if (!borrowers.remove(borrower)) {
                throw new IllegalStateException("borrower " + borrower + " isn't holding any of this "
                        + "CapacityLimiter's tokens");
            }
            setBorrowed(borrowed - 1);
            next = grantOldest(now);
        }
        grantOutsideLock(next);
    }

    /**
     * Gives back the token of a waiter that holds as itself (a {@code runSync} call) and grants it
     * to the oldest waiter. Any thread; once per held token. With calls queued, the wait-time
     * statistics take their reading from {@code clock}'s {@link EventLoop#statisticsClock()} (the
     * loop of the call: no clock read per call while it runs), or read the clock if it is null.
     */
    void releaseHeld(Waiter holder, @Nullable EventLoop clock) {
        long now = clockIfQueued(clock);
        Waiter next;
        synchronized (this) {
            Object link = holder.limiterLink();
            if (!(link instanceof Slot) || ((Slot) link).holder != holder) {
                throw new IllegalStateException(holder + " isn't holding any of this CapacityLimiter's tokens");
            }
            Slot slot = (Slot) link;
            holder.limiterLink(null);
            slot.holder = null;
            slot.nextFree = freeSlots;
            freeSlots = slot;
            setBorrowed(borrowed - 1);
            next = grantOldest(now);
        }
        grantOutsideLock(next);
    }

    /**
     * With calls queued, takes the wait-time reading before the lock is taken, not under it: the
     * critical section is what the loop and the workers contend for. The reading is {@code loop}'s
     * {@link EventLoop#statisticsClock()}, or the clock's if {@code loop} is null. (A racy peek;
     * under the lock the clock is read if the peek was wrong.)
     */
    private long clockIfQueued(@Nullable EventLoop loop) {
        if (waiting == 0) {
            return NO_TIME;
        }
        return loop != null ? loop.statisticsClock() : System.nanoTime();
    }

    /**
     * Withdraws a queued waiter whose caller stopped waiting. Returns false if its token was already
     * claimed (the caller then owns a token and gives it back as usual). The entry stays in the
     * queue, skipped when it reaches the head, until withdrawn entries outnumber live ones: then
     * they are swept out in one pass, so withdrawing is O(1) amortized even for thousands of calls
     * cancelled at once.
     */
    boolean withdraw(Waiter waiter) {
        synchronized (this) {
            if (!waiter.withdraw()) {
                return false;
            }
            queueChanging(NO_TIME);
            WAITING.setOpaque(this, waiting - 1);
            int withdrawn = queued - waiting;
            if (withdrawn >= SWEEP_THRESHOLD && withdrawn > waiting) {
                sweepWithdrawn();
            }
            return true;
        }
    }

    private void enqueue(Waiter waiter, long now) {
        queueChanging(now);
        waiter.limiterLink(null);
        if (tail == null) {
            head = waiter;
        } else {
            tail.limiterLink(waiter);
        }
        tail = waiter;
        queued++;
        WAITING.setOpaque(this, waiting + 1);
    }

    /** Unlinks every withdrawn entry. Under the lock. */
    private void sweepWithdrawn() {
        Waiter prev = null;
        Waiter w = head;
        while (w != null) {
            Waiter next = (Waiter) w.limiterLink();
            if (w.isWithdrawn()) {
                w.limiterLink(null);
                queued--;
                if (prev == null) {
                    head = next;
                } else {
                    prev.limiterLink(next);
                }
            } else {
                prev = w;
            }
            w = next;
        }
        tail = prev;
    }

    /** Records a claimed waiter as a holder. Under the lock. */
    private void hold(Waiter waiter) {
        Object borrower = waiter.borrower();
        if (borrower != null) {
            borrowers.add(borrower);
        } else {
            Slot slot = freeSlots;
            if (slot != null) {
                freeSlots = slot.nextFree;
                slot.nextFree = null;
            } else {
                slot = new Slot();
                slots.add(slot);
            }
            slot.holder = waiter;
            waiter.limiterLink(slot);
        }
        setBorrowed(borrowed + 1);
    }

    /**
     * Dequeues the oldest waiter that claims a free token, skipping withdrawn ones, and returns it
     * to be granted outside the lock; null if no token is free or nobody waits. Under the lock, so
     * the token cannot be taken by anyone else in between.
     */
    private @Nullable Waiter grantOldest(long now) {
        while (queued > 0 && (borrowed < totalTokens || waiting == 0)) {
            Waiter w = head;
            Waiter next = (Waiter) w.limiterLink();
            head = next;
            if (next == null) {
                tail = null;
            }
            w.limiterLink(null);
            queued--;
            if (w.claim()) {
                queueChanging(now);
                WAITING.setOpaque(this, waiting - 1);
                hold(w);
                ACQUISITIONS.setOpaque(this, acquisitions + 1);
                WAITED_ACQUISITIONS.setOpaque(this, waitedAcquisitions + 1);
                return w;
            }
            // Withdrawn: already counted out of waiting.
        }
        return null;
    }

    /**
     * Lets a granted waiter act on its token. A waiter whose caller gave up between the claim and
     * this call (an acquire cancelled as it was granted) gives the token back, and it goes to the
     * next waiter: the limiter never loses a token (AnyIO #1170, #947). {@code granted()} reports
     * its own failures and does not throw.
     */
    private static void grantOutsideLock(@Nullable Waiter granted) {
        if (granted != null) {
            granted.granted();
        }
    }

    /** A waiter that claimed a token but whose caller is gone: undoes the grant and passes it on. */
    private void revoke(Object borrower) {
        Waiter next;
        synchronized (this) {
            borrowers.remove(borrower);
            setBorrowed(borrowed - 1);
            ACQUISITIONS.setOpaque(this, acquisitions - 1);
            WAITED_ACQUISITIONS.setOpaque(this, waitedAcquisitions - 1);
            next = grantOldest(NO_TIME);
        }
        grantOutsideLock(next);
    }

    /**
     * Adds the time the current waiters have queued since the last change, with the clock read
     * before the lock was taken ({@link #NO_TIME} to read it now). A reading taken before another
     * thread's later one went in adds nothing. Under the lock.
     */
    private void queueChanging(long now) {
        long t = now == NO_TIME ? System.nanoTime() : now;
        long elapsed = t - queueChangedNanos;
        if (elapsed > 0) {
            WAIT_NANOS.setOpaque(this, waitNanos + waiting * elapsed);
            QUEUE_CHANGED_NANOS.setOpaque(this, t);
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

    /**
     * The counters of {@link #statistics()} without the borrowers list, read without the lock (each
     * counter exact, the set of them not one instant); {@code totalWaitTime} is brought up to now
     * from the queue length. For gauges and {@link EventLoop#statistics()}. Any thread.
     */
    CapacityLimiterStatistics counters() {
        int total = totalTokens();
        int held = borrowedTokens();
        int free = availableTokens();
        int queuedNow = tasksWaiting();
        long waited = (long) WAIT_NANOS.getOpaque(this);
        long since = System.nanoTime() - (long) QUEUE_CHANGED_NANOS.getOpaque(this);
        if (queuedNow > 0 && since > 0) {
            waited += queuedNow * since;
        }
        return new CapacityLimiterStatistics(name, total, held, free, queuedNow, List.of(),
                (long) ACQUISITIONS.getOpaque(this), (long) WAITED_ACQUISITIONS.getOpaque(this), Duration.ofNanos(waited));
    }

    /**
     * An immutable snapshot, borrowers included. Any thread; takes the limiter's lock briefly (to copy
     * the borrowers), so pollers that need only the counts should use the lock-free getters.
     */
    public synchronized CapacityLimiterStatistics statistics() {
        queueChanging(NO_TIME);
        List<Object> holders = new ArrayList<>(borrowed);
        holders.addAll(borrowers);
        for (Slot slot : slots) {
            Waiter w = slot.holder;
            if (w != null) {
                holders.add(w);
            }
        }
        return new CapacityLimiterStatistics(name, totalTokens, borrowed, totalTokens - borrowed, waiting, holders,
                acquisitions, waitedAcquisitions, Duration.ofNanos(waitNanos));
    }

    /** Entries in the queue, withdrawn ones not yet swept out included. For tests. */
    synchronized int queuedEntries() {
        return queued;
    }

    private String describeLocked() {
        return "CapacityLimiter[" + (name != null ? name + ", " : "") + borrowed + "/" + totalTokens + " borrowed, " + waiting + " waiting]";
    }

    @Override
    public synchronized String toString() {
        return describeLocked();
    }

    /**
     * A task (or explicit borrower) queued for a token. Its claim and withdrawal are decided under
     * the limiter's lock; the promise itself completes on the loop after the claim.
     */
    private final class AcquirePromise extends LoopPromise<Void> implements Waiter {
        private static final int UNDECIDED = 0;
        private static final int CLAIMED = 1;
        private static final int WITHDRAWN = 2;

        private final Object borrower;
        // Under the limiter's lock.
        private @Nullable Object link;
        /** {@link #UNDECIDED}, then {@link #CLAIMED} or {@link #WITHDRAWN}, whichever came first. */
        private int decision = UNDECIDED;

        AcquirePromise(EventLoop loop, Object borrower) {
            super(loop, loop.frame.currentTask, loop.frame.currentScope);
            this.borrower = borrower;
        }

        @Override
        public Object borrower() {
            return borrower;
        }

        @Override
        public boolean claim() {
            return decide(CLAIMED);
        }

        @Override
        public boolean withdraw() {
            return decide(WITHDRAWN);
        }

        /** The first of a claim and a withdrawal wins; either way the borrower stops queuing. */
        private boolean decide(int outcome) {
            if (decision != UNDECIDED) {
                return false;
            }
            decision = outcome;
            queuedBorrowers.remove(borrower);
            return true;
        }

        @Override
        public boolean isWithdrawn() {
            return decision == WITHDRAWN;
        }

        @Override
        public void granted() {
            if (!settleSoon(null, null)) {
                // Cancelled after the claim: the cancellation won, so the token goes on.
                revoke(borrower);
            }
        }

        @Override
        public @Nullable Object limiterLink() {
            return link;
        }

        @Override
        public void limiterLink(@Nullable Object link) {
            this.link = link;
        }

        @Override
        boolean cancellableByStage() {
            return true;
        }

        @Override
        boolean onCancelled(CancelledException e) {
            CapacityLimiter.this.withdraw(this);
            return true;
        }
    }
}
