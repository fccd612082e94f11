package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
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
    /** Effectively cancelled: cancel() was called here, or above without a shield in between. */
    volatile boolean cancelled;
    private @Nullable CancelScope cancelOrigin;
    private boolean shield;
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
        l.adopt(stage, "the body of CancelScope.run", (value, error) -> exit(result, value, error));
        return result;
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
        }
        if (cancelCalled) {
            markCancelled(this);
            reportCancelled(l);
        } else if (!shield && p.cancelled) {
            markCancelled(p.cancelOrigin != null ? p.cancelOrigin : p);
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
        if (cause instanceof CancelledException && cancelCalled) {
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
            } catch (java.util.concurrent.RejectedExecutionException stopped) {
                // The loop is gone: nothing inside this scope can still be waiting.
            }
        }
    }

    void cancelOnLoop() {
        cancelCalled = true;
        if (state != ENTERED || (cancelled && cancelOrigin == this)) {
            return;
        }
        EventLoop l = loop;
        if (l != null) {
            reportCancelled(l); // first: the calls it cancels are reported as they give up
        }
        propagate(this);
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

    private void markCancelled(CancelScope origin) {
        cancelled = true;
        cancelOrigin = origin;
    }

    private void propagate(CancelScope origin) {
        markCancelled(origin);
        LoopPromise<?> p;
        while ((p = pendingHead) != null) {
            removePending(p);
            p.cancelFromScope(newCancelledException());
        }
        for (CancelScope c = firstChild; c != null; c = c.nextSibling) {
            if (!c.shield && !c.cancelled) {
                c.propagate(origin);
            }
        }
    }

    CancelledException newCancelledException() {
        CancelScope origin = cancelOrigin != null ? cancelOrigin : this;
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
        propagate(this);
    }

    // --- properties ---

    /** Whether {@link #cancel()} has been called on this scope (or its deadline passed). */
    public boolean cancelCalled() {
        return cancelCalled;
    }

    /** Whether this scope absorbed a {@link CancelledException} caused by its own cancellation. */
    public boolean cancelledCaught() {
        return cancelledCaught;
    }

    /**
     * Whether code in this scope is cancelled now: this scope's {@link #cancel()} was called, or an
     * enclosing scope's without a shield in between. A volatile read; any thread.
     */
    public boolean isCancelled() {
        return cancelled || cancelCalled;
    }

    public boolean isShield() {
        return shield;
    }

    /**
     * Shields the code in this scope from the cancellation of enclosing scopes (its own
     * {@link #cancel()} still applies). Before entry from any thread; after, on the loop thread.
     */
    public void setShield(boolean shield) {
        if (state != NEW) {
            EventLoop.requireLoop(Objects.requireNonNull(loop), "CancelScope.setShield");
        }
        boolean was = this.shield;
        this.shield = shield;
        if (state == ENTERED && was && !shield && !cancelled && parent != null && parent.cancelled) {
            propagate(parent.cancelOrigin != null ? parent.cancelOrigin : parent);
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

    /** Sets the deadline ({@link System#nanoTime()} basis; {@link Long#MAX_VALUE} removes it). */
    public void setDeadline(long deadlineNanoTime) {
        if (state != NEW) {
            EventLoop.requireLoop(Objects.requireNonNull(loop), "CancelScope.setDeadline");
        }
        timeout = null;
        hasDeadline = true;
        deadlineNanos = deadlineNanoTime;
        if (state == ENTERED) {
            armDeadline(Objects.requireNonNull(loop));
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
