package dev.portal.bench.contenders;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

import dev.portal.bench.CancelTrial;
import dev.portal.bench.Contender;

import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Reactor 3.8: a {@code Schedulers.newSingle} scheduler is the loop and
 * {@code Schedulers.newBoundedElastic(40, ...)} the workers. Loop code offloads with
 * {@code Mono.fromCallable(fn).subscribeOn(workers).publishOn(loop)}; external threads use
 * {@code subscribeOn(loop)} plus {@code block()} or {@code toFuture()}. Cancellation is
 * {@code Disposable.dispose()}, which always interrupts a running worker; the awaiting code hears
 * of it through {@code doOnCancel}.
 */
public final class ReactorContender implements Contender {

    private final Scheduler loop = Schedulers.newSingle("reactor-loop", true);
    private final Scheduler workers = Schedulers.newBoundedElastic(WORKERS, Integer.MAX_VALUE, "reactor-worker", 10,
            true);

    @Override
    public String name() {
        return "reactor";
    }

    @Override
    public CompletableFuture<Integer> sequentialOffloads(int n) {
        CompletableFuture<Integer> done = new CompletableFuture<>();
        loop.schedule(() -> step(n, n, done));
        return done;
    }

    private void step(int total, int left, CompletableFuture<Integer> done) {
        Mono.fromCallable(TRIVIAL).subscribeOn(workers).publishOn(loop).subscribe(v -> {
            if (left == 1) {
                done.complete(total);
            } else {
                step(total, left - 1, done);
            }
        }, done::completeExceptionally);
    }

    @Override
    public CompletableFuture<Void> startOffloads(int n, Callable<Integer> fn, Runnable onResult) {
        CompletableFuture<Void> started = new CompletableFuture<>();
        loop.schedule(() -> {
            Consumer<Integer> onValue = v -> onResult.run();
            Consumer<Throwable> onError = e -> onResult.run();
            for (int i = 0; i < n; i++) {
                Mono.fromCallable(fn).subscribeOn(workers).publishOn(loop).subscribe(onValue, onError);
            }
            started.complete(null);
        });
        return started;
    }

    @Override
    public int callOnLoop(int x) {
        Integer value = Mono.fromCallable(() -> x + 1).subscribeOn(loop).block();
        if (value == null) {
            throw new IllegalStateException("the loop returned no value");
        }
        return value;
    }

    @Override
    public Object startTaskSoon(int x) {
        return Mono.fromCallable(() -> x + 1).subscribeOn(loop).toFuture();
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
        // Reactor has one cancellation: dispose, which interrupts the worker either way.
        CancelTrial trial = new CancelTrial();
        Disposable[] awaited = new Disposable[1];
        trial.canceller(loop::schedule, () -> awaited[0].dispose());
        loop.schedule(() -> awaited[0] = Mono.fromCallable(trial.function()).subscribeOn(workers).publishOn(loop)
                .doOnCancel(trial::observe).subscribe());
        return trial;
    }

    @Override
    public boolean inLoop() {
        return Thread.currentThread().getName().startsWith("reactor-loop-");
    }

    @Override
    public boolean supportsInterrupt() {
        return true;
    }

    @Override
    public void close() {
        workers.dispose();
        loop.dispose();
    }
}
