package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

import dev.portal.internal.TimerQueue;

import org.jspecify.annotations.Nullable;

/**
 * Structured cancellation and deadlines for async code, AnyIO's {@code CancelScope}.
 *
 * <pre>{@code
 * // move_on_after: give up after 3 s, completing with null
 * CancelScope.moveOnAfter(Duration.ofSeconds(3), () -> slowLookup());
 *
 * // fail_after: give up after 3 s with a TimeoutException
 * CancelScope.failAfter(Duration.ofSeconds(3), () -> slowLookup());
 *
 * // an explicit scope, cancelled from elsewhere
 * CancelScope scope = CancelScope.create();
 * scope.run(() -> longJob()).thenAccept(v -> log(scope.cancelledCaught()));
 * scope.cancel();
 * }</pre>
 *
 * <p><b>What cancellation does.</b> Every awaitable that Portal hands to loop code ({@link Async#sleep},
 * {@link Event#await()}, {@link CapacityLimiter#acquire()}, {@link ToThread#runSync}, {@link Async#await})
 * is a <em>checkpoint</em>: created in a cancelled scope, or pending when the scope is cancelled,
 * it fails with {@link CancelledException}. The exception propagates through the body's stage;
 * the scope that was cancelled absorbs it, so {@link #run} completes normally with {@code null}
 * and {@link #cancelledCaught()} becomes true. Cancellation reaches nested scopes, except through a
 * {@linkplain #setShield(boolean) shield}. Code that is not waiting on a checkpoint is not
 * interrupted: cancellation is cooperative.
 *
 * <p><b>Which scope catches.</b> When several nested scopes are cancelled (in any order, by
 * {@link #cancel()} or a deadline), the cancellation belongs to the outermost of them that the
 * code can see, as in AnyIO and Trio: inner scopes let the exception through, so nothing chained
 * after them runs inside the cancelled enclosing scope, and only that outermost scope reports
 * {@link #cancelledCaught()}. A shield hides the scopes outside it: inside one, the outermost
 * visible scope is the shield or a scope within it. {@link CancelledException}'s message names
 * the catching scope, on the loop and in {@link FromThread#checkCancelled()} alike. Nesting depth
 * costs no stack: cancellation walks the scope tree iteratively.
 *
 * <p><b>Threads.</b> {@link #run} and the shield and deadline setters run on the event loop thread.
 * {@link #cancel()} and the getters may be called from any thread; a cancel from another thread is
 * carried out on the loop. A scope is entered once.
 */
public final class CancelScope {

    private static final AtomicLong IDS = new AtomicLong();
    private static final VarHandle ID;
    private static final VarHandle LOOP;

