package dev.portal;

import java.util.concurrent.CompletionStage;

import org.jspecify.annotations.Nullable;

/**
 * A resource with async set-up and tear-down (AnyIO's async context manager). Both methods run on
 * the event loop thread, in the same task, so the resource may hold task-scoped state (a task group,
 * a limiter token) between them.
 *
 * @param <T> what entering gives the user (a connection, a session)
 */
public interface AsyncResource<T> {

    /** Sets the resource up; AnyIO's {@code __aenter__}. */
    CompletionStage<T> enter() throws Exception;

    /**
     * Tears the resource down; AnyIO's {@code __aexit__}.
     *
     * @param error the exception the body failed with, or null if it completed normally
     * @return a stage completing with true to suppress {@code error}, false to let it propagate
     */
    CompletionStage<Boolean> exit(@Nullable Throwable error) throws Exception;
}
