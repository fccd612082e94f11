package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

import io.micrometer.context.ContextSnapshot;

import org.jspecify.annotations.Nullable;

/**
 * An awaitable that Portal hands to loop code: it remembers the task and cancel scope that were
 * current when it was created, and completes on the loop thread with those restored, so the
 * continuations attached to it run in the right task and scope whoever resolves it.
 *
 * <p>While <em>armed</em> it is registered with its scope, and the scope's cancellation completes
 * it with {@link CancelledException}. The phase CAS decides the race between a resolver on any
 * thread and the scope's cancellation on the loop: the first to leave PENDING wins.
 *
 * <p>{@link #whenComplete} is the continuation loop code attaches most, so the promise runs it
 * itself: the action and its result stage are one 32-byte object on a lock-free stack, instead of
 * the result stage plus a completion node that {@code CompletableFuture} allocates (64 bytes). The
 * stack is run once, in registration order, right after the promise completes by any of the
 * completing methods, all of which are overridden here to do so. Completions nested deeper than
 * {@link #MAX_NESTED_COMPLETIONS} on the loop thread wait on a trampoline and run before the
 * outermost completion returns (see {@link #completeInContext}), so no depth overflows the stack.
 */
class LoopPromise<T> extends LoopStage<T> implements Runnable, LoopRejectable {

    static final int PENDING = 0;
    static final int RESOLVING = 1;
    static final int CANCELLED = 2;
    static final int DONE = 3;
    /**
     * How many completions may nest on the loop thread's stack before the next one is queued on
     * the trampoline (see {@link #completeInContext}). Each level takes a dozen or so frames.
     */
    static final int MAX_NESTED_COMPLETIONS = 32;