    static {
        try {
            ID = MethodHandles.lookup().findVarHandle(CancelScope.class, "id", long.class);
            LOOP = MethodHandles.lookup().findVarHandle(CancelScope.class, "loop", EventLoop.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
    private static final int NEW = 0;
    private static final int ENTERED = 1;
    private static final int EXITED = 2;

    /** Assigned when first shown, so creating a scope touches no shared counter. */
    private volatile long id;
    private volatile @Nullable EventLoop loop;
    private int state;
    private @Nullable CancelScope parent;
    private @Nullable CancelScope firstChild;
    private @Nullable CancelScope prevSibling;
    private @Nullable CancelScope nextSibling;
    private @Nullable LoopPromise<?> pendingHead;

    private volatile boolean cancelCalled;
    /**
     * Effectively cancelled: cancel() was called here, or on an enclosing scope that code in this
     * scope can see (no shield in between). Read by every checkpoint and by workers'
     * checkCancelled: one volatile read. Written on the loop thread only, with {@link #cancelOrigin}.
     */
    volatile boolean cancelled;
    /**
     * The outermost cancelled scope that this one can see (itself included): the scope that
     * catches the cancellation, and the one its exceptions name. Null when not cancelled.
     */
    private volatile @Nullable CancelScope cancelOrigin;
    /** Whether this scope's own cancel() has been carried out on the loop (reported once). */
    private boolean cancelApplied;
    private volatile boolean shield;
    private long deadlineNanos;
    private boolean hasDeadline;
    private volatile boolean deadlineReached;
    private TimerQueue.@Nullable Timer deadlineTimer;
    private volatile boolean cancelledCaught;
    private boolean failOnDeadline;
    private @Nullable Duration timeout;

    private CancelScope() {
    }

    private long id() {
        return LazyId.get(this, ID, IDS);
    }

    /** A new scope with no deadline and no shield. */
    public static CancelScope create() {
        return new CancelScope();
    }

    /** A new scope that cancels itself {@code timeout} after it is entered. */
    public static CancelScope withTimeout(Duration timeout) {
        CancelScope scope = new CancelScope();
        scope.timeout = requireTimeout(timeout, "timeout");
        return scope;
    }

    /** A new scope whose deadline is the given {@link System#nanoTime()} value. */
    public static CancelScope withDeadline(long deadlineNanoTime) {
        CancelScope scope = new CancelScope();
        scope.hasDeadline = true;
        scope.deadlineNanos = deadlineNanoTime;
        return scope;
    }

    /**
     * Runs {@code body} and completes with its value, or with {@code null} if the body was
     * cancelled after {@code timeout} (AnyIO's {@code move_on_after}).
     */
    public static <T> CompletionStage<@Nullable T> moveOnAfter(Duration timeout, AsyncCallable<T> body) {
        CancelScope scope = withTimeout(timeout);
        Objects.requireNonNull(body, "body must not be null");
        EventLoop.requireCurrent("CancelScope.moveOnAfter");
        return scope.run(body);
    }

    /**
     * Runs {@code body} and completes with its value, or fails with {@link TimeoutException} if the
     * deadline cancelled it (AnyIO's {@code fail_after}).
     */
    public static <T> CompletionStage<T> failAfter(Duration timeout, AsyncCallable<T> body) {
        CancelScope scope = withTimeout(timeout);
        Objects.requireNonNull(body, "body must not be null");
        EventLoop.requireCurrent("CancelScope.failAfter");
        scope.failOnDeadline = true;
        return scope.run(body);
    }

    /** Runs {@code body} shielded from the cancellation of enclosing scopes. */
    public static <T> CompletionStage<@Nullable T> shielded(AsyncCallable<T> body) {
        Objects.requireNonNull(body, "body must not be null");
        EventLoop.requireCurrent("CancelScope.shielded");
        CancelScope scope = new CancelScope();
        scope.shield = true;
        return scope.run(body);
    }

    /** The innermost scope of the running async code. Loop thread only. */
    public static CancelScope current() {
        return EventLoop.requireCurrent("CancelScope.current()").frame.currentScope;
    }

    static CancelScope root() {
        CancelScope scope = new CancelScope();
        scope.state = ENTERED;
        return scope;
    }

    void bindRoot(EventLoop loop) {
        this.loop = loop;
    }

    /**
     * Enters the scope, runs {@code body} inside it, and exits when the body's stage completes.
     * The returned stage completes with the body's value, or with {@code null} if this scope's
     * cancellation was caught, or with the body's failure. Loop thread only; once per scope.
     */
    public <T> CompletionStage<@Nullable T> run(AsyncCallable<T> body) {
        Objects.requireNonNull(body, "body must not be null");
        EventLoop l = EventLoop.requireCurrent("CancelScope.run");
        CancelScope p = l.frame.currentScope;
        LoopTask task = l.frame.currentTask;
        // A volatile store: a thread that cancels this scope must see the loop, or we its flag.
        enter(l, p, true);

        LoopPromise<@Nullable T> result = new LoopPromise<>(l, task, p);
        CompletionStage<T> stage;
        l.frame.currentScope = this;
        try {
            stage = body.call();
            if (stage == null) {
                stage = LoopStage.failedFuture(new NullPointerException("the body of CancelScope.run returned null "
                        + "instead of a CompletionStage"));
            }
        } catch (Throwable t) {
            stage = LoopStage.failedFuture(t);
        } finally {
            l.frame.currentScope = p;
        }
        if (EventLoop.isDoneNormally(stage)) {
            // Done already: exit now, as whenComplete would, without a continuation.
            exit(result, ((CompletableFuture<T>) stage).getNow(null), null);
            return result;
        }
        // Nothing may fail in the callback unseen: see exitSafely. A loop that has stopped has
        // stopped the scope with it: the outcome is handed on where it arrives, untouched.
        l.adopt(stage, "the body of CancelScope.run", (value, error) -> exitSafely(l, result, value, error),
                (value, error) -> result.settleWithoutContext(value, error));
        return result;
    }

    /**
     * Exits and settles {@code result}; a failure on the way fails {@code result}, or, if it was
     * already settled, goes to the loop's uncaught handler: it is never dropped. Loop thread.
     */
    private <T> void exitSafely(EventLoop l, LoopPromise<@Nullable T> result, @Nullable T value,
            @Nullable Throwable error) {
        try {
            exit(result, value, error);
        } catch (Throwable t) {
            if (!result.settle(null, t)) {
                l.reportUncaught(t);
            }
        }
    }

    /**
     * Enters this scope below {@code p} on the loop thread: links it into the tree, inherits a
     * cancellation, arms the deadline. {@code shared} says whether another thread may already hold
     * the scope: then publishing the loop takes a volatile store, so that a concurrent
     * {@link #cancel()} sees the loop or this side sees its flag. A scope made on the loop and not
     * handed out before it is entered needs only a release store.
     */
    void enter(EventLoop l, CancelScope p, boolean shared) {
        if (state != NEW) {
            throw new IllegalStateException("this CancelScope has already been entered; a scope is entered "
                    + "once: create a new CancelScope for each run");
        }
        if (shared) {
            loop = l;
        } else {
            LOOP.setRelease(this, l);
        }
        state = ENTERED;
        parent = p;
        linkTo(p);
        if (timeout != null) {
            hasDeadline = true;
            deadlineNanos = saturatedAdd(System.nanoTime(), saturatedNanos(timeout));
        } else {
            latchPassedDeadline(); // a deadline that passed before entry has cancelled the scope
        }
        // One read: a cancel() that sets the flag after it sees the loop published above and
        // comes through cancelOnLoop, which must then find the cancel not yet applied.
        boolean cancelledBefore = cancelCalled;
        cancelApplied = cancelledBefore;
        refreshOwn();
        if (cancelledBefore) {
            reportCancelled(l);
        }
        armDeadline(l);
    }

    /**
     * Exits this scope, entered with {@link #enter}, as its body ended with {@code error} (null if it
     * succeeded): disarms the deadline and unlinks the scope. Returns whether the scope caught its
     * own cancellation, which also sets {@link #cancelledCaught()}. Loop thread only.
     */
    boolean exit(@Nullable Throwable error) {
        EventLoop l = Objects.requireNonNull(loop);
        state = EXITED;
        if (deadlineTimer != null) {
            l.timers().cancel(deadlineTimer);
            deadlineTimer = null;
        }
        unlink();
        Throwable cause = unwrap(error);
        // AnyIO's and Trio's rule: only the outermost cancelled scope that the body can see catches
        // the cancellation; an inner scope cancelled too lets it through to that one.
        if (cause instanceof CancelledException && cancelled && cancelOrigin == this) {
            cancelledCaught = true;
            return true;
        }
        return false;
    }

    private <T> void exit(LoopPromise<@Nullable T> result, @Nullable T value, @Nullable Throwable error) {
        if (exit(error)) {
            if (failOnDeadline && deadlineReached) {
                TimeoutException timeoutException = new TimeoutException(timeout != null
                        ? "timed out after " + timeout : "deadline exceeded");
                result.settle(null, timeoutException);
            } else {
                result.settle(null, null);
            }
            return;
        }
        result.settle(value, error);
    }

    static @Nullable Throwable unwrap(@Nullable Throwable error) {
        Throwable t = error;
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /**
     * Cancels this scope: every pending checkpoint inside it fails with {@link CancelledException},
     * and so does every later one until the scope exits. Idempotent. Any thread; before the scope
     * is entered it marks the scope so that it starts out cancelled.
     */
    public void cancel() {
        cancelCalled = true;
        // run() publishes the loop before it reads cancelCalled, so either it sees the flag or we
        // see the loop; the loop thread then decides on its own state.
        EventLoop l = loop;
        if (l == null) {
            return;
        }
        if (l.inEventLoop()) {
            cancelOnLoop();
        } else {
            try {
                l.executeSoon(this::cancelOnLoop);
            } catch (RejectedExecutionException stopped) {
                // The loop is gone: nothing inside this scope can still be waiting.
            }
        }
    }

    void cancelOnLoop() {
        cancelCalled = true;
        if (state != ENTERED || cancelApplied) {
            return;
        }
        cancelApplied = true;
        EventLoop l = loop;
        if (l != null) {
            reportCancelled(l); // first: the calls it cancels are reported as they give up
        }
        refresh(this);
    }

    /**
     * Tells the loop's listeners that this scope's own cancellation took effect: once per scope,
     * as a deadline if the deadline passed, else as {@code cancel()}. Loop thread only.
     */
    private void reportCancelled(EventLoop l) {
        if (l.listeners.any()) {
            l.listeners.cancellation(new CancellationEvent(l.name(), deadlineReached ? CancellationKind.DEADLINE
                    : CancellationKind.SCOPE_CANCELLED, null, null));
        }
    }

    /**
     * Brings the cancellation state of {@code top} and of the entered scopes below it up to date
     * after a change at {@code top} (its cancel, its shield, the loop's stop), failing the pending
     * checkpoints of every scope that becomes cancelled. Walks the tree in pre-order through the
     * parent, child and sibling links, without recursion, so depth costs no stack; a scope whose
     * state did not change keeps its subtree's. Loop thread only.
     */
    private static void refresh(CancelScope top) {
        CancelScope node = top;
        while (node != null) {
            CancelScope next = null;
            if (node.refreshOwn() && node.firstChild != null) {
                next = node.firstChild;
            } else {
                for (CancelScope n = node; n != top; n = n.parent) {
                    if (n.nextSibling != null) {
                        next = n.nextSibling;
                        break;
                    }
                }
            }
            node = next;
        }
    }

    /**
     * Recomputes whether this scope is cancelled from its own cancel and its parent's state: the
     * parent's cancellation wins unless this scope is a shield, so the origin is always the
     * outermost cancelled scope in sight. Cancels the pending checkpoints if the scope becomes
     * cancelled. Returns whether the state changed. Loop thread only.
     */
    private boolean refreshOwn() {
        CancelScope p = parent;
        CancelScope origin;
        if (!shield && p != null && p.cancelled) {
            origin = p.cancelOrigin;
        } else if (cancelCalled && state == ENTERED) {
            origin = this;
        } else {
            origin = null;
        }
        if (origin == cancelOrigin) {
            return false;
        }
        boolean was = cancelled;
        cancelOrigin = origin;
        cancelled = origin != null;
        if (origin != null && !was) {
            LoopPromise<?> pending;
            while ((pending = pendingHead) != null) {
                removePending(pending);
                pending.cancelFromScope(newCancelledException());
            }
        }
        return true;
    }

    CancelledException newCancelledException() {
        CancelScope o = cancelOrigin;
        CancelScope origin = o != null ? o : this;
        return new CancelledException("cancelled by " + origin.describe());
    }

    private String describe() {
        if (deadlineReached) {
            return "CancelScope#" + id() + " (deadline" + (timeout != null ? " of " + timeout : "") + " exceeded)";
        }
        return "CancelScope#" + id() + " (cancel() called)";
    }

    private void armDeadline(EventLoop l) {
        if (!hasDeadline || state != ENTERED) {
            return;
        }
        if (deadlineTimer != null) {
            l.timers().cancel(deadlineTimer);
            deadlineTimer = null;
        }
        if (deadlineNanos == Long.MAX_VALUE) {
            return;
        }
        if (deadlineNanos - System.nanoTime() <= 0) {
            deadlineReached = true;
            cancelOnLoop();
            return;
        }
        deadlineTimer = l.timers().schedule(deadlineNanos, () -> {
            deadlineTimer = null;
            deadlineReached = true;
            cancelOnLoop();
        });
    }

    // --- tree and pending-list bookkeeping (loop thread only) ---

    private void linkTo(CancelScope p) {
        nextSibling = p.firstChild;
        if (p.firstChild != null) {
            p.firstChild.prevSibling = this;
        }
        p.firstChild = this;
    }

    private void unlink() {
        CancelScope p = parent;
        if (p == null) {
            return;
        }
        if (prevSibling != null) {
            prevSibling.nextSibling = nextSibling;
        } else if (p.firstChild == this) {
            p.firstChild = nextSibling;
        }
        if (nextSibling != null) {
            nextSibling.prevSibling = prevSibling;
        }
        prevSibling = null;
        nextSibling = null;
    }

    void addPending(LoopPromise<?> p) {
        p.armed = true;
        p.nextPending = pendingHead;
        p.prevPending = null;
        if (pendingHead != null) {
            pendingHead.prevPending = p;
        }
        pendingHead = p;
    }

    void removePending(LoopPromise<?> p) {
        if (!p.armed) {
            return;
        }
        p.armed = false;
        if (p.prevPending != null) {
            p.prevPending.nextPending = p.nextPending;
        } else {
            pendingHead = p.nextPending;
        }
        if (p.nextPending != null) {
            p.nextPending.prevPending = p.prevPending;
        }
        p.prevPending = null;
        p.nextPending = null;
    }

    /** Cancels the whole tree below the loop's root scope; used when the loop stops. */
    void cancelAll() {
        cancelCalled = true;
        cancelApplied = true;
        refresh(this);
    }

    // --- properties ---

    /**
     * Whether cancellation has been requested for this scope: {@link #cancel()} was called, or its
     * deadline has passed (Trio's {@code cancel_called}). A deadline that passes cancels the scope
     * for good, entered or not: moving it later afterwards does not undo that, and a scope entered
     * after its deadline starts cancelled. A {@linkplain #withTimeout timeout} starts counting when
     * the scope is entered. It says nothing about whether code was affected: see
     * {@link #cancelledCaught()}. Any thread; a volatile read, plus a clock read while a deadline
     * is set and has not passed.
     */
    public boolean cancelCalled() {
        return cancelCalled || deadlinePassed();
    }

    /** Whether this scope absorbed a {@link CancelledException} caused by its own cancellation. */
    public boolean cancelledCaught() {
        return cancelledCaught;
    }

    /**
     * Whether code in this scope is cancelled now: cancellation was requested for this scope (see
     * {@link #cancelCalled()}), or for an enclosing scope without a shield in between. Any thread.
     */
    public boolean isCancelled() {
        return cancelled || cancelCalled();
    }

    /** Whether this scope shields its code from the cancellation of enclosing scopes. Any thread. */
    public boolean isShield() {
        return shield;
    }

    /**
     * Shields the code in this scope from the cancellation of enclosing scopes (its own
     * {@link #cancel()} and deadline still apply). Every change takes effect at once, both ways:
     * dropping the shield inside a cancelled scope fails the pending checkpoints below it, and
     * setting it again lets later checkpoints and workers' {@link FromThread#checkCancelled()} pass
     * (a checkpoint that already failed stays failed). Before entry from any thread; after, on the
     * loop thread.
     *
     * @throws IllegalStateException if the scope has been entered and this is not its loop's thread
     */
    public void setShield(boolean shield) {
        if (state != NEW) {
            EventLoop.requireLoop(Objects.requireNonNull(loop), "CancelScope.setShield");
        }
        boolean was = this.shield;
        this.shield = shield;
        if (state == ENTERED && was != shield) {
            refresh(this);
        }
    }

    /** The deadline as a {@link System#nanoTime()} value, or {@link Long#MAX_VALUE} for none. */
    public long deadline() {
        if (!hasDeadline) {
            if (timeout != null && state == NEW) {
                return saturatedAdd(System.nanoTime(), saturatedNanos(timeout));
            }
            return Long.MAX_VALUE;
        }
        return deadlineNanos;
    }

    /**
     * Sets the deadline ({@link System#nanoTime()} basis; {@link Long#MAX_VALUE} removes it). If the
     * current deadline has already passed, the scope stays cancelled (see {@link #cancelCalled()}).
     * Before entry from any thread; after, on the loop thread.
     *
     * @throws IllegalStateException if the scope has been entered and this is not its loop's thread
     */
    public void setDeadline(long deadlineNanoTime) {
        if (state != NEW) {
            EventLoop.requireLoop(Objects.requireNonNull(loop), "CancelScope.setDeadline");
        }
        latchPassedDeadline();
        timeout = null;
        hasDeadline = true;
        deadlineNanos = deadlineNanoTime;
        if (state == ENTERED) {
            armDeadline(Objects.requireNonNull(loop));
        }
    }

    /** Whether a deadline is set, the scope has not exited, and the deadline has passed. */
    private boolean deadlinePassed() {
        return hasDeadline && state != EXITED && deadlineNanos != Long.MAX_VALUE
                && System.nanoTime() - deadlineNanos >= 0;
    }

    /**
     * Records a deadline that has passed as this scope's cancellation, before anything forgets it:
     * entry, or a new deadline. Entered: on the loop thread, which carries the cancellation out
     * (the timer may not have fired yet).
     */
    private void latchPassedDeadline() {
        if (cancelCalled || !deadlinePassed()) {
            return;
        }
        deadlineReached = true;
        if (state == ENTERED) {
            if (deadlineTimer != null) {
                Objects.requireNonNull(loop).timers().cancel(deadlineTimer);
                deadlineTimer = null;
            }
            cancelOnLoop();
        } else {
            cancelCalled = true;
        }
    }

    /** Time left until the deadline, zero if it has passed, or null if there is none. */
    public @Nullable Duration remaining() {
        long d = deadline();
        if (d == Long.MAX_VALUE) {
            return null;
        }
        long left = d - System.nanoTime();
        return Duration.ofNanos(Math.max(0, left));
    }

    static Duration requireTimeout(@Nullable Duration timeout, String name) {
        Objects.requireNonNull(timeout, () -> name + " must not be null");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException(name + " must be >= 0 (was " + timeout + ")");
        }
        return timeout;
    }

    static long saturatedAdd(long a, long b) {
        long r = a + b;
        if (((a ^ r) & (b ^ r)) < 0) {
            return Long.MAX_VALUE;
        }
        return r == Long.MAX_VALUE ? Long.MAX_VALUE - 1 : r;
    }

    static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE;
        }
    }

    @Override
    public String toString() {
        return "CancelScope#" + id() + "[" + (state == NEW ? "new" : state == ENTERED ? "entered" : "exited")
                + (cancelCalled ? ", cancel called" : cancelled ? ", cancelled by enclosing scope" : "")
                + (shield ? ", shield" : "") + (cancelledCaught ? ", cancelled caught" : "") + "]";
    }
}
