package dev.portal.bench.contenders;

import java.util.concurrent.CancellationException;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Supplier;

import dev.portal.bench.CancelTrial;
import dev.portal.bench.Contender;

/**
 * The JDK floor: what a careful engineer builds by hand with no library. A single-thread executor
 * is the loop, a {@link ThreadPoolExecutor} of 40 threads (unbounded queue) the workers, and
 * {@link CompletableFuture} the glue: {@code supplyAsync(fn, workers).whenCompleteAsync(cb, loop)}.
 * Cancellation is {@code CompletableFuture.cancel} (abandon) or {@code FutureTask.cancel(true)}
 * (interrupt).
 */
public final class JdkContender implements Contender {

    private static final Supplier<Integer> TRIVIAL_SUPPLIER = () -> 1;

    private final ThreadPoolExecutor loop = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new LinkedBlockingQueue<>(), Callables.daemonThreads("jdk-loop-"));
    private final ThreadPoolExecutor workers = new ThreadPoolExecutor(WORKERS, WORKERS, 10, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), Callables.daemonThreads("jdk-worker-"));

    public JdkContender() {
        workers.allowCoreThreadTimeOut(true);
    }

    @Override
    public String name() {
        return "jdk";
    }

    @Override
    public CompletableFuture<Integer> sequentialOffloads(int n) {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        loop.execute(() -> step(n, n, done));
        return done;
    }

    private void step(int total, int left, CompletableFuture<Integer> done) {
        CompletableFuture.supplyAsync(TRIVIAL_SUPPLIER, workers).whenCompleteAsync((v, e) -> {
            if (e != null) {
                done.completeExceptionally(e);
            } else if (left == 1) {
                done.complete(total);
            } else {
                step(total, left - 1, done);
            }
        }, loop);
    }

    @Override
    public CompletableFuture<Void> startOffloads(int n, Callable<Integer> fn, Runnable onResult) {
        CompletableFuture<Void> started = new CompletableFuture<>();
        loop.execute(() -> {
            Supplier<Integer> supplier = Callables.supplier(fn);
            BiConsumer<Integer, Throwable> continuation = (v, e) -> onResult.run();
            for (int i = 0; i < n; i++) {
                CompletableFuture.supplyAsync(supplier, workers).whenCompleteAsync(continuation, loop);
            }
            started.complete(null);
        });
        return started;
    }

    @Override
    public int callOnLoop(int x) throws Exception {
        return CompletableFuture.supplyAsync(() -> x + 1, loop).get();
    }

    @Override
    public Object startTaskSoon(int x) {
        return CompletableFuture.supplyAsync(() -> x + 1, loop);
    }

    @Override
    @SuppressWarnings("unchecked")
    public int awaitTask(Object handle) throws Exception {
        return ((CompletableFuture<Integer>) handle).get();
    }

    @Override
    public long awaitAll(Object[] handles) {
        return Callables.allOfSum(handles);
    }

    @Override
    public CancelTrial startCancellable(boolean interrupt) {
        CancelTrial trial = new CancelTrial();
        Future<?>[] awaited = new Future<?>[1];
        // The cancel runs on the loop after the callback below (the loop is FIFO), so it sees awaited[0].
        trial.canceller(loop, () -> awaited[0].cancel(interrupt));
        loop.execute(() -> {
            if (interrupt) {
                awaited[0] = workers.submit(trial.function());
            } else {
                CompletableFuture<Integer> cf = CompletableFuture.supplyAsync(Callables.supplier(trial.function()),
                        workers);
                cf.whenCompleteAsync((v, e) -> {
                    if (e instanceof CancellationException) {
                        trial.observe();
                    }
                }, loop);
                awaited[0] = cf;
            }
        });
        return trial;
    }

    @Override
    public boolean inLoop() {
        return Thread.currentThread().getName().startsWith("jdk-loop-");
    }

    @Override
    public boolean supportsInterrupt() {
        return true;
    }

    @Override
    public void close() {
        loop.shutdownNow();
        workers.shutdownNow();
        try {
            loop.awaitTermination(10, TimeUnit.SECONDS);
            workers.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
