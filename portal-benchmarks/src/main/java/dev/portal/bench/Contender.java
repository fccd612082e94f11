package dev.portal.bench;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * One system under test: a single loop thread plus 40 worker threads (or tokens), driven through
 * the operations that the benchmarks measure. Every implementation uses its system's own idiom for
 * each operation and documents where the system has none and the benchmark builds one by hand.
 *
 * <p>Methods that say "loop code" hop onto the contender's loop first and do the work there; their
 * futures complete on the loop once the loop code has seen every result.
 */
public interface Contender extends AutoCloseable {

    /** Worker threads, or tokens of the worker limiter, of every contender. */
    int WORKERS = 40;

    /** The function every offload runs unless told otherwise: no blocking, so only the machinery costs. */
    Callable<Integer> TRIVIAL = () -> 1;

    /** {@code jdk}, {@code portal}, {@code vertx} or {@code reactor}. */
    String name();

    /**
     * (a) Loop code offloads {@link #TRIVIAL} {@code n} times, one after another: each offload
     * starts when the previous result is back on the loop. Completes with the number of results.
     */
    CompletableFuture<Integer> sequentialOffloads(int n);

    /**
     * (b, g) Loop code starts {@code n} offloads of {@code fn} at once; at most {@link #WORKERS} run
     * at a time and the rest queue. {@code onResult} runs on the loop for each result (it is the
     * one continuation object shared by all n). The returned future completes, on the loop, as
     * soon as the loop code has started all n (not when they finish).
     */
    CompletableFuture<Void> startOffloads(int n, Callable<Integer> fn, Runnable onResult);

    /** (c) Blocks the calling (non-loop) thread while loop code computes {@code x + 1}. */
    int callOnLoop(int x) throws Exception;

    /** (d) Starts a task on the loop that returns {@code x + 1}; await it with {@link #awaitTask}. */
    Object startTaskSoon(int x);

    /** (d) Blocks until a task started by {@link #startTaskSoon} has finished; returns its value. */
    int awaitTask(Object handle) throws Exception;

    /**
     * (d) Blocks until every task started by {@link #startTaskSoon} has finished, waiting for all
     * at once with the system's own idiom ({@code CompletableFuture.allOf(...).join()}; Vert.x:
     * {@code Future.all(...).await()}); returns the sum of their values.
     */
    long awaitAll(Object[] handles) throws Exception;

    /**
     * (e) Loop code offloads {@link CancelTrial#function()}, awaiting it in a way that can be
     * cancelled: abandoning it ({@code interrupt} false) or interrupting the worker ({@code true}).
     * The trial's {@link CancelTrial#cancel()} asks the loop to cancel.
     *
     * @throws UnsupportedOperationException if the system cannot interrupt one offloaded call
     */
    CancelTrial startCancellable(boolean interrupt);

    /** Whether the calling thread is this contender's loop thread. */
    boolean inLoop();

    /** Whether {@link #startCancellable}(true) is supported. */
    boolean supportsInterrupt();

    /** Stops the loop and the workers and waits for them. */
    @Override
    void close();
}
