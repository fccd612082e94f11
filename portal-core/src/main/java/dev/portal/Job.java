package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.Callable;
import java.util.concurrent.RejectedExecutionException;

import io.micrometer.context.ContextSnapshot;

import dev.portal.internal.ThreadContext;
import dev.portal.internal.Worker;
import dev.portal.internal.WorkerJob;

import org.jspecify.annotations.Nullable;

/**
 * One {@link ToThread#runSync} call, and the stage its caller awaits: the call is its own promise,
 * so a queued offload costs one object. Its state machine decides every race between the caller's
 * cancellation (loop thread), the limiter's grant (any thread) and the worker:
 *
 * <pre>
 * WAITING --grant--> STARTING --worker--> RUNNING --fn returns--> DONE
 *    |                  |                    |
 *    +--cancel--> CANCELLED <--cancel--------+ (ABANDON/INTERRUPT before start)
 *                                            +--INTERRUPT cancel--> INTERRUPTING --> INTERRUPTED --> DONE
 * </pre>
 *
 * The token is released by the worker once the function has really returned, whatever the caller
 * did, before the outcome is posted to the loop.
 *
 * <p>{@link #run()} may be queued on the loop twice: by the worker, to report the outcome, and by
 * a cancellation that the caller accepted (see {@link LoopPromise#cancelFromScope}). Whichever runs
 * first while the promise is cancelling completes it with the cancellation; the other one, or the
 * only one, reports the outcome and settles the promise if it is still pending.
 */
class Job<T> extends LoopPromise<T> implements WorkerJob, CapacityLimiter.Waiter {

    static final int WAITING = 0;
    static final int STARTING = 1;
    static final int RUNNING = 2;
    static final int INTERRUPTING = 3;
    static final int INTERRUPTED = 4;
    static final int DONE = 5;
    static final int CANCELLED = 6;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Job.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // Every field costs 100 000 × 4 bytes when 100 000 calls queue: the limiter is derived from the
    // options, the function's outcome lives in LoopPromise.outcome, and the worker running the call
    // is found through the pool when it must be interrupted.
    final Callable<T> fn;
    final RunSyncOptions options;
    final @Nullable ContextSnapshot threadLocals;
    /** Task-local values seen by the function; starts as the host task's, never written back. */
    volatile Locals locals;

    private volatile int state = WAITING;
    /** The limiter's link: the next queued call while waiting, the holder slot while holding. */
    private @Nullable Object limiterLink;
    volatile boolean abandoned;
    private boolean countedAbandonedRunning;

    /** A call from the loop's current task and scope. Loop thread only. */
    private Job(EventLoop loop, Callable<T> fn, RunSyncOptions options) {
        super(loop, loop.frame.currentTask, loop.frame.currentScope);
        this.fn = fn;
        this.options = options;
        LoopTask host = task;
        this.locals = host != null ? host.locals : Locals.EMPTY;
        this.threadLocals = loop.captureContext();
    }

    /**
     * A call made while the loop has listeners: an {@link Observed} one, which keeps the clock
     * readings for its {@link OffloadEvent}; otherwise a plain one, which reads no clock and is no
     * bigger for it (100 000 queued calls cost no more with events possible). Loop thread only.
     */
    static <T> Job<T> create(EventLoop loop, Callable<T> fn, RunSyncOptions options) {
        return loop.listeners.any() ? new Observed<>(loop, fn, options) : new Job<>(loop, fn, options);
    }

    /** Clock readings for the call's {@link OffloadEvent}; null when the loop had no listener at the call. */
    @Nullable OffloadObservation observation() {
        return null;
    }

    /** A call made while the loop had listeners. */
    private static final class Observed<T> extends Job<T> {
        private final OffloadObservation observation = new OffloadObservation(System.nanoTime());

        Observed(EventLoop loop, Callable<T> fn, RunSyncOptions options) {
            super(loop, fn, options);
        }

        @Override
        OffloadObservation observation() {
            return observation;
        }
    }

    /** The call's cancel mode: its own, or its loop's {@linkplain EventLoop#defaultCancelMode() default}. */
    CancelMode mode() {
        CancelMode own = options.cancelMode();
        return own != null ? own : loop.defaultCancelMode;
    }

    CapacityLimiter limiter() {
        CapacityLimiter given = options.limiter();
        return given != null ? given : loop.defaultLimiter;
    }

    /** Whether the function ran: the worker's last word is DONE only for a call that started. */
    private boolean ran() {
        return state == DONE;
    }

    // ---- limiter waiter ----

    /** The call borrows as itself, in one of the limiter's slots. */
    @Override
    public @Nullable Object borrower() {
        return null;
    }

    /** Under the limiter's lock: the token is this call's, unless its caller withdrew it. */
    @Override
    public boolean claim() {
        return STATE.compareAndSet(this, WAITING, STARTING);
    }

