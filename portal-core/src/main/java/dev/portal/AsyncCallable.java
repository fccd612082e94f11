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
 * <p>The returned stage may be of any {@code CompletionStage} type, the JDK's
 * {@link java.util.concurrent.CompletableFuture#minimalCompletionStage() minimal stage} included:
 * Portal only asks it to call back ({@code whenComplete}). A stage whose {@code whenComplete}
 * throws fails the task with an {@link IllegalStateException} naming its class; a null stage fails
 * it with a {@link NullPointerException}.
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
