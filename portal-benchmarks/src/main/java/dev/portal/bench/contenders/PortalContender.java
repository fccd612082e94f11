package dev.portal.bench.contenders;

import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;

import dev.portal.BlockingPortal;
import dev.portal.CancelMode;
import dev.portal.CancelScope;
import dev.portal.CancelledException;
import dev.portal.EventLoop;
import dev.portal.ToThread;
import dev.portal.bench.CancelTrial;
import dev.portal.bench.Contender;

import io.micrometer.context.ContextRegistry;

import org.slf4j.MDC;

/**
 * Portal with default settings: a {@link BlockingPortal} on its own loop (40 tokens in the
 * default limiter); loop code runs as portal tasks and offloads with {@link ToThread#runSync}.
 * Cancellation is a {@link CancelScope} around a {@link CancelMode#ABANDON} or
 * {@link CancelMode#INTERRUPT} call.
 *
 * <p>Two configurations. {@code portal} is what a Spring application runs: SLF4J (Logback) is on
 * the class path, so Portal's default context capture carries the MDC across every hop, and every
 * thread that calls into this contender has a request's MDC of {@link #MDC_ENTRIES} entries (set
 * on its first call, as a servlet filter would at the start of a request). {@code portal-nomdc}
 * propagates nothing: its loop is built with an empty {@link ContextRegistry}, as the other
 * contenders propagate nothing by default.
 */
public final class PortalContender implements Contender {

    /** The MDC every caller of the {@code portal} configuration carries: a traced web request's. */
    public static final Map<String, String> MDC_ENTRIES = Map.of(
            "traceId", "4bf92f3577b34da6a3ce929d0e0e4736",
            "spanId", "00f067aa0ba902b7",
            "userId", "alice@example.com",
            "requestPath", "/api/customers/42");

    private final boolean mdc;
    private final BlockingPortal portal;

    /** The headline configuration: default context capture, callers with an MDC. */
    public PortalContender() {
        this(true);
    }

    /** {@code mdc} true: default capture and callers with an MDC; false: an empty registry. */
    public PortalContender(boolean mdc) {
        this.mdc = mdc;
        EventLoop.Builder builder = EventLoop.builder().name("portal-loop").daemon(true);
        if (!mdc) {
            builder.contextRegistry(new ContextRegistry());
        }
        this.portal = BlockingPortal.start(builder);
    }

    @Override
    public String name() {
        return mdc ? "portal" : "portal-nomdc";
    }

    /** Gives the calling thread the request's MDC if it has none yet (one map lookup otherwise). */
    private void requestContext() {
        if (mdc && MDC.get("traceId") == null) {
            MDC_ENTRIES.forEach(MDC::put);
        }
    }

    @Override
    public CompletableFuture<Integer> sequentialOffloads(int n) {
        requestContext();
        return portal.startTaskSoon(() -> {
            CompletableFuture<Integer> done = new CompletableFuture<>();
            step(n, n, done);
            return done;
        });
    }

    private static void step(int total, int left, CompletableFuture<Integer> done) {
        ToThread.runSync(TRIVIAL).whenComplete((v, e) -> {
            if (e != null) {
                done.completeExceptionally(e);
            } else if (left == 1) {
                done.complete(total);
            } else {
                step(total, left - 1, done);
            }
        });
    }

    @Override
    public CompletableFuture<Void> startOffloads(int n, Callable<Integer> fn, Runnable onResult) {
        requestContext();
        CompletableFuture<Void> started = new CompletableFuture<>();
        // The task lives until every result is in, as structured loop code would.
        portal.startTaskSoon(() -> {
            Countdown continuation = new Countdown(n, onResult);
            for (int i = 0; i < n; i++) {
                ToThread.runSync(fn).whenComplete(continuation);
            }
            started.complete(null);
            return continuation.allDone;
        });
        return started;
    }

    /** One continuation for n offloads: runs onResult for each and completes allDone after the last. */
    private static final class Countdown implements BiConsumer<Integer, Throwable> {
        final CompletableFuture<Void> allDone = new CompletableFuture<>();
        private final Runnable onResult;
        private int left;

        Countdown(int n, Runnable onResult) {
            this.left = n;
            this.onResult = onResult;
            if (n == 0) {
                allDone.complete(null);
            }
        }

        @Override
        public void accept(Integer value, Throwable error) {
            onResult.run();
            if (--left == 0) {
                allDone.complete(null);
            }
        }
    }

    @Override
    public int callOnLoop(int x) throws Exception {
        requestContext();
        return portal.call(() -> CompletableFuture.completedFuture(x + 1));
    }

    @Override
    public Object startTaskSoon(int x) {
        requestContext();
        return portal.startTaskSoon(() -> CompletableFuture.completedFuture(x + 1));
    }

    @Override
    @SuppressWarnings("unchecked")
    public int awaitTask(Object handle) throws Exception {
        return ((CompletableFuture<Integer>) handle).get();
    }

    @Override
    public long awaitAll(Object[] handles) {
        return Callables.allOfSum(handles);
    }

    @Override
    public CancelTrial startCancellable(boolean interrupt) {
        requestContext();
        CancelTrial trial = new CancelTrial();
        CancelScope scope = CancelScope.create();
        trial.canceller(portal.eventLoop(), scope::cancel);
        CancelMode mode = interrupt ? CancelMode.INTERRUPT : CancelMode.ABANDON;
        portal.startTaskSoon(() -> scope.run(() -> ToThread.runSync(trial.function(), mode).whenComplete((v, e) -> {
            Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof CancelledException) {
                trial.observe();
            }
        })));
        return trial;
    }

    @Override
    public boolean inLoop() {
        return portal.eventLoop().inEventLoop();
    }

    @Override
    public boolean supportsInterrupt() {
        return true;
    }

    @Override
    public void close() {
        portal.close();
    }
}
