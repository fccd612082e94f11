package dev.portal.bench.contenders;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.portal.bench.CancelTrial;
import dev.portal.bench.Contender;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;

/**
 * Vert.x 5: one event-loop {@link Context} is the loop, a worker pool of 40 threads the workers.
 * Loop code offloads with {@code context.executeBlocking(fn, false)}: unordered, because the
 * default ({@code ordered = true}) would run the calls on one context one at a time. External
 * threads use {@code runOnContext} plus a {@link Promise}, awaited with {@code Future.await()}.
 * Vert.x has no per-call cancellation: the benchmark abandons a call by failing a promise that
 * races the worker's result, and cannot interrupt one.
 */
public final class VertxContender implements Contender {

    private final Vertx vertx = Vertx.vertx(new VertxOptions()
            .setEventLoopPoolSize(1)
            .setWorkerPoolSize(WORKERS)
            .setMaxWorkerExecuteTime(5)
            .setMaxWorkerExecuteTimeUnit(TimeUnit.MINUTES));
    private final Context context = vertx.getOrCreateContext();

    public VertxContender() {
        if (!context.isEventLoopContext()) {
            throw new IllegalStateException("expected an event-loop context, got " + context);
        }
    }

    @Override
    public String name() {
        return "vertx";
    }

    @Override
    public CompletableFuture<Integer> sequentialOffloads(int n) {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        context.runOnContext(v -> step(n, n, done));
        return done;
    }

    private void step(int total, int left, CompletableFuture<Integer> done) {
        context.executeBlocking(TRIVIAL, false).onComplete(ar -> {
            if (ar.failed()) {
                done.completeExceptionally(ar.cause());
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
        context.runOnContext(v -> {
            Handler<AsyncResult<Integer>> continuation = ar -> onResult.run();
            for (int i = 0; i < n; i++) {
                context.executeBlocking(fn, false).onComplete(continuation);
            }
            started.complete(null);
        });
        return started;
    }

    @Override
    public int callOnLoop(int x) {
        Promise<Integer> promise = Promise.promise();
        context.runOnContext(v -> promise.complete(x + 1));
        return promise.future().await();
    }

    @Override
    public Object startTaskSoon(int x) {
        Promise<Integer> promise = Promise.promise();
        context.runOnContext(v -> promise.complete(x + 1));
        return promise.future();
    }

    @Override
    @SuppressWarnings("unchecked")
    public int awaitTask(Object handle) {
        return ((Future<Integer>) handle).await();
    }

    @Override
    @SuppressWarnings("unchecked")
    public long awaitAll(Object[] handles) {
        List<Future<Integer>> futures = new ArrayList<>(handles.length);
        for (Object h : handles) {
            futures.add((Future<Integer>) h);
        }
        Future.all(futures).await();
        long sum = 0;
        for (Future<Integer> f : futures) {
            sum += f.result();
        }
        return sum;
    }

    @Override
    public CancelTrial startCancellable(boolean interrupt) {
        if (interrupt) {
            throw new UnsupportedOperationException("Vert.x cannot interrupt one executeBlocking call");
        }
        CancelTrial trial = new CancelTrial();
        @SuppressWarnings("unchecked")
        Promise<Integer>[] awaited = new Promise[1];
        trial.canceller(r -> context.runOnContext(v -> r.run()),
                () -> awaited[0].tryFail(new CancellationException()));
        context.runOnContext(v -> {
            Promise<Integer> promise = Promise.promise();
            awaited[0] = promise;
            context.executeBlocking(trial.function(), false).onComplete(ar -> {
                if (ar.succeeded()) {
                    promise.tryComplete(ar.result());
                } else {
                    promise.tryFail(ar.cause());
                }
            });
            promise.future().onFailure(e -> {
                if (e instanceof CancellationException) {
                    trial.observe();
                }
            });
        });
        return trial;
    }

    @Override
    public boolean inLoop() {
        return Context.isOnEventLoopThread() && Vertx.currentContext() == context;
    }

    @Override
    public boolean supportsInterrupt() {
        return false;
    }

    @Override
    public void close() {
        try {
            vertx.close().await(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("Vert.x did not close within 30 s", e);
        }
    }
}