    /** Under the limiter's lock: the caller stops waiting before a token was claimed. */
    @Override
    public boolean withdraw() {
        return STATE.compareAndSet(this, WAITING, CANCELLED);
    }

    @Override
    public boolean isWithdrawn() {
        return state == CANCELLED;
    }

    @Override
    public @Nullable Object limiterLink() {
        return limiterLink;
    }

    @Override
    public void limiterLink(@Nullable Object link) {
        limiterLink = link;
    }

    /** Token in hand (any thread, outside the limiter's lock): hand the function to a worker. */
    @Override
    public void granted() {
        OffloadObservation o = observation();
        if (o != null) {
            o.grantedNanos = System.nanoTime();
        }
        try {
            loop.workers.dispatch(this);
        } catch (RuntimeException | Error e) {
            // The pool is shut down (the loop is stopping): the function never runs.
            notRun(e);
        }
    }

    /**
     * The call never runs: its pool is shut down, or no worker thread could be started for it (the
     * pool's {@link dev.portal.internal.WorkerPool} says which calls that fails). Its caller gets
     * {@code cause}, unless the caller cancelled it first and hears of that instead; the token goes
     * back. Any thread, once, instead of {@link #runOnWorker}.
     */
    @Override
    public void notRun(Throwable cause) {
        if (STATE.compareAndSet(this, STARTING, CANCELLED)) {
            outcome = cause;
            outcomeIsFailure = true;
        }
        limiter().releaseHeld(this, loop);
        postCompletion();
    }

    // ---- worker side ----

    @Override
    public void runOnWorker(Worker worker) {
        // Set before RUNNING and cleared after it ends, so an interrupter that wins the
        // RUNNING -> INTERRUPTING race finds this worker's thread (see interrupt()).
        worker.setCurrentJob(this);
        if (!STATE.compareAndSet(this, STARTING, RUNNING)) {
            worker.setCurrentJob(null);
            handOn(worker);
            return;
        }
        worker.countStarted();
        OffloadObservation o = observation();
        if (o != null) {
            o.startNanos = System.nanoTime();
        }
        loop.threadContext.enter(worker.keptContext(), threadLocals);
        // A named call shows its name in the worker thread's name while it runs (thread dumps,
        // profilers), as Trio does; an unnamed one costs nothing here.
        String callName = options.name();
        String ownName = callName != null ? nameThread(callName) : null;
        try {
            outcome = fn.call();
        } catch (Throwable t) {
            outcome = t;
            outcomeIsFailure = true;
        } finally {
            if (o != null) {
                o.endNanos = System.nanoTime();
            }
            if (ownName != null) {
                Thread.currentThread().setName(ownName);
            }
            ThreadContext.afterJob(worker.keptContext());
            finishRunning(worker);
            worker.setCurrentJob(null);
        }
        worker.countFinished(outcomeIsFailure);
        handOn(worker);
    }

    /**
     * Frees the token here, on the worker: if a call waits for it, this same worker runs that call
     * next, without a queue or a wake-up. Otherwise the worker counts as searching before the loop
     * hears of this call, so the caller's next call finds it instead of waking another.
     */
    private void handOn(Worker worker) {
        worker.openHandoff();
        limiter().releaseHeld(this, loop);
        worker.release();
        postCompletion();
    }

    /**
     * Renames the worker thread to {@code "<its name> [<callName>]"} for the call and returns its own
     * name, which is set back once the function returns (also if the function renamed the thread).
     */
    private static String nameThread(String callName) {
        Thread t = Thread.currentThread();
        String own = t.getName();
        t.setName(own + " [" + callName + "]");
        return own;
    }

    private void finishRunning(Worker worker) {
        // A CAS for every mode, not a release store for the calls that are not INTERRUPT's: a
        // graceful stop may interrupt any call once its grace period is over (EventLoop's
        // afterGrace), so every call must see an interrupter that took it out of RUNNING.
        if (!STATE.compareAndSet(this, RUNNING, DONE)) {
            // An interrupt is being delivered: wait for it on the lock the interrupter holds (the
            // worker's, never this job's: callers hold the job as their stage and may lock it),
            // parked rather than spinning, so the interrupter keeps the CPU.
            synchronized (worker) {
                state = DONE;
            }
        }
        // Clear an interrupt aimed at this call, so the pooled thread's next job starts clean.
        Thread.interrupted();
    }

    private void postCompletion() {
        try {
            loop.executeSoon(this); // a continuation: accepted while the loop shuts down gracefully
        } catch (RejectedExecutionException stopped) {
            rejected(stopped);
        }
    }

    // ---- loop side ----

    /** The function returned (or never ran) and its token is free: report to the caller. */
    @Override
    public void run() {
        loop.offloadsOut--;
        if (isCancelling()) {
            completeCancelled(scope.newCancelledException());
            return;
        }
        countOutcome();
        report();
        if (outcomeIsFailure) {
            settle(null, (Throwable) outcome);
        } else {
            settle(value(), null);
        }
    }

