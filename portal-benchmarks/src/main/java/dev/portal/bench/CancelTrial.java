package dev.portal.bench;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One cancellation of one offloaded call (operation e). The offloaded function blocks until it is
 * interrupted or released; the loop code awaiting it reports when it sees the cancellation.
 *
 * <p>Timeline: the contender starts the offload and the function completes {@link #running};
 * {@link #cancel()} asks the loop to cancel; the awaiting loop code completes {@link #observed};
 * an interrupted worker completes {@link #interrupted}; {@link #release()} lets a worker that was
 * not interrupted return, and {@link #finished} completes once the function has returned.
 */
public final class CancelTrial {

    public final CompletableFuture<Void> running = new CompletableFuture<>();
    public final CompletableFuture<Void> observed = new CompletableFuture<>();
    public final CompletableFuture<Void> interrupted = new CompletableFuture<>();
    public final CompletableFuture<Void> finished = new CompletableFuture<>();
    private final CountDownLatch release = new CountDownLatch(1);
    private volatile Runnable canceller = () -> {
        throw new IllegalStateException("the contender did not set a canceller");
    };

    private final Callable<Integer> function = () -> {
        running.complete(null);
        try {
            if (!release.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("cancellation trial never released");
            }
            return 0;
        } catch (InterruptedException e) {
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

    /** Set by the contender: hops to the loop and cancels the awaiting code there. */
    public void canceller(Runnable canceller) {
        this.canceller = canceller;
    }

    /** Called by the awaiting loop code when it sees the cancellation. */
    public void observe() {
        observed.complete(null);
    }

    /** Asks the loop to cancel; returns at once. */
    public void cancel() {
        canceller.run();
    }

    /** Lets a worker that was not interrupted return. */
    public void release() {
        release.countDown();
    }
}