    private static final VarHandle PHASE;
    private static final VarHandle LISTENERS;
    /** The listener stack's value once it has run: later listeners run at once. */
    private static final Object SETTLED = new Object();
    /**
     * What {@link #onCancelled} is given when {@link #cancel} ends the stage: no hook keeps it or
     * throws it, and the stage itself completes with a {@link CancellationException} of its own.
     */
    private static final CancelledException STAGE_CANCELLED = new CancelledException("the stage was cancelled with "
            + "cancel()");

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            PHASE = lookup.findVarHandle(LoopPromise.class, "phase", int.class);
            LISTENERS = lookup.findVarHandle(LoopPromise.class, "listeners", Object.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final @Nullable LoopTask task;
    final CancelScope scope;
    private volatile int phase;
    /** null, the newest {@link WhenComplete} of a stack linked by {@code next}, or {@link #SETTLED}. */
    private volatile @Nullable Object listeners;
    /**
     * A deferred completion's value or failure (see {@link #outcomeIsFailure}); a {@link Job} keeps
     * its function's outcome here too. One field for both keeps a queued offload small.
     */
    @Nullable Object outcome;
    /** Whether {@link #outcome} is the Throwable to fail with. */
    boolean outcomeIsFailure;

    // Intrusive links in scope's pending list; loop thread only.
    @Nullable LoopPromise<?> prevPending;
    @Nullable LoopPromise<?> nextPending;
    boolean armed;

    LoopPromise(EventLoop loop, @Nullable LoopTask task, CancelScope scope) {
        super(loop);
        this.task = task;
        this.scope = scope;
    }

    /** A promise in the loop's current task and scope. Loop thread only. */
    static <T> LoopPromise<T> here(EventLoop loop) {
        return new LoopPromise<>(loop, loop.frame.currentTask, loop.frame.currentScope);
    }

    /**
     * A checkpoint plus registration: fails the promise at once if the scope is already cancelled,
     * otherwise makes it cancellable by the scope. Loop thread only. Returns whether it is armed.
     */
    final boolean arm() {
        if (scope.cancelled) {
            if (PHASE.compareAndSet(this, PENDING, DONE)) {
                completeInContext(null, scope.newCancelledException());
            }
            return false;
        }
        scope.addPending(this);
        return true;
    }

    /** Stops the scope from cancelling this promise (a shielded wait). Loop thread only. */
    final void disarm() {
        if (armed) {
            scope.removePending(this);
        }
    }

    final boolean isPending() {
        return phase == PENDING;
    }

    /** Cancelled by the scope, with the completion queued on the loop. */
    final boolean isCancelling() {
        return phase == CANCELLED;
    }

    /** Called by the scope (loop thread) after unlinking this promise. */
    final void cancelFromScope(CancelledException e) {
        if (!PHASE.compareAndSet(this, PENDING, CANCELLED)) {
            return;
        }
        boolean accepted = true;
        try {
            accepted = onCancelled(e);
        } finally {
            if (accepted) {
                holdCancellation(e);
                loop.executeLocal(this);
            } else {
                phase = PENDING;
            }
        }
    }

    /**
     * Keeps the cancellation until the deferred completion runs. Nobody else writes the outcome of
     * a promise the scope cancelled, except a {@link Job}'s worker, so a Job overrides this.
     */
    void holdCancellation(CancelledException e) {
        outcome = e;
        outcomeIsFailure = true;
    }

    /**
     * Hook run on the loop thread when the scope cancels this promise, before it completes.
     * Returning false keeps the promise pending (a shielded wait that now ignores the scope).
     */
    boolean onCancelled(CancelledException e) {
        return true;
    }

    /** Resolves now, on the loop thread, in the promise's context. Returns false if already resolved. */
    final boolean settle(@Nullable T value, @Nullable Throwable error) {
        if (!PHASE.compareAndSet(this, PENDING, DONE)) {
            return false;
        }
        disarm();
        completeInContext(value, error);
        return true;
    }

    /**
     * Claims the outcome now (so a later cancellation cannot override it) and completes on the loop
     * soon. Any thread. Returns false if the promise was already resolved or cancelled.
     */
    final boolean settleSoon(@Nullable T value, @Nullable Throwable error) {
        if (!PHASE.compareAndSet(this, PENDING, RESOLVING)) {
            return false;
        }
        outcome = error != null ? error : value;
        outcomeIsFailure = error != null;
        try {
            loop.executeSoon(this);
        } catch (RejectedExecutionException stopped) {
            rejected(stopped);
        }
        return true;
    }

    /** Runs the deferred completion (after settleSoon or a cancellation) on the loop thread. */
    @Override
    @SuppressWarnings("unchecked")
    public void run() {
        disarm();
        phase = DONE;
        Object o = outcome;
        if (outcomeIsFailure) {
            completeInContext(null, (Throwable) o);
        } else {
            completeInContext((T) o, null);
        }
    }

    /** Completes a cancelled promise whose cancellation was not kept (see {@link Job}). Loop thread. */
    final void completeCancelled(CancelledException e) {
        disarm();
        phase = DONE;
        completeInContext(null, e);
    }

    /** As {@link #completeCancelled}, when the loop stopped before it could run the completion. */
    final void rejectedCancelled(CancelledException e) {
        phase = DONE;
        completeExceptionally(e);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void rejected(RejectedExecutionException e) {
        // The loop stopped before the completion could run on it: complete here, without context.
        phase = DONE;
        Object o = outcome;
        if (outcomeIsFailure) {
            completeExceptionally((Throwable) o);
        } else {
            complete((T) o);
        }
    }

    /** Resolves now, on any thread, without restoring a context. Returns false if already resolved. */
    final boolean settleWithoutContext(@Nullable T value, @Nullable Throwable error) {
        if (!PHASE.compareAndSet(this, PENDING, DONE)) {
            return false;
        }
        completeNow(value, error);
        return true;
    }

    /**
     * Completes on the loop thread in the promise's task and scope (without a context elsewhere).
     *
     * <p>Completions nest: a continuation of this promise may complete the next one (a cancel
     * scope's result when its body's stage completes, a task's result, an await), whose
     * continuation completes the next, and so on for as deep as async code nests. Past
     * {@link #MAX_NESTED_COMPLETIONS} levels on the loop's stack the completion is queued on the
     * frame's trampoline instead, which the outermost completion drains before it returns: any
     * depth of nesting runs in bounded stack, still within the same callback, and nothing is
     * dropped. The common, shallow case costs an increment and a decrement of a loop-only field.
     */
    final void completeInContext(@Nullable T value, @Nullable Throwable error) {
        EventLoop l = loop;
        if (!l.inEventLoop()) {
            completeNow(value, error);
            return;
        }
        LoopFrame f = l.frame;
        int depth = f.completionDepth;
        if (depth >= MAX_NESTED_COMPLETIONS) {
            f.defer(new Deferred(this, value, error));
            return;
        }
        f.completionDepth = depth + 1;
        try {
            completeEntered(l, value, error);
        } finally {
            f.completionDepth = depth;
            if (depth == 0 && f.deferredHead != null) {
                drainDeferred(l);
            }
        }
    }

    private void completeEntered(EventLoop l, @Nullable T value, @Nullable Throwable error) {
        LoopTask prevTask = l.frame.currentTask;
        CancelScope prevScope = l.frame.currentScope;
        ContextSnapshot.Scope threadLocals;
        try {
            if (l.enterKeepingContext(task, scope)) {
                completeNow(value, error); // the callback ends here; the loop resets its task and scope
                return;
            }
            threadLocals = l.enter(task, scope);
        } catch (Throwable t) {
            // The task's context could not be applied (a context accessor threw): the outcome cannot
            // be delivered where it belongs, so the promise fails with why, instead of never completing.
            if (isDone()) {
                throw t;
            }
            l.frame.currentTask = prevTask;
            l.frame.currentScope = prevScope;
            if (error != null && error != t) {
                t.addSuppressed(error);
            }
            completeNow(null, t);
            return;
        }
        try {
            completeNow(value, error);
        } finally {
            l.leave(task, threadLocals, prevTask, prevScope);
        }
    }

    /**
     * Runs the completions queued past the nesting limit, oldest first, each as the outermost one
     * (those it nests queue behind it). A failure of one is reported to the loop's uncaught
     * handler and the rest still run. Loop thread only.
     */
    private static void drainDeferred(EventLoop l) {
        LoopFrame f = l.frame;
        f.completionDepth = 1;
        try {
            Deferred d;
            while ((d = f.deferredHead) != null) {
                f.deferredHead = d.next;
                if (d.next == null) {
                    f.deferredTail = null;
                }
                d.next = null;
                try {
                    d.complete(l);
                } catch (Throwable t) {
                    l.reportUncaught(t);
                }
            }
        } finally {
            f.completionDepth = 0;
        }
    }

    /** A completion waiting on the loop frame's trampoline; made only past the nesting limit. */
    static final class Deferred {
        private final LoopPromise<Object> promise;
        private final @Nullable Object value;
        private final @Nullable Throwable error;
        @Nullable Deferred next;

        @SuppressWarnings("unchecked")
        Deferred(LoopPromise<?> promise, @Nullable Object value, @Nullable Throwable error) {
            this.promise = (LoopPromise<Object>) promise;
            this.value = value;
            this.error = error;
        }

        void complete(EventLoop l) {
            promise.completeEntered(l, value, error);
        }
    }

    private void completeNow(@Nullable T value, @Nullable Throwable error) {
        if (error == null) {
            complete(value);
        } else {
            completeExceptionally(error);
        }
    }

    // ---- whenComplete without a completion node ----

    @Override
    public CompletableFuture<T> whenComplete(BiConsumer<? super T, ? super Throwable> action) {
        WhenComplete<T> next = new WhenComplete<>(loop, Objects.requireNonNull(action, "action must not be null"));
        Object head;
        do {
            head = listeners;
            if (head == SETTLED) {
                notifyNow(next);
                return next;
            }
            next.next = castListener(head);
        } while (!LISTENERS.compareAndSet(this, head, next));
        if (isDone()) {
            // Completed by a path that does not notify (none is known): run the stack now.
            notifyListeners();
        }
        return next;
    }

    @Override
    public boolean complete(@Nullable T value) {
        if (!super.complete(value)) {
            return false;
        }
        runListeners(value, null);
        return true;
    }

    @Override
    public boolean completeExceptionally(Throwable failure) {
        if (!super.completeExceptionally(failure)) {
            return false;
        }
        runListeners(null, failure);
        return true;
    }

    /**
     * Cancels what this stage waits for, by the rules of its kind, on the loop thread: the wait
     * ends as its scope's cancellation would end it (a sleep frees its timer, an event wait or a
     * limiter wait leaves its queue, a {@link Job} is withdrawn, abandoned or interrupted by its
     * {@link CancelMode}), and the stage completes at once with a {@link CancellationException}.
     * Returns false if the stage had completed, or if it refuses (a shielded offload that is
     * running: see {@link Job#onCancelled}); true if it is cancelled, or being cancelled by its
     * scope this turn. {@code mayInterruptIfRunning} is ignored, as {@code CompletableFuture}
     * ignores it: the cancel mode decides.
     *
     * @throws UnsupportedOperationException for a stage that stands for a task or a scope's body
     *         ({@link CancelScope#run}, {@link TaskGroup#open}, {@link TaskGroup#startSoon}, ...):
     *         cancel the scope
     * @throws IllegalStateException off the loop thread while the stage is pending: its
     *         cancellation touches loop-confined state, and its dependents must run on the loop
     */
    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
        if (isDone()) {
            return isCancelled();
        }
        int p = phase;
        if (p != PENDING) {
            // Decided already: cancelled by its scope with the completion queued, or resolving normally.
            return p == CANCELLED;
        }
        if (!cancellableByStage()) {
            throw new UnsupportedOperationException("this stage stands for async code (a task, or the body of a "
                    + "scope) that cancel() on its stage cannot stop: cancel its cancel scope instead "
                    + "(CancelScope.cancel() for CancelScope.run; TaskGroup.cancelScope().cancel() for TaskGroup.open "
                    + "and startSoon, or run the task's body in a CancelScope of its own and cancel that; stop(true) "
                    + "for BlockingPortal.open)");
        }
        EventLoop l = loop;
        if (!l.inEventLoop()) {
            throw new IllegalStateException("cancel() on a stage of event loop " + l.name() + " must be called on "
                    + "that loop's thread (current thread: " + Thread.currentThread().getName() + "): the "
                    + "cancellation changes loop-confined state and the stage's dependents run on the loop. From "
                    + "another thread cancel the caller's CancelScope (CancelScope.cancel() may be called from any "
                    + "thread), or start the work through a BlockingPortal, whose futures may be cancelled anywhere");
        }
        if (!PHASE.compareAndSet(this, PENDING, CANCELLED)) {
            p = phase; // a resolver on another thread got there first
            return p == CANCELLED || isCancelled();
        }
        boolean accepted = false;
        try {
            accepted = onCancelled(STAGE_CANCELLED);
        } finally {
            if (!accepted) {
                phase = PENDING;
            }
        }
        if (!accepted) {
            return false;
        }
        disarm();
        phase = DONE;
        completeInContext(null, new CancellationException()); // as CompletableFuture.cancel makes it
        return true;
    }

    /**
     * Whether {@link #cancel} may end this stage: true for the awaitables that undo their wait in
     * {@link #onCancelled}; false (cancel refuses) for the stages of tasks and scope bodies, which
     * only their scope can stop.
     */
    boolean cancellableByStage() {
        return false;
    }

    @Override
    public void obtrudeValue(@Nullable T value) {
        super.obtrudeValue(value);
        notifyListeners();
    }

    @Override
    public void obtrudeException(Throwable failure) {
        super.obtrudeException(failure);
        notifyListeners();
    }

    @Override
    public CompletableFuture<T> completeAsync(Supplier<? extends T> supplier, Executor executor) {
        Objects.requireNonNull(supplier, "supplier must not be null");
        Objects.requireNonNull(executor, "executor must not be null");
        executor.execute(() -> {
            if (isDone()) {
                return;
            }
            try {
                complete(supplier.get());
            } catch (Throwable t) {
                completeExceptionally(t instanceof CompletionException ? t : new CompletionException(t));
            }
        });
        return this;
    }

    @Override
    public CompletableFuture<T> completeAsync(Supplier<? extends T> supplier) {
        return completeAsync(supplier, defaultExecutor());
    }

    /** Runs the listener stack once with the promise's current outcome. */
    private void notifyListeners() {
        if (listeners == SETTLED || !isDone()) {
            return;
        }
        handle((value, failure) -> {
            runListeners(value, failure);
            return null;
        });
    }

    private void notifyNow(WhenComplete<T> listener) {
        if (!isCompletedExceptionally()) {
            listener.settled(getNow(null), null);
            return;
        }
        handle((value, failure) -> {
            listener.settled(value, failure);
            return null;
        });
    }

    private void runListeners(@Nullable T value, @Nullable Throwable failure) {
        Object head = LISTENERS.getAndSet(this, SETTLED);
        if (head == null || head == SETTLED) {
            return;
        }
        // The stack is newest first: reverse it so listeners run in the order they were added.
        WhenComplete<T> ordered = null;
        WhenComplete<T> node = castListener(head);
        while (node != null) {
            WhenComplete<T> older = node.next;
            node.next = ordered;
            ordered = node;
            node = older;
        }
        while (ordered != null) {
            WhenComplete<T> later = ordered.next;
            ordered.next = null;
            try {
                ordered.settled(value, failure);
            } catch (Throwable t) {
                // settled() fails its own stage with the action's exception; what escapes it (an
                // Error completing that stage) must not cost the listeners after it their turn.
                loop.reportUncaught(t);
            }
            ordered = later;
        }
    }

    @SuppressWarnings("unchecked")
    private static <T> @Nullable WhenComplete<T> castListener(@Nullable Object head) {
        return (WhenComplete<T>) head;
    }

    /**
     * A {@code whenComplete} action and the stage it returns, in one object. It behaves as
     * {@code CompletableFuture.whenComplete} specifies: the action sees the promise's own value or
     * exception; the stage completes with the same outcome (a failure wrapped in a
     * {@link CompletionException}, as every dependent stage's is), or with the action's exception if
     * only the action failed; if both failed, the action's exception is added as suppressed.
     */
    static final class WhenComplete<T> extends LoopStage<T> {
        private final BiConsumer<? super T, ? super Throwable> action;
        @Nullable WhenComplete<T> next;

        WhenComplete(EventLoop loop, BiConsumer<? super T, ? super Throwable> action) {
            super(loop);
            this.action = action;
        }

        void settled(@Nullable T value, @Nullable Throwable failure) {
            Throwable outcome = failure;
            try {
                action.accept(value, failure);
            } catch (Throwable t) {
                if (outcome == null) {
                    outcome = t;
                } else if (outcome != t) {
                    outcome.addSuppressed(t);
                }
            }
            if (outcome == null) {
                super.complete(value);
            } else {
                super.completeExceptionally(outcome instanceof CompletionException ? outcome
                        : new CompletionException(outcome));
            }
        }
    }
}
