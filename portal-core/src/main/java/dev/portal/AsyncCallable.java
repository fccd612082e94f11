package dev.portal;

import java.util.concurrent.CompletionStage;

/**
 * Async code: a function that runs on an event loop thread, must not block, and returns a stage
 * that completes with its result. AnyIO's {@code async def}.
 *
 * <pre>{@code
 * AsyncCallable<String> fetch = () -> ToThread.runSync(() -> jdbc.queryForName(id));
 * }</pre>
 *
 * <p>Stages that Portal hands to this code ({@link Async#sleep}, {@link ToThread#runSync},
 * {@link Event#await()}, ...) complete on the loop thread, so continuations attached to them without
 * an executor run on the loop too, in the same task and cancel scope. Foreign stages (an HTTP
 * client's, a Reactor {@code Mono.toFuture()}) must be brought onto the loop with
 * {@link Async#await(CompletionStage)}.
 *
 * @param <T> the result type
 */
@FunctionalInterface
public interface AsyncCallable<T> {

    /**
     * Starts the work on the event loop thread.
     *
     * @return a stage that completes with the result; never null
     * @throws Exception a failure to start, reported exactly as if the stage had failed with it
     */
    CompletionStage<T> call() throws Exception;
}
