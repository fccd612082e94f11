package dev.portal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

import org.jspecify.annotations.Nullable;

/**
 * Lets a task started with {@link BlockingPortal#startTask} report that it is ready, with a value
 * (AnyIO's {@code task_status}). Call {@link #started(Object)} once, from the task, on the loop.
 *
 * @param <S> the type of the readiness value
 */
public final class TaskStatus<S> {

    private final CompletableFuture<S> started;
    private final AtomicBoolean called = new AtomicBoolean();

    TaskStatus(CompletableFuture<S> started) {
        this.started = started;
    }

    /**
     * Reports readiness with {@code value}; the caller of {@code startTask} returns with it.
     *
     * @throws IllegalStateException if called twice
     */
    public void started(@Nullable S value) {
        if (!called.compareAndSet(false, true)) {
            throw new IllegalStateException("TaskStatus.started() was already called for this task; call it once");
        }
        if (!started.complete(value)) {
            throw new IllegalStateException("TaskStatus.started() was called after its task had ended (returned, "
                    + "failed or was cancelled); call it from the task, before it completes");
        }
    }

    /** Reports readiness without a value. */
    public void started() {
        started(null);
    }
}
