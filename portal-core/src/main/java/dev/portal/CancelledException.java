package dev.portal;

import java.util.concurrent.CancellationException;

/**
 * Raised inside async code, and by {@link FromThread#checkCancelled()} on a worker, when the
 * enclosing {@link CancelScope} has been cancelled. AnyIO's {@code get_cancelled_exc_class()}.
 *
 * <p>Let it propagate: the cancel scope that was cancelled absorbs it when its body completes.
 * Swallowing it keeps the task running with a cancelled scope, and the next checkpoint raises it
 * again. It extends {@link CancellationException}, so a {@link java.util.concurrent.CompletableFuture}
 * that completes with it reports {@code isCancelled()}. It carries no stack trace: it marks a
 * control-flow event, not a bug.
 */
public final class CancelledException extends CancellationException {

    private static final long serialVersionUID = 1L;

    CancelledException(String message) {
        super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }
}
