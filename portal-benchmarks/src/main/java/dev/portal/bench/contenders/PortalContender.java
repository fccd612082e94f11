package dev.portal.bench.contenders;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;

import dev.portal.BlockingPortal;
import dev.portal.CancelMode;
import dev.portal.CancelScope;
import dev.portal.CancelledException;
import dev.portal.EventLoop;
import dev.portal.ToThread;
import dev.portal.bench.CancelTrial;
import dev.portal.bench.Contender;

/**
 * Portal with default settings: a {@link BlockingPortal} on its own loop (40 tokens in the
 * default limiter); loop code runs as portal tasks and offloads with {@link ToThread#runSync}.
 * Cancellation is a {@link CancelScope} around a {@link CancelMode#ABANDON} or
 * {@link CancelMode#INTERRUPT} call.
 */
public final class PortalContender implements Contender {

    private final BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("portal-loop").daemon(true));

    @Override
    public String name() {
        return "portal";
    }

    @Override
    public CompletableFuture<Integer> sequentialOffloads(int n) {
        return portal.startTaskSoon(() -> {
            CompletableFuture<Integer> done = new CompletableFuture<>();
            step(n, n, done);
            return done;
        });
    }

    private static void step(int total, int left, CompletableFuture<Integer> done) {
        ToThread.runSync(TRIVIAL).whenComplete((v, e) -> {
            if (e != null) {
                done.completeExceptionally(e);
            } else if (left == 1) {
                done.complete(total);
            } else {
                step(total, left - 1, done);
            }
        });
    }

    @Override
    public CompletableFuture<Void> startOffloads(int n, Callable<Integer> fn, Runnable onResult) {
        CompletableFuture<Void> started = new CompletableFuture<>();
        // The task lives until every result is in, as structured loop code would.
        portal.startTaskSoon(() -> {
            Countdown continuation = new Countdown(n, onResult);
            for (int i = 0; i < n; i++) {
                ToThread.runSync(fn).whenComplete(continuation);
            }
            started.complete(null);
            return continuation.allDone;
        });
        return started;
    }

    /** One continuation for n offloads: runs onResult for each and completes allDone after the last. */
    private static final class Countdown implements BiConsumer<Integer, Throwable> {
        final CompletableFuture<Void> allDone = new CompletableFuture<>();
        private final Runnable onResult;
        private int left;

        Countdown(int n, Runnable onResult) {
            this.left = n;
            this.onResult = onResult;
            if (n == 0) {
                allDone.complete(null);
            }
        }

        @Override
        public void accept(Integer value, Throwable error) {
            onResult.run();
            if (--left == 0) {
                allDone.complete(null);
            }
        }
    }

    @Override
    public int callOnLoop(int x) throws Exception {
        return portal.call(() -> CompletableFuture.completedFuture(x + 1));
    }

    @Override
    public Object startTaskSoon(int x) {
        return portal.startTaskSoon(() -> CompletableFuture.completedFuture(x + 1));
    }

    @Override
    @SuppressWarnings("unchecked")
    public int awaitTask(Object handle) throws Exception {
        return ((CompletableFuture<Integer>) handle).get();
    }

    @Override
    public CancelTrial startCancellable(boolean interrupt) {
        CancelTrial trial = new CancelTrial();
        CancelScope scope = CancelScope.create();
        trial.canceller(scope::cancel);
        CancelMode mode = interrupt ? CancelMode.INTERRUPT : CancelMode.ABANDON;
        portal.startTaskSoon(() -> scope.run(() -> ToThread.runSync(trial.function(), mode).whenComplete((v, e) -> {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof CancelledException) {
                trial.observe();
            }
        })));
        return trial;
    }

    @Override
    public boolean inLoop() {
        return portal.eventLoop().inEventLoop();
    }

    @Override
    public boolean supportsInterrupt() {
        return true;
    }

    @Override
    public void close() {
        portal.close();
    }
}
