package dev.portal;

import java.util.concurrent.CompletableFuture;

import org.jspecify.annotations.Nullable;

/**
 * Lets a task started with {@link BlockingPortal#startTask} report that it is ready, with a value
 * (AnyIO's {@code task_status}). Call {@link #started(Object)} once, from the task, on the loop.
 *
 * @param <S> the type of the readiness value
 */
public final class TaskStatus<S> {

    private final CompletableFuture<S> started;

    TaskStatus(CompletableFuture<S> started) {
        this.started = started;
    }

    /**
     * Reports readiness with {@code value}; the caller of {@code startTask} returns with it.
     *
     * @throws IllegalStateException if called twice
     */
    public void started(@Nullable S value) {
        if (!started.complete(value)) {
            throw new IllegalStateException("TaskStatus.started() was already called for this task; call it once");
        }
    }

    /** Reports readiness without a value. */
    public void started() {
        started(null);
    }
}
