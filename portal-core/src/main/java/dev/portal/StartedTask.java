package dev.portal;

import java.util.concurrent.CompletableFuture;

import org.jspecify.annotations.Nullable;

/**
 * A task started with {@link BlockingPortal#startTask}: the value it reported with
 * {@link TaskStatus#started(Object)} and the future of its result. Immutable; any thread may use
 * it. {@code future().get()} blocks the caller; {@code future().cancel(..)} cancels the task on
 * the loop, as for {@link BlockingPortal#startTaskSoon}.
 *
 * @param startValue the readiness value
 * @param future completes with the task's result; cancelling it cancels the task
 */
public record StartedTask<S, T>(@Nullable S startValue, CompletableFuture<T> future) {
}
