package dev.portal;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;

import org.jspecify.annotations.Nullable;

/**
 * An async resource entered through a {@link BlockingPortal}, held by a thread outside the loop.
 *
 * <pre>{@code
 * try (PortalResource<Connection> conn = portal.wrapAsyncResource(pool)) {
 *     use(conn.get());
 * }   // exit runs on the loop, in the task that entered the resource
 * }</pre>
 *
 * <p>Java's try-with-resources does not tell {@link #close()} whether the body failed, so
 * {@code close()} exits with no error. To let exit see the body's failure, and possibly suppress it,
 * call {@link #exit(Throwable)} yourself or use {@link BlockingPortal#withAsyncResource}.
 *
 * <p>If the portal stops while the resource is open, the resource is exited then (with no error)
 * and a later {@code close()} does nothing.
 *
 * <p><b>Threads and blocking.</b> {@link #get()} may be called from any thread. {@link #exit} and
 * {@link #close()} block the caller until exit has run on the loop, and fail with an
 * {@link IllegalStateException} on the portal's loop thread, which they would deadlock.
 *
 * <p><b>Cancellation.</b> Exit runs shielded: a portal stopped with {@code stop(true)} still lets
 * the resource clean up. A thread interrupted while waiting in {@code exit} gets
 * {@link InterruptedException} (flag cleared) and the resource's task is cancelled.
 */
public final class PortalResource<T> implements AutoCloseable {

    private final BlockingPortal portal;
    final CompletableFuture<T> entered = new CompletableFuture<>();
    @Nullable T value;
    @Nullable CompletableFuture<Boolean> task;
    private @Nullable Event exitEvent;
    private @Nullable Throwable bodyError;
    private boolean exitSignalled;

    PortalResource(BlockingPortal portal) {
        this.portal = portal;
    }

    /** What entering the resource gave. */
    @SuppressWarnings("NullAway")
    public T get() {
        return value;
    }

    /**
     * Exits the resource, passing {@code error} (the body's failure, or null) to
     * {@link AsyncResource#exit}, and blocks until exit has run.
     *
     * @return whether exit suppressed {@code error}
     * @throws Exception what exit failed with (with {@code error} attached as suppressed)
     */
    public boolean exit(@Nullable Throwable error) throws Exception {
        CompletableFuture<Boolean> t = task;
        if (t == null) {
            throw new IllegalStateException("the resource was never entered");
        }
        EventLoop loop = portal.loop();
        if (loop.inEventLoop()) {
            throw new IllegalStateException("PortalResource.exit cannot be called from the event loop thread: it "
                    + "waits for the loop. Exit async resources from async code directly");
        }
        try {
            loop.executeSoon(() -> signalExitOnLoop(error));
        } catch (RejectedExecutionException loopGone) {
            // the loop stopped: the resource was exited when the portal stopped
        }
        Boolean suppressed;
        try {
            suppressed = BlockingPortal.await(t);
        } catch (Exception | Error exitFailure) {
            if (error != null && exitFailure != error) {
                exitFailure.addSuppressed(error);
            }
            throw exitFailure;
        }
        return error != null && bodyError == error && Boolean.TRUE.equals(suppressed);
    }

    /** Exits with no error. Idempotent. */
    @Override
    public void close() throws Exception {
        exit(null);
    }

    void signalExitOnLoop(@Nullable Throwable error) {
        if (exitSignalled) {
            return;
        }
        exitSignalled = true;
        bodyError = error;
        if (exitEvent != null) {
            exitEvent.set();
        }
    }

    /** The resource's task: enter, wait for the exit signal, exit. */
    CompletionStage<Boolean> runOnLoop(AsyncResource<T> resource) {
        EventLoop loop = portal.loop();
        LoopPromise<Boolean> out = LoopPromise.here(loop);
        Event event = new Event();
        exitEvent = event;
        CompletionStage<T> enter = EventLoop.callSafely(resource::enter);
        loop.adopt(enter, "AsyncResource.enter", (v, enterError) -> {
            if (enterError != null) {
                entered.completeExceptionally(CancelScope.unwrap(enterError));
                out.settle(null, enterError);
                return;
            }
            portal.resourceOpened(this);
            value = v;
            entered.complete(v);
            if (exitSignalled) {
                event.set();
            }
            event.await().whenComplete((ignored, cancelled) -> {
                exitSignalled = true;
                portal.resourceClosed(this);
                Throwable passed = bodyError;
                CompletionStage<Boolean> exit = CancelScope.shielded(() -> resource.exit(passed))
                        .thenApply(b -> b != null && b);
                exit.whenComplete((suppress, exitError) -> out.settle(suppress, exitError));
            });
        }, (v, enterError) -> {
            // The loop stopped before the enter's outcome could reach it: the resource never opened.
            entered.completeExceptionally(new IllegalStateException("AsyncResource.enter completed after event loop "
                    + loop.name() + " had stopped; the resource was not opened", enterError));
            out.settleWithoutContext(null, enterError);
        });
        return out;
    }
}
