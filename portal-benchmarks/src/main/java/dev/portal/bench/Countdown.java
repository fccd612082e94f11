package dev.portal.bench;

import java.util.concurrent.CompletableFuture;

/**
 * Counts results on the loop thread (the only thread that runs it) and completes {@link #done}
 * after the last one.
 */
public final class Countdown implements Runnable {

    public final CompletableFuture<Void> done = new CompletableFuture<>();
    private int left;

    public Countdown(int n) {
        this.left = n;
        if (n == 0) {
            done.complete(null);
        }
    }

    @Override
    public void run() {
        if (--left == 0) {
            done.complete(null);
        }
    }
}
