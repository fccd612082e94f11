package dev.portal;

import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/**
 * Reads the exception a completed stage holds, as the same object. {@code join()} and {@code get()}
 * wrap it, and since JDK 23 they wrap a cancellation in a new {@code CancellationException} too.
 */
final class Outcomes {

    private Outcomes() {
    }

    /** The failure of a completed stage, unwrapped from CompletionException; null if it succeeded. */
    static Throwable failureOf(CompletionStage<?> done) {
        Throwable failure = done.toCompletableFuture().handle((v, x) -> x).getNow(null);
        while (failure instanceof CompletionException && failure.getCause() != null) {
            failure = failure.getCause();
        }
        return failure;
    }
}
