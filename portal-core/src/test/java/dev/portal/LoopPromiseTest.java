package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link LoopPromise#whenComplete} runs its own listeners instead of CompletableFuture's completion
 * nodes. Every case here is checked against a plain {@link CompletableFuture} given the same
 * treatment: the action must see the same arguments and the returned stage must end the same way,
 * whichever completing method was used.
 */
class LoopPromiseTest {

    private static EventLoop loop;

    @BeforeAll
    static void startLoop() {
        loop = EventLoop.builder().name("promise-test").start();
    }

    @AfterAll
    static void stopLoop() {
        loop.close();
    }

    /** A promise that cancel() may end, as the loop's awaitables are (a bare one refuses). */
    private static LoopPromise<String> promise() {
        return new LoopPromise<>(loop, null, loop.rootScope) {
            @Override
            boolean cancellableByStage() {
                return true;
            }
        };
    }

    /** Cancels {@code f}; a loop stage on its loop's thread, where cancel() must be called while it is pending. */
    private static void cancel(CompletableFuture<String> f) {
        if (!(f instanceof LoopPromise)) {
            f.cancel(true);
            return;
        }
        CompletableFuture<Boolean> done = new CompletableFuture<>();
        loop.execute(() -> done.complete(f.cancel(true)));
        done.join();
    }

    /** The completing methods of CompletableFuture, applied to either kind of future. */
    enum Completion {
        COMPLETE(f -> f.complete("v")),
        COMPLETE_NULL(f -> f.complete(null)),
        COMPLETE_EXCEPTIONALLY(f -> f.completeExceptionally(new IllegalStateException("boom"))),
        COMPLETE_EXCEPTIONALLY_WRAPPED(f -> f.completeExceptionally(new CompletionException(new IllegalStateException("w")))),
        CANCEL(LoopPromiseTest::cancel),
        OBTRUDE_VALUE(f -> f.obtrudeValue("obtruded")),
        OBTRUDE_EXCEPTION(f -> f.obtrudeException(new IllegalArgumentException("obtruded"))),
        COMPLETE_ASYNC(f -> f.completeAsync(() -> "async", Runnable::run)),
        COMPLETE_ASYNC_THROWING(f -> f.completeAsync(() -> {
            throw new IllegalStateException("supplier");
        }, Runnable::run)),
        COMPLETE_ON_TIMEOUT(f -> f.completeOnTimeout("late", 1, TimeUnit.MILLISECONDS)),
        OR_TIMEOUT(f -> f.orTimeout(1, TimeUnit.MILLISECONDS));

        final Consumer<CompletableFuture<String>> apply;

        Completion(Consumer<CompletableFuture<String>> apply) {
            this.apply = apply;
        }
    }

    /** What an action saw and how the stage it returned ended. */
    record Seen(String value, String failure, String stage) {
    }

    private static Seen observe(CompletableFuture<String> source, Completion how, boolean throwInAction)
            throws Exception {
        AtomicReference<String> value = new AtomicReference<>();
        AtomicReference<String> failure = new AtomicReference<>();
        CountDownLatch ran = new CountDownLatch(1);
        CompletableFuture<String> stage = source.whenComplete((v, x) -> {
            value.set(String.valueOf(v));
            failure.set(describe(x));
            ran.countDown();
            if (throwInAction) {
                throw new UnsupportedOperationException("action");
            }
        });
        how.apply.accept(source);
        assertThat(ran.await(10, TimeUnit.SECONDS)).as("the action ran after %s", how).isTrue();
        return new Seen(value.get(), failure.get(), outcome(stage));
    }

    private static String outcome(CompletableFuture<String> stage) throws InterruptedException {
        try {
            return "value " + stage.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return "get: " + describe(e.getCause());
        } catch (CancellationException e) {
            return "cancelled";
        } catch (TimeoutException e) {
            return "never completed";
        } finally {
            stage.handle((v, x) -> null);
        }
    }

    private static String describe(Throwable x) {
        if (x == null) {
            return "none";
        }
        StringBuilder b = new StringBuilder(x.getClass().getSimpleName()).append('(').append(x.getMessage());
        if (x.getCause() != null) {
            b.append(" <- ").append(describe(x.getCause()));
        }
        for (Throwable s : x.getSuppressed()) {
            b.append(" +suppressed ").append(describe(s));
        }
        return b.append(')').toString();
    }

