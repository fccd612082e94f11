package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

/**
 * {@link CancelScope}: cancellation, deadlines, shields, nesting, checkpoints, and the task and
 * scope identity that callbacks keep across chains of awaitables.
 */
class CancelScopeTest {

    private static final Duration LONG = Duration.ofSeconds(30);

    // ---------------------------------------------------------------------------------------------
    // Cancelling

    @Test
    void cancelFailsThePendingCheckpointAndTheScopeCatchesIt() throws Exception {
        CancelScope scope = CancelScope.create();
        long start = System.nanoTime();

        Object result = EventLoop.run(() -> {
            CompletionStage<String> body = scope.run(() -> Async.sleep(LONG).thenApply(v -> "slept"));
            return Async.checkpoint().thenCompose(v -> {
                scope.cancel();
                return body;
            });
        });

        assertThat(result).isNull();
        assertThat(scope.cancelCalled()).isTrue();
        assertThat(scope.cancelledCaught()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void cancelIsIdempotent() throws Exception {
        CancelScope scope = CancelScope.create();

        Object result = EventLoop.run(() -> scope.run(() -> {
            scope.cancel();
            scope.cancel();
            return Async.sleep(LONG).thenApply(v -> "slept");
        }).whenComplete((v, e) -> scope.cancel()));

        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
        scope.cancel();
        assertThat(scope.cancelCalled()).isTrue();
    }

    @Test
    void aScopeCancelledBeforeItIsEnteredStartsCancelled() throws Exception {
        CancelScope scope = CancelScope.create();
        scope.cancel();
        assertThat(scope.cancelCalled()).isTrue();

        Object result = EventLoop.run(() -> scope.run(() -> Async.sleep(LONG).thenApply(v -> "slept")));

        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void cancelFromAnotherThreadIsCarriedOutOnTheLoop() throws Exception {
        CancelScope scope = CancelScope.create();
        CountDownLatch entered = new CountDownLatch(1);
        AtomicReference<Throwable> cancellerFailure = new AtomicReference<>();
        Thread canceller = new Thread(() -> {
            try {
                assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
                scope.cancel();
            } catch (Throwable t) {
                cancellerFailure.set(t);
            }
        }, "canceller");
        canceller.start();

        Object result = EventLoop.run(() -> scope.run(() -> {
            entered.countDown();
            return Async.sleep(LONG).thenApply(v -> "slept");
        }));

        canceller.join(10_000);
        assertThat(cancellerFailure.get()).isNull();
        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void cancelFromAnotherThreadRacingTheEntryIsNeverLost() throws Exception {
        // The test thread calls cancel() just as the loop enters each scope. Whichever comes first,
        // every scope must end up cancelled instead of waiting out its 30 s sleep. The window is a
        // few instructions wide, so the two threads meet in lock step for up to 20,000 scopes or 4 s,
        // and for at least 501 however long a busy machine makes them (about 30 a second with both
        // cores taken).
        int attempts = 20_000;
        long budget = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
        int minRounds = 500;
        CancelScope[] scopes = new CancelScope[attempts];
        List<CompletableFuture<Boolean>> outcomes = new ArrayList<>();
        for (int i = 0; i < attempts; i++) {
            scopes[i] = CancelScope.create();
            outcomes.add(new CompletableFuture<>());
        }
        AtomicInteger ready = new AtomicInteger(-1);
        AtomicInteger entering = new AtomicInteger(-1);
        AtomicInteger stopAt = new AtomicInteger(attempts);
        CompletableFuture<Integer> entered = new CompletableFuture<>();
        int raced = 0;
        try (EventLoop loop = EventLoop.start()) {
            loop.execute(() -> {
                int i = 0;
                for (; i < stopAt.get(); i++) {
                    if (!Races.spinUntil(ready, i, stopAt)) {
                        break;
                    }
                    entering.set(i);
                    CancelScope scope = scopes[i];
                    CompletableFuture<Boolean> outcome = outcomes.get(i);
                    scope.run(() -> Async.sleep(LONG)).whenComplete((v, e) -> {
                        if (e != null) {
                            outcome.completeExceptionally(e);
                        } else {
                            outcome.complete(scope.cancelledCaught());
                        }
                    });
                }
                entered.complete(i);
            });
            for (; raced < attempts && (raced <= minRounds || System.nanoTime() - budget < 0); raced++) {
                ready.set(raced);
                if (!Races.spinUntil(entering, raced, stopAt)) {
                    break;
                }
                scopes[raced].cancel();
            }
            stopAt.set(raced);
            assertThat(entered.get(10, TimeUnit.SECONDS)).isEqualTo(raced);
            List<CompletableFuture<Boolean>> used = outcomes.subList(0, raced);

            try {
                CompletableFuture.allOf(used.toArray(new CompletableFuture<?>[0])).get(5, TimeUnit.SECONDS);
            } catch (TimeoutException lost) {
                long lostCount = used.stream().filter(o -> !o.isDone()).count();
                List<String> stuck = new ArrayList<>();
                for (int i = 0; i < raced && stuck.size() < 5; i++) {
                    if (!outcomes.get(i).isDone()) {
                        stuck.add(i + ": " + scopes[i]);
                    }
                }
                throw new AssertionError(lostCount + " of " + raced + " cancels were lost; these scopes (first 5) "
                        + "still wait for their 30 s sleep: " + stuck);
            }
            for (CompletableFuture<Boolean> outcome : used) {
                assertThat(outcome.join()).isTrue();
            }
        }
        assertThat(raced).as("rounds raced").isGreaterThan(minRounds);
    }

    @Test
    void cancelAfterTheScopeHasExitedIsANoOp() throws Exception {
        CancelScope scope = CancelScope.create();

        String result = EventLoop.run(() -> scope.run(() -> CompletableFuture.completedFuture("done"))
                .thenCompose(v -> {
                    scope.cancel();
                    return Async.checkpoint().thenApply(x -> v);
                }));

        assertThat(result).isEqualTo("done");
        assertThat(scope.cancelCalled()).isTrue();
        assertThat(scope.cancelledCaught()).isFalse();
    }

    @Test
    void cancelCalledWithoutAnyCheckpointIsNotCaught() throws Exception {
        CancelScope scope = CancelScope.create();

        String result = EventLoop.run(() -> scope.run(() -> {
            scope.cancel();
            return CompletableFuture.completedFuture("finished anyway");
        }));

        assertThat(result).isEqualTo("finished anyway");
        assertThat(scope.cancelCalled()).isTrue();
        assertThat(scope.cancelledCaught()).isFalse();
    }

    @Test
    void aFailureOtherThanCancellationPassesThroughACancelledScope() throws Exception {
        CancelScope scope = CancelScope.create();
        IllegalStateException boom = new IllegalStateException("boom");

        assertThatThrownBy(() -> EventLoop.run(() -> scope.run(() -> {
            scope.cancel();
            return Async.checkpoint().handle((v, e) -> {
                throw boom;
            });
        }))).isSameAs(boom);
        assertThat(scope.cancelledCaught()).isFalse();
    }

    // ---------------------------------------------------------------------------------------------
    // Checkpoints

    @Test
    void awaitablesCreatedInACancelledScopeFailAtOnce() throws Exception {
        CancelScope scope = CancelScope.create();
        List<CompletionStage<?>> awaitables = new ArrayList<>();
        AtomicBoolean functionRan = new AtomicBoolean();

        EventLoop.run(() -> scope.run(() -> {
            scope.cancel();
            awaitables.add(Async.sleep(LONG));
            awaitables.add(Async.checkpoint());
            awaitables.add(Async.await(new CompletableFuture<String>()));
            awaitables.add(new Event().await());
            awaitables.add(new CapacityLimiter(1).acquire());
            awaitables.add(ToThread.runSync(() -> functionRan.getAndSet(true)));
            for (CompletionStage<?> s : awaitables) {
                assertThat(s.toCompletableFuture()).isCompletedExceptionally();
                assertThat(Outcomes.failureOf(s)).isInstanceOf(CancelledException.class)
                        .hasMessageMatching("cancelled by CancelScope#\\d+ \\(cancel\\(\\) called\\)");
            }
            return awaitables.get(0);
        }));

        assertThat(awaitables).hasSize(6);
        assertThat(functionRan).as("runSync function in a cancelled scope").isFalse();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void codeBetweenAwaitsIsNotInterrupted() throws Exception {
        CancelScope scope = CancelScope.create();
        List<String> log = new ArrayList<>();

        EventLoop.run(() -> scope.run(() -> Async.sleep(Duration.ofMillis(1)).thenCompose(v -> {
            scope.cancel();
            log.add("after cancel");
            assertThat(scope.isCancelled()).isTrue();
            log.add("still running");
            return Async.checkpoint().thenRun(() -> log.add("past the next checkpoint"));
        })));

        assertThat(log).containsExactly("after cancel", "still running");
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void cancelledExceptionIsACancellationExceptionWithoutAStackTrace() throws Exception {
        CancelScope scope = CancelScope.create();
        AtomicReference<Throwable> seen = new AtomicReference<>();

        EventLoop.run(() -> scope.run(() -> {
            scope.cancel();
            return Async.checkpoint().whenComplete((v, e) -> seen.set(e));
        }));

        assertThat(seen.get()).isInstanceOf(java.util.concurrent.CancellationException.class)
                .isInstanceOf(CancelledException.class);
        assertThat(seen.get().getStackTrace()).isEmpty();
    }

    // ---------------------------------------------------------------------------------------------
    // Timeouts

    @Test
    void moveOnAfterCompletesWithNullWhenTheDeadlinePasses() throws Exception {
        long start = System.nanoTime();

        Object result = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofMillis(50),
                () -> Async.sleep(LONG).thenApply(v -> "late")));

        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(result).isNull();
        assertThat(took).isGreaterThanOrEqualTo(Duration.ofMillis(50)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void aTimeoutScopeRecordsThatItCaughtItsDeadline() throws Exception {
        CancelScope scope = CancelScope.withTimeout(Duration.ofMillis(30));

        Object result = EventLoop.run(() -> scope.run(() -> Async.sleep(LONG)));

        assertThat(result).isNull();
        assertThat(scope.cancelCalled()).isTrue();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void failAfterThrowsTimeoutExceptionWhenTheDeadlinePasses() {
        assertThatThrownBy(() -> EventLoop.run(() -> CancelScope.failAfter(Duration.ofMillis(50),
                () -> Async.sleep(LONG).thenApply(v -> "late"))))
                .isInstanceOf(TimeoutException.class)
                .hasMessage("timed out after PT0.05S");
    }

    @Test
    void completingBeforeTheDeadlineReturnsTheValue() throws Exception {
        CancelScope scope = CancelScope.withTimeout(Duration.ofSeconds(10));

        String moved = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofSeconds(10),
                () -> Async.sleep(Duration.ofMillis(5)).thenApply(v -> "moved")));
        String failed = EventLoop.run(() -> CancelScope.failAfter(Duration.ofSeconds(10),
                () -> Async.sleep(Duration.ofMillis(5)).thenApply(v -> "failed")));
        String scoped = EventLoop.run(() -> scope.run(() -> Async.sleep(Duration.ofMillis(5)).thenApply(v -> "scoped")));

        assertThat(moved).isEqualTo("moved");
        assertThat(failed).isEqualTo("failed");
        assertThat(scoped).isEqualTo("scoped");
        assertThat(scope.cancelCalled()).isFalse();
        assertThat(scope.cancelledCaught()).isFalse();
    }

    @Test
    void aZeroTimeoutCancelsAtTheFirstCheckpoint() throws Exception {
        List<String> log = new ArrayList<>();

        Object result = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ZERO, () -> {
            log.add("body runs");
            return Async.checkpoint().thenRun(() -> log.add("past checkpoint"));
        }));

        assertThat(result).isNull();
        assertThat(log).containsExactly("body runs");
    }

    @Test
    void negativeTimeoutsAreRejectedNamingTheArgumentAndValue() {
        Duration negative = Duration.ofMillis(-1);

        assertThatIllegalArgumentException().isThrownBy(() -> CancelScope.withTimeout(negative))
                .withMessage("timeout must be >= 0 (was PT-0.001S)");
        assertThatIllegalArgumentException().isThrownBy(() -> CancelScope.moveOnAfter(negative, () -> null))
                .withMessage("timeout must be >= 0 (was PT-0.001S)");
        assertThatIllegalArgumentException().isThrownBy(() -> CancelScope.failAfter(negative, () -> null))
                .withMessage("timeout must be >= 0 (was PT-0.001S)");
        assertThatNullPointerException().isThrownBy(() -> CancelScope.withTimeout(null))
                .withMessage("timeout must not be null");
    }

    @Test
    void negativeSleepIsRejectedNamingTheArgumentAndValue() {
        assertThatIllegalArgumentException()
                .isThrownBy(() -> EventLoop.run(() -> Async.sleep(Duration.ofSeconds(-2))))
                .withMessage("delay must be >= 0 (was PT-2S)");
    }

    @Test
    void aHugeTimeoutMeansEffectivelyNoDeadline() throws Exception {
        Duration huge = Duration.ofSeconds(Long.MAX_VALUE);
        CancelScope scope = CancelScope.withTimeout(huge);
        assertThat(scope.deadline()).isEqualTo(Long.MAX_VALUE);
        assertThat(scope.remaining()).isNull();
        List<Object> inside = new ArrayList<>();

        String moved = EventLoop.run(() -> CancelScope.moveOnAfter(huge,
                () -> Async.sleep(Duration.ofMillis(20)).thenApply(v -> "moved")));
        String failed = EventLoop.run(() -> CancelScope.failAfter(huge,
                () -> Async.sleep(Duration.ofMillis(20)).thenApply(v -> "failed")));
        String scoped = EventLoop.run(() -> scope.run(() -> Async.sleep(Duration.ofMillis(20)).thenApply(v -> {
            inside.add(scope.deadline());
            inside.add(String.valueOf(scope.remaining()));
            return "scoped";
        })));

        assertThat(moved).isEqualTo("moved");
        assertThat(failed).isEqualTo("failed");
        assertThat(scoped).isEqualTo("scoped");
        assertThat(inside).containsExactly(Long.MAX_VALUE, "null");
        assertThat(scope.cancelCalled()).isFalse();
    }

    @Test
    void aHugeSleepIsStillCancellable() throws Exception {
        long start = System.nanoTime();

        Object result = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofMillis(30),
                () -> Async.sleep(Duration.ofSeconds(Long.MAX_VALUE))));

        assertThat(result).isNull();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void setDeadlineAddsADeadlineToARunningScope() throws Exception {
        CancelScope scope = CancelScope.create();
        long start = System.nanoTime();

        Object result = EventLoop.run(() -> scope.run(() -> {
            assertThat(scope.deadline()).isEqualTo(Long.MAX_VALUE);
            scope.setDeadline(System.nanoTime() + Duration.ofMillis(50).toNanos());
            return Async.sleep(LONG);
        }));

        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void setDeadlineCanPostponeOrRemoveTheDeadline() throws Exception {
        CancelScope postponed = CancelScope.withTimeout(Duration.ofMillis(30));
        CancelScope removed = CancelScope.withTimeout(Duration.ofMillis(30));

        String first = EventLoop.run(() -> postponed.run(() -> {
            postponed.setDeadline(System.nanoTime() + Duration.ofSeconds(20).toNanos());
            return Async.sleep(Duration.ofMillis(150)).thenApply(v -> "postponed");
        }));
        String second = EventLoop.run(() -> removed.run(() -> {
            removed.setDeadline(Long.MAX_VALUE);
            return Async.sleep(Duration.ofMillis(150)).thenApply(v -> "removed");
        }));

        assertThat(first).isEqualTo("postponed");
        assertThat(second).isEqualTo("removed");
        assertThat(postponed.cancelCalled()).isFalse();
        assertThat(removed.cancelCalled()).isFalse();
        assertThat(removed.remaining()).isNull();
    }

    @Test
    void aDeadlineInThePastCancelsAtOnce() throws Exception {
        CancelScope scope = CancelScope.create();
        AtomicReference<Throwable> sleepFailure = new AtomicReference<>();
        long start = System.nanoTime();

        EventLoop.run(() -> scope.run(() -> {
            CompletionStage<Void> sleep = Async.sleep(LONG).whenComplete((v, e) -> sleepFailure.set(e));
            scope.setDeadline(System.nanoTime() - 1);
            assertThat(scope.cancelCalled()).isTrue();
            CompletionStage<Void> later = Async.checkpoint();
            assertThat(later.toCompletableFuture()).isCompletedExceptionally();
            return sleep;
        }));

        assertThat(sleepFailure.get()).isInstanceOf(CancelledException.class)
                .hasMessageMatching("cancelled by CancelScope#\\d+ \\(deadline exceeded\\)");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
        assertThat(scope.cancelledCaught()).isTrue();
        assertThat(scope.remaining()).isEqualTo(Duration.ZERO);
    }

    @Test
    void withDeadlineUsesTheNanoTimeBasis() throws Exception {
        CancelScope scope = CancelScope.withDeadline(System.nanoTime() + Duration.ofMillis(40).toNanos());

        Object result = EventLoop.run(() -> scope.run(() -> Async.sleep(LONG)));

        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void setDeadlineOnAnEnteredScopeFromAnotherThreadFails() throws Exception {
        CancelScope scope = CancelScope.create();
        CompletableFuture<Throwable> failure = new CompletableFuture<>();

        EventLoop.run(() -> scope.run(() -> Async.await(CompletableFuture.runAsync(() -> {
            try {
                scope.setDeadline(System.nanoTime());
                failure.complete(null);
            } catch (Throwable t) {
                failure.complete(t);
            }
        }))));

        assertThat(failure.get(10, TimeUnit.SECONDS)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("CancelScope.setDeadline must be called on the thread of event loop");
        assertThat(scope.cancelCalled()).isFalse();
    }

    @Test
    void remainingReportsTheTimeLeft() throws Exception {
        assertThat(CancelScope.create().remaining()).isNull();
        CancelScope scope = CancelScope.withTimeout(Duration.ofSeconds(10));
        assertThat(scope.remaining()).isBetween(Duration.ofSeconds(9), Duration.ofSeconds(10));
        assertThat(CancelScope.withDeadline(System.nanoTime() - 1).remaining()).isEqualTo(Duration.ZERO);
        List<Duration> inside = new ArrayList<>();

        EventLoop.run(() -> scope.run(() -> Async.sleep(Duration.ofMillis(50)).thenRun(() -> inside.add(scope.remaining()))));

        assertThat(inside).singleElement().satisfies(left ->
                assertThat(left).isLessThanOrEqualTo(Duration.ofMillis(9950)).isGreaterThan(Duration.ofSeconds(5)));
    }

    // ---------------------------------------------------------------------------------------------
    // Shields and nesting

    @Test
    void aShieldBlocksTheCancellationOfAnEnclosingScope() throws Exception {
        CancelScope outer = CancelScope.create();
        List<String> log = new ArrayList<>();

        Object result = EventLoop.run(() -> {
            CompletionStage<Void> body = outer.run(() -> CancelScope.shielded(() -> Async.sleep(Duration.ofMillis(100))
                            .thenApply(v -> {
                                log.add("shielded body done");
                                return "value";
                            }))
                    .thenCompose(v -> {
                        log.add("after shield: " + v);
                        return Async.checkpoint();
                    })
                    .thenRun(() -> log.add("past the next checkpoint")));
            return Async.sleep(Duration.ofMillis(10)).thenCompose(v -> {
                outer.cancel();
                return body;
            });
        });

        assertThat(result).isNull();
        assertThat(log).containsExactly("shielded body done", "after shield: value");
        assertThat(outer.cancelledCaught()).isTrue();
    }

    @Test
    void aShieldedScopeIsStillCancelledByItsOwnCancel() throws Exception {
        CancelScope shield = CancelScope.create();
        shield.setShield(true);
        assertThat(shield.isShield()).isTrue();

        Object result = EventLoop.run(() -> shield.run(() -> {
            shield.cancel();
            return Async.sleep(LONG);
        }));

        assertThat(result).isNull();
        assertThat(shield.cancelledCaught()).isTrue();
    }

    @Test
    void droppingAShieldLetsAPendingOuterCancellationIn() throws Exception {
        CancelScope outer = CancelScope.create();
        CancelScope shield = CancelScope.create();
        shield.setShield(true);

        Object result = EventLoop.run(() -> outer.run(() -> shield.run(() -> {
            outer.cancel();
            CompletionStage<Void> sleep = Async.sleep(LONG);
            return Async.sleep(Duration.ofMillis(10)).thenCompose(v -> {
                assertThat(sleep.toCompletableFuture()).isNotDone();
                shield.setShield(false);
                return sleep;
            });
        })));

        assertThat(result).isNull();
        assertThat(outer.cancelledCaught()).isTrue();
        assertThat(shield.cancelledCaught()).isFalse();
    }

    @Test
    void anInnerCancellationIsCaughtByTheInnerScope() throws Exception {
        CancelScope outer = CancelScope.create();
        CancelScope inner = CancelScope.create();

        String result = EventLoop.run(() -> outer.run(() -> inner.run(() -> {
            inner.cancel();
            return Async.sleep(LONG);
        }).thenCompose(v -> Async.sleep(Duration.ofMillis(1))).thenApply(v -> "outer carried on")));

        assertThat(result).isEqualTo("outer carried on");
        assertThat(inner.cancelledCaught()).isTrue();
        assertThat(outer.cancelCalled()).isFalse();
        assertThat(outer.cancelledCaught()).isFalse();
    }

    @Test
    void anOuterCancellationReachesAwaitablesInNestedScopes() throws Exception {
        CancelScope outer = CancelScope.create();
        CancelScope middle = CancelScope.create();
        CancelScope inner = CancelScope.create();
        List<String> log = new ArrayList<>();

        Object result = EventLoop.run(() -> {
            CompletionStage<Void> body = outer.run(() -> middle.run(() -> inner.run(() -> Async.sleep(LONG))
                    .thenRun(() -> log.add("after inner"))).thenRun(() -> log.add("after middle")));
            return Async.checkpoint().thenCompose(v -> {
                outer.cancel();
                assertThat(inner.isCancelled()).isTrue();
                return body;
            });
        });

        assertThat(result).isNull();
        assertThat(log).isEmpty();
        assertThat(inner.cancelCalled()).isFalse();
        assertThat(inner.cancelledCaught()).isFalse();
        assertThat(middle.cancelledCaught()).isFalse();
        assertThat(outer.cancelledCaught()).isTrue();
    }

    @Test
    void aScopeEnteredInsideACancelledScopeStartsCancelled() throws Exception {
        CancelScope outer = CancelScope.create();
        CancelScope inner = CancelScope.create();

        Object result = EventLoop.run(() -> outer.run(() -> {
            outer.cancel();
            return inner.run(() -> Async.sleep(LONG));
        }));

        assertThat(result).isNull();
        assertThat(inner.isCancelled()).isTrue();
        assertThat(inner.cancelledCaught()).isFalse();
        assertThat(outer.cancelledCaught()).isTrue();
    }

    @Test
    void aScopeIsEnteredOnlyOnce() throws Exception {
        CancelScope scope = CancelScope.create();

        EventLoop.run(() -> scope.run(() -> CompletableFuture.completedFuture("first")).thenCompose(v -> {
            assertThatIllegalStateException().isThrownBy(() -> scope.run(() -> CompletableFuture.completedFuture("x")))
                    .withMessageContaining("already been entered");
            return Async.checkpoint();
        }));
        assertThatIllegalStateException()
                .isThrownBy(() -> EventLoop.run(() -> scope.run(() -> CompletableFuture.completedFuture("again"))))
                .withMessageContaining("already been entered");
    }

    @Test
    void aScopeCannotBeEnteredFromInsideItself() throws Exception {
        CancelScope scope = CancelScope.create();

        EventLoop.run(() -> scope.run(() -> {
            assertThatIllegalStateException().isThrownBy(() -> scope.run(() -> CompletableFuture.completedFuture("x")))
                    .withMessageContaining("already been entered");
            return CompletableFuture.completedFuture(null);
        }));
    }

    @Test
    void runOffTheLoopFails() {
        assertThatIllegalStateException()
                .isThrownBy(() -> CancelScope.create().run(() -> CompletableFuture.completedFuture("x")))
                .withMessageContaining("CancelScope.run must be called from async code on an event loop thread");
        assertThatIllegalStateException().isThrownBy(CancelScope::current)
                .withMessageContaining("CancelScope.current()");
    }

    // ---------------------------------------------------------------------------------------------
    // Task and scope identity across callback chains

    @Test
    void taskAndScopeIdentitySurviveADeepCallbackChain() throws Exception {
        Event waiting = new Event();
        Event event = new Event();
        List<String> levels = new ArrayList<>();
        CompletableFuture<String> foreign = new CompletableFuture<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("A", () -> {
                CancelScope scope = CancelScope.create();
                return scope.run(() -> {
                    expectIdentity(levels, "start", "A", scope);
                    return Async.sleep(Duration.ofMillis(5))
                            .thenCompose(v -> {
                                expectIdentity(levels, "after sleep", "A", scope);
                                return ToThread.runSync(() -> Thread.currentThread().getName());
                            })
                            .thenCompose(worker -> {
                                expectIdentity(levels, "after runSync", "A", scope);
                                return Async.sleep(Duration.ofMillis(5));
                            })
                            .thenCompose(v -> {
                                expectIdentity(levels, "after second sleep", "A", scope);
                                waiting.set();
                                return event.await();
                            })
                            .thenCompose(v -> {
                                expectIdentity(levels, "after event set by B", "A", scope);
                                CompletableFuture.runAsync(() -> foreign.complete("from another thread"));
                                return Async.await(foreign);
                            })
                            .thenCompose(v -> {
                                expectIdentity(levels, "after a foreign stage", "A", scope);
                                CancelScope inner = CancelScope.create();
                                return inner.run(() -> Async.sleep(Duration.ofMillis(1)).thenRun(() ->
                                        expectIdentity(levels, "inside a nested scope", "A", inner)));
                            })
                            .thenApplyAsync(v -> {
                                expectIdentity(levels, "in thenApplyAsync", "A", scope);
                                return v;
                            })
                            .thenCompose(v -> Async.checkpoint())
                            .thenRun(() -> expectIdentity(levels, "end", "A", scope));
                });
            });
            tg.startSoon("B", () -> waiting.await().thenCompose(v -> Async.sleep(Duration.ofMillis(5))).thenRun(() -> {
                expectIdentity(levels, "B before set", "B", tg.cancelScope());
                event.set();
                expectIdentity(levels, "B after set", "B", tg.cancelScope());
            }));
            return CompletableFuture.completedFuture(null);
        }));

        assertThat(levels).containsExactly("start", "after sleep", "after runSync", "after second sleep",
                "B before set", "B after set", "after event set by B", "after a foreign stage",
                "inside a nested scope", "in thenApplyAsync", "end");
    }

    @Test
    void aContinuationWokenByAnotherTaskRunsInTheWaitersTaskAndScope() throws Exception {
        Event event = new Event();
        List<String> seen = new ArrayList<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("A", () -> {
                CancelScope scope = CancelScope.create();
                return scope.run(() -> event.await().thenRun(() -> {
                    seen.add(Async.currentTask().name());
                    seen.add(CancelScope.current() == scope ? "A's scope" : "another scope");
                }));
            });
            tg.startSoon("B", () -> Async.checkpoint().thenRun(event::set));
            return CompletableFuture.completedFuture(null);
        }));

