package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * 100 000 levels of nesting on a loop thread with the JVM's default stack size: cancel scopes,
 * task groups and awaits nested that deep pass a value, an exception and a cancellation through
 * every level without a {@link StackOverflowError} and without losing an outcome. Each level is
 * entered after a checkpoint every {@value #YIELD_EVERY} levels, so that building the nesting
 * needs no deep stack either (as when real code awaits I/O between levels).
 */
class DeepNestingTest {

    static final int LEVELS = 100_000;
    private static final int YIELD_EVERY = 64;
    private static final long TIMEOUT_S = 40;

    private BlockingPortal portal;
    private final List<Throwable> uncaught = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startPortal() {
        portal = BlockingPortal.start(EventLoop.builder().daemon(true).listener(new EventLoopListener() {
            @Override
            public void onUncaughtException(EventLoop loop, Throwable error) {
                uncaught.add(error);
            }
        }));
    }

    @AfterEach
    void stopPortal() {
        portal.close();
        assertThat(uncaught).as("errors reported to the loop's uncaught handler").isEmpty();
    }

    @Test
    void cancellingTheOutermostOf100000NestedScopesReachesTheWorkerAndOnlyTheOutermostCatches() throws Exception {
        List<CancelScope> scopes = new ArrayList<>(LEVELS);
        for (int i = 0; i < LEVELS; i++) {
            scopes.add(CancelScope.create());
        }
        CompletableFuture<Void> workerStarted = new CompletableFuture<>();
        CompletableFuture<Throwable> workerSaw = new CompletableFuture<>();
        Supplier<CompletionStage<Object>> innermost = () -> ToThread.runSync(() -> {
            workerStarted.complete(null);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
            while (System.nanoTime() - end < 0) {
                try {
                    FromThread.checkCancelled();
                } catch (CancelledException e) {
                    workerSaw.complete(e);
                    throw e;
                }
                LockSupport.parkNanos(200_000);
            }
            workerSaw.complete(null);
            return "never cancelled";
        });

        CompletableFuture<Object> host = portal.startTaskSoon(() -> nest(scopes, 0, innermost));
        workerStarted.get(TIMEOUT_S, TimeUnit.SECONDS);
        scopes.get(0).cancel();

        assertThat(workerSaw.get(TIMEOUT_S, TimeUnit.SECONDS)).isInstanceOf(CancelledException.class)
                .hasMessageStartingWith("cancelled by " + CancelScopeSemanticsTest.scopeId(scopes.get(0)) + " ");
        assertThat(host.get(TIMEOUT_S, TimeUnit.SECONDS)).isNull();
        assertThat(scopes.get(0).cancelledCaught()).isTrue();
        assertThat(scopes).filteredOn(CancelScope::cancelledCaught).hasSize(1);
        assertThat(scopes).allMatch(CancelScope::isCancelled);
    }

    @Test
    void aValueReturnedThrough100000NestedScopesArrives() throws Exception {
        List<CancelScope> scopes = new ArrayList<>(LEVELS);
        for (int i = 0; i < LEVELS; i++) {
            scopes.add(CancelScope.create());
        }

        Object value = portal.call(() -> nest(scopes, 0,
                () -> Async.sleep(Duration.ofMillis(1)).thenApply(v -> "from the bottom")));

        assertThat(value).isEqualTo("from the bottom");
        assertThat(scopes).noneMatch(CancelScope::cancelledCaught);
    }

    @Test
    void anExceptionThrownThrough100000NestedScopesArrivesAsTheSameObject() {
        List<CancelScope> scopes = new ArrayList<>(LEVELS);
        for (int i = 0; i < LEVELS; i++) {
            scopes.add(CancelScope.create());
        }
        IllegalStateException boom = new IllegalStateException("boom at the bottom");

        assertThatThrownBy(() -> portal.call(() -> nest(scopes, 0,
                () -> Async.sleep(Duration.ofMillis(1)).thenCompose(v -> CompletableFuture.failedFuture(boom)))))
                .isSameAs(boom);
    }

    @Test
    void aValueReturnedThrough100000NestedTaskGroupsArrives() throws Exception {
        Object value = portal.call(() -> nestGroups(0,
                () -> Async.sleep(Duration.ofMillis(1)).thenApply(v -> "from the bottom")));

        assertThat(value).isEqualTo("from the bottom");
    }

    @Test
    void aChainOf100000AwaitsPassesTheValueOn() throws Exception {
        Object value = portal.call(() -> {
            CompletableFuture<String> source = new CompletableFuture<>();
            CompletionStage<String> stage = Async.await(source);
            for (int i = 1; i < LEVELS; i++) {
                stage = Async.await(stage);
            }
            CompletionStage<String> last = stage;
            return Async.sleep(Duration.ofMillis(1)).thenCompose(v -> {
                source.complete("through every await");
                return last;
            });
        });

        assertThat(value).isEqualTo("through every await");
    }

    /** Enters scopes[level..] one inside the other; the innermost runs {@code innermost}. */
    private static <T> CompletionStage<Object> nest(List<CancelScope> scopes, int level,
            Supplier<CompletionStage<T>> innermost) {
        if (level == scopes.size()) {
            return innermost.get().thenApply(v -> (Object) v);
        }
        CancelScope scope = scopes.get(level);
        return scope.run(() -> {
            if ((level + 1) % YIELD_EVERY == 0) {
                return Async.checkpoint().thenCompose(v -> nest(scopes, level + 1, innermost));
            }
            return nest(scopes, level + 1, innermost);
        }).thenApply(v -> v);
    }

    private static <T> CompletionStage<Object> nestGroups(int level, Supplier<CompletionStage<T>> innermost) {
        if (level == LEVELS) {
            return innermost.get().thenApply(v -> (Object) v);
        }
        return TaskGroup.open(tg -> {
            if ((level + 1) % YIELD_EVERY == 0) {
                return Async.checkpoint().thenCompose(v -> nestGroups(level + 1, innermost));
            }
            return nestGroups(level + 1, innermost);
        });
    }
}