    @ParameterizedTest
    @EnumSource(Completion.class)
    void theActionAndTheReturnedStageBehaveAsCompletableFuturesDo(Completion how) throws Exception {
        assertThat(observe(promise(), how, false)).isEqualTo(observe(new CompletableFuture<>(), how, false));
    }

    @ParameterizedTest
    @EnumSource(Completion.class)
    void anActionThatThrowsEndsTheStageAsCompletableFutureDoes(Completion how) throws Exception {
        assertThat(observe(promise(), how, true)).isEqualTo(observe(new CompletableFuture<>(), how, true));
    }

    @ParameterizedTest
    @EnumSource(Completion.class)
    void anActionAddedAfterCompletionRunsAtOnceWithTheSameOutcome(Completion how) throws Exception {
        Function<CompletableFuture<String>, String> late = f -> {
            how.apply.accept(f);
            try {
                f.handle((v, x) -> null).get(10, TimeUnit.SECONDS);
                AtomicReference<String> seen = new AtomicReference<>();
                CompletableFuture<String> stage = f.whenComplete((v, x) -> seen.set(v + " / " + describe(x)));
                return seen.get() + " -> " + outcome(stage);
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        assertThat(late.apply(promise())).isEqualTo(late.apply(new CompletableFuture<>()));
    }

    @Test
    void listenersRunOnceEachInTheOrderTheyWereAdded() {
        LoopPromise<String> p = promise();
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            int n = i;
            p.whenComplete((v, x) -> order.add(n));
        }
        p.complete("done");
        p.complete("again");
        p.cancel(true);
        p.obtrudeValue("obtruded");
        assertThat(order).hasSize(50).isSorted();
    }

    @Test
    void aListenerAddedByAListenerRunsAtOnce() {
        LoopPromise<String> p = promise();
        List<String> seen = new ArrayList<>();
        p.whenComplete((v, x) -> p.whenComplete((v2, x2) -> seen.add("inner " + v2)));
        p.whenComplete((v, x) -> seen.add("outer " + v));
        p.complete("x");
        assertThat(seen).containsExactly("inner x", "outer x");
    }

    @Test
    void aNullActionIsRejectedByName() {
        assertThatThrownBy(() -> promise().whenComplete(null)).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("action");
    }

    @Test
    void dependentsOfTheReturnedStageStayOnTheLoop() throws Exception {
        LoopPromise<String> p = promise();
        CompletableFuture<String> stage = p.whenComplete((v, x) -> { });
        CompletableFuture<Boolean> onLoop = stage.thenApplyAsync(v -> loop.inEventLoop());
        p.complete("v");
        assertThat(onLoop.get(10, TimeUnit.SECONDS)).isTrue();
        assertThat(stage).isInstanceOf(LoopStage.class);
    }

    /**
     * Registration races completion from another thread: every action must run exactly once, with
     * the promise's value, and every returned stage must complete.
     */
    @Test
    void everyListenerAddedWhileAnotherThreadCompletesRunsExactlyOnce() throws Exception {
        int rounds = 2_000;
        int listeners = 8;
        for (int round = 0; round < rounds; round++) {
            LoopPromise<String> p = promise();
            AtomicInteger runs = new AtomicInteger();
            AtomicInteger wrongValue = new AtomicInteger();
            CyclicBarrier go = new CyclicBarrier(2);
            List<CompletableFuture<String>> stages = new ArrayList<>();
            Thread completer = new Thread(() -> {
                Races.await(go);
                p.complete("v");
            });
            completer.start();
            Races.await(go);
            BiConsumer<String, Throwable> action = (v, x) -> {
                runs.incrementAndGet();
                if (!"v".equals(v)) {
                    wrongValue.incrementAndGet();
                }
            };
            for (int i = 0; i < listeners; i++) {
                stages.add(p.whenComplete(action));
            }
            completer.join(10_000);
            assertThat(runs).as("round %d", round).hasValue(listeners);
            assertThat(wrongValue).hasValue(0);
            for (CompletableFuture<String> s : stages) {
                assertThat(s.getNow("not done")).isEqualTo("v");
            }
        }
    }
}