        assertThat(seen).containsExactly("A", "A's scope");
    }

    @Test
    void awaitablesCreatedDeepInAChainBelongToTheScopeThatStartedIt() throws Exception {
        CancelScope scope = CancelScope.create();
        long start = System.nanoTime();

        Object result = EventLoop.run(() -> {
            CompletionStage<Void> body = scope.run(() -> Async.sleep(Duration.ofMillis(1))
                    .thenCompose(v -> ToThread.runSync(() -> "worker"))
                    .thenCompose(v -> Async.checkpoint())
                    .thenCompose(v -> Async.sleep(LONG)));
            return Async.sleep(Duration.ofMillis(100)).thenCompose(v -> {
                scope.cancel();
                return body;
            });
        });

        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void toStringShowsStateAndFlags() throws Exception {
        CancelScope scope = CancelScope.create();
        assertThat(scope.toString()).matches("CancelScope#\\d+\\[new\\]");

        EventLoop.run(() -> scope.run(() -> {
            assertThat(scope.toString()).matches("CancelScope#\\d+\\[entered\\]");
            scope.cancel();
            return Async.checkpoint();
        }));

        assertThat(scope.toString()).matches("CancelScope#\\d+\\[exited, cancel called, cancelled caught\\]");
    }

    // ---------------------------------------------------------------------------------------------

    private static void expectIdentity(List<String> levels, String level, String task, CancelScope scope) {
        assertThat(Async.currentTask().name()).as("task at %s", level).isEqualTo(task);
        assertThat(CancelScope.current()).as("scope at %s", level).isSameAs(scope);
        levels.add(level);
    }
}