    @SuppressWarnings("unchecked")
    private @Nullable T value() {
        return (T) outcome;
    }

    @Override
    public void rejected(RejectedExecutionException e) {
        if (isCancelling()) {
            rejectedCancelled(scope.newCancelledException());
            return;
        }
        countOutcome();
        report();
        Throwable failure = outcomeIsFailure ? (Throwable) outcome : ran() ? null : e;
        settleWithoutContext(failure == null ? value() : null, failure);
    }

    /**
     * Reports the call to the listeners, if it was observed, once the function has returned (or, for
     * a call that never ran and was not reported when it was cancelled, once its worker or the
     * stopping pool gave the token back). A cancellation's completion that runs before the
     * worker's finds the call still running and leaves the report to the worker's.
     */
    private void report() {
        OffloadObservation o = observation();
        if (o == null) {
            return;
        }
        if (ran()) {
            o.reportRan(this, outcomeIsFailure ? (Throwable) outcome : null);
        } else if (state == CANCELLED) {
            o.reportNotStarted(this);
        }
    }

    /** The worker counted the call itself; only an abandoned call's running count is the loop's. */
    private void countOutcome() {
        if (countedAbandonedRunning) {
            loop.offloads.abandonedRunning.decrement();
        }
    }

    /**
     * The worker may still write {@code outcome} (an abandoned call runs on), so the cancellation is
     * not kept: the completion makes it afresh from the scope, which names the same origin unless
     * another scope's cancellation reached it in between.
     */
    @Override
    void holdCancellation(CancelledException e) {
    }

    /** The caller's scope was cancelled. Returns whether the caller stops waiting. Loop thread. */
    @Override
    boolean onCancelled(CancelledException e) {
        OffloadCounters c = loop.offloads;
        OffloadObservation o = observation();
        if (state == WAITING && limiter().withdraw(this)) {
            loop.offloadsOut--; // no worker will hand it back
            c.cancelledBeforeStart.increment();
            if (o != null) {
                o.reportNotStarted(this);
            }
            return true;
        }
        // A stop past its grace period treats every call alike (EventLoop.shutdownGracefully).
        CancelMode stopMode = loop.stopMode;
        CancelMode mode = stopMode != null ? stopMode : mode();
        if (mode == CancelMode.SHIELD) {
            c.shielded.increment();
            if (o != null) {
                o.cancelled = OffloadOutcome.SHIELDED;
            }
            return false;
        }
        if (STATE.compareAndSet(this, STARTING, CANCELLED)) {
            // Token held, worker not yet running it: the worker will skip it and free the token.
            c.cancelledBeforeStart.increment();
            if (o != null) {
                o.reportNotStarted(this);
            }
            return true;
        }
        abandoned = true;
        if (state != DONE) {
            countedAbandonedRunning = true;
            c.abandonedRunning.increment();
        }
        if (o != null) {
            o.cancelled = mode == CancelMode.INTERRUPT ? OffloadOutcome.INTERRUPTED : OffloadOutcome.ABANDONED;
        }
        if (mode == CancelMode.INTERRUPT) {
            c.interrupted.increment();
            interrupt();
        } else {
            c.abandoned.increment();
        }
        return true;
    }

    /**
     * Interrupts the worker running this call, if it still is. The worker is found through the pool
     * (it marks the job current before RUNNING and clears it after leaving RUNNING). Holding the
     * worker's lock in INTERRUPTING keeps the worker inside {@link #finishRunning}, and so on this
     * job, until the interrupt is delivered; if the call finished first, the CAS fails and nothing
     * is interrupted, even if the worker has moved on to another call. Returns whether it
     * interrupted the worker.
     */
    private boolean interrupt() {
        Worker worker = loop.workers.workerRunning(this);
        if (worker == null) {
            return false;
        }
        synchronized (worker) {
            if (STATE.compareAndSet(this, RUNNING, INTERRUPTING)) {
                try {
                    worker.thread().interrupt();
                } finally {
                    state = INTERRUPTED;
                }
                return true;
            }
        }
        return false;
    }

    /**
     * At the end of a graceful stop's grace period in {@link CancelMode#INTERRUPT} mode: interrupts
     * the worker of a call whose caller abandoned it earlier and whose function still runs.
     * Returns whether it did. Loop thread.
     */
    boolean interruptAbandoned() {
        if (!abandoned || state != RUNNING) {
            return false;
        }
        return interrupt();
    }

    /** The call's name for reports: its {@link RunSyncOptions#withName} name, or the function's toString. */
    String functionName() {
        String name = options.name();
        return name != null ? name : String.valueOf(fn);
    }

    @Override
    public String toString() {
        String name = options.name();
        return "ToThread.runSync[" + (name != null ? name : fn.getClass().getName()) + "]";
    }
}
