package dev.portal.bench;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

import org.jspecify.annotations.Nullable;

/**
 * One cancellation of one offloaded call (operation e). The offloaded function blocks until it is
 * interrupted or released; the loop code awaiting it reports when it sees the cancellation.
 *
 * <p>Timeline: the contender starts the offload and the function completes {@link #running};
 * {@link #cancel()} hops to the loop, where loop code reads the clock and cancels (as a user's loop
 * code would, say on a timeout or a client's disconnect); the awaiting loop code completes
 * {@link #observed}; an interrupted worker completes {@link #interrupted}; {@link #release()} lets
 * a worker that was not interrupted return, and {@link #finished} completes once the function has
 * returned.
 *
 * <p>The times that count are taken where the user's code runs: from the clock reading on the loop
 * just before the cancel to the one where the awaiting loop code sees it ({@link #observedNanos()})
 * or where the interrupted worker sees it ({@link #interruptedNanos()}). The hop from the
 * benchmark thread onto the loop, and any wake-up of a parked loop it costs, are not part of it.
 */
public final class CancelTrial {

    public final CompletableFuture<Void> running = new CompletableFuture<>();
    public final CompletableFuture<Void> observed = new CompletableFuture<>();
    public final CompletableFuture<Void> interrupted = new CompletableFuture<>();
    public final CompletableFuture<Void> finished = new CompletableFuture<>();
    private final CountDownLatch release = new CountDownLatch(1);
    private volatile @Nullable Executor loop;
    private volatile Runnable cancelOnLoop = () -> {
        throw new IllegalStateException("the contender did not set a canceller");
    };
    private volatile long cancelledAt;
    private volatile long observedAt;
    private volatile long interruptedAt;

    private final Callable<Integer> function = () -> {
        running.complete(null);
        try {
            if (!release.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("cancellation trial never released");
            }
            return 0;
        } catch (InterruptedException e) {
            interruptedAt = System.nanoTime();
            interrupted.complete(null);
            return -1;
        } finally {
            finished.complete(null);
        }
    };

    /** The blocking function to offload. */
    public Callable<Integer> function() {
        return function;
    }

    /**
     * Set by the contender: {@code loop} runs a command on the contender's loop thread, and
     * {@code cancelOnLoop}, run there, cancels the awaiting code with the contender's own idiom.
     */
    public void canceller(Executor loop, Runnable cancelOnLoop) {
        this.cancelOnLoop = cancelOnLoop;
        this.loop = loop;
    }

    /** Called by the awaiting loop code when it sees the cancellation. */
    public void observe() {
        if (observedAt == 0) {
            observedAt = System.nanoTime();
        }
        observed.complete(null);
    }

    /** Asks the loop to cancel (loop code reads the clock, then cancels); returns at once. */
    public void cancel() {
        Executor l = loop;
        if (l == null) {
            throw new IllegalStateException("the contender did not set a canceller");
        }
        l.execute(() -> {
            cancelledAt = System.nanoTime();
            cancelOnLoop.run();
        });
    }

    /** Nanoseconds from the cancel on the loop to the awaiting loop code seeing it; after {@link #observed}. */
    public long observedNanos() {
        return elapsed(observedAt, observed, "observed");
    }

    /** Nanoseconds from the cancel on the loop to the worker seeing its interrupt; after {@link #interrupted}. */
    public long interruptedNanos() {
        return elapsed(interruptedAt, interrupted, "interrupted");
    }

    private long elapsed(long at, CompletableFuture<Void> event, String what) {
        if (!event.isDone() || cancelledAt == 0) {
            throw new IllegalStateException("the trial was not cancelled and " + what + " yet");
        }
        return at - cancelledAt;
    }

    /** Lets a worker that was not interrupted return. */
    public void release() {
        release.countDown();
    }
}
