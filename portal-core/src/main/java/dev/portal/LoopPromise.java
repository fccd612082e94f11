package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.RejectedExecutionException;

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
 */
class LoopPromise<T> extends LoopStage<T> implements Runnable, LoopRejectable {

    static final int PENDING = 0;
    static final int RESOLVING = 1;
    static final int CANCELLED = 2;
    static final int DONE = 3;

    private static final VarHandle PHASE;

    static {
        try {
            PHASE = MethodHandles.lookup().findVarHandle(LoopPromise.class, "phase", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final @Nullable LoopTask task;
    final CancelScope scope;
    private volatile int phase;
    private @Nullable Object outcome;
    private @Nullable Throwable failure;

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
        return new LoopPromise<>(loop, loop.currentTask, loop.currentScope);
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
                failure = e;
                loop.executeLocal(this);
            } else {
                phase = PENDING;
            }
        }
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
        outcome = value;
        failure = error;
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
        Throwable f = failure;
        completeInContext(f == null ? (T) outcome : null, f);
    }

    @Override
    @SuppressWarnings("unchecked")
    public void rejected(RejectedExecutionException e) {
        // The loop stopped before the completion could run on it: complete here, without context.
        phase = DONE;
        Throwable f = failure;
        if (f == null) {
            complete((T) outcome);
        } else {
            completeExceptionally(f);
        }
    }

    /** Resolves now, on any thread, without restoring a context. Returns false if already resolved. */
    final boolean settleWithoutContext(@Nullable T value, @Nullable Throwable error) {
        if (!PHASE.compareAndSet(this, PENDING, DONE)) {
            return false;
        }
        if (error == null) {
            complete(value);
        } else {
            completeExceptionally(error);
        }
        return true;
    }

    final void completeInContext(@Nullable T value, @Nullable Throwable error) {
        EventLoop l = loop;
        if (!l.inEventLoop()) {
            if (error == null) {
                complete(value);
            } else {
                completeExceptionally(error);
            }
            return;
        }
        LoopTask prevTask = l.currentTask;
        CancelScope prevScope = l.currentScope;
        ContextSnapshot.Scope threadLocals = l.enter(task, scope);
        try {
            if (error == null) {
                complete(value);
            } else {
                completeExceptionally(error);
            }
        } finally {
            l.leave(task, threadLocals, prevTask, prevScope);
        }
    }
}
