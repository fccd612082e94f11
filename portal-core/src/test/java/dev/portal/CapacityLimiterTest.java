package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link CapacityLimiter}: AnyIO 4.8's {@code TestCapacityLimiter} in Java form, the rules AnyIO's
 * implementation adds (section 2.8 of the behaviour catalogue), and regression tests for AnyIO's
 * limiter bugs #1170, #947 and PR #1223.
 */
class CapacityLimiterTest {

    private static final Duration BOUND = Duration.ofSeconds(10);

    // ---------------------------------------------------------------------------------------------
    // Totals

    @Test
    void negativeTotalIsRejectedNamingTheFieldBoundAndValue() {
        assertThatIllegalArgumentException().isThrownBy(() -> new CapacityLimiter(-1))
                .withMessage("totalTokens must be >= 0 (was -1)");
    }

    @Test
    void settingANegativeTotalIsRejectedAndKeepsTheOldTotal() {
        CapacityLimiter limiter = new CapacityLimiter(3);

        assertThatIllegalArgumentException().isThrownBy(() -> limiter.setTotalTokens(-5))
                .withMessage("totalTokens must be >= 0 (was -5)");
        assertThat(limiter.totalTokens()).isEqualTo(3);
    }

    @Test
    void zeroTotalPausesTheLimiterUntilItIsRaised() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(0);
        assertThat(limiter.availableTokens()).isZero();
        assertThatThrownBy(() -> limiter.acquireOnBehalfOfNowait("nowait")).isInstanceOf(WouldBlockException.class);

        String result = EventLoop.run(() -> {
            CompletionStage<Void> acquired = limiter.acquire();
            return Async.sleep(Duration.ofMillis(50)).thenCompose(v -> {
                assertThat(isDone(acquired)).as("acquired while paused").isFalse();
                assertThat(limiter.statistics().tasksWaiting()).isEqualTo(1);
                limiter.setTotalTokens(1);
                return within(BOUND, acquired);
            }).thenApply(v -> {
                assertThat(limiter.borrowedTokens()).isEqualTo(1);
                limiter.release();
                return "acquired after raise";
            });
        });

        assertThat(result).isEqualTo("acquired after raise");
        assertThat(limiter.borrowedTokens()).isZero();
    }

    // ---------------------------------------------------------------------------------------------
    // Borrowing and releasing

    @Test
    void borrowingATokenUpdatesTotalAvailableAndBorrowed() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(2);
        assertCounts(limiter, 2, 2, 0);

        EventLoop.run(() -> limiter.acquire().thenApply(v -> {
            assertCounts(limiter, 2, 1, 1);
            limiter.release();
            assertCounts(limiter, 2, 2, 0);
            return null;
        }));

        assertCounts(limiter, 2, 2, 0);
    }

    @Test
    void oneTokenAdmitsOneTaskAtATime() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger maxInside = new AtomicInteger();
        AtomicInteger entries = new AtomicInteger();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            for (int t = 0; t < 3; t++) {
                tg.startSoon("contender-" + t, () -> repeat(5, () -> limiter.acquire().thenCompose(v -> {
                    maxInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
                    entries.incrementAndGet();
                    return Async.sleep(Duration.ofMillis(2)).whenComplete((x, e) -> {
                        inside.decrementAndGet();
                        limiter.release();
                    });
                })));
            }
            return done();
        }));

        assertThat(entries.get()).isEqualTo(15);
        assertThat(maxInside.get()).isEqualTo(1);
        assertThat(limiter.borrowedTokens()).isZero();
    }

    @Test
    void borrowingTwiceFailsAtOnceEvenWhenTheLimiterIsFull() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);

        EventLoop.run(() -> limiter.acquire().thenApply(v -> {
            assertThat(limiter.availableTokens()).isZero();
            assertThatIllegalStateException().isThrownBy(limiter::acquire)
                    .withMessageContaining("already holds one of this CapacityLimiter's tokens");
            assertThatIllegalStateException().isThrownBy(limiter::acquireNowait)
                    .withMessageContaining("already holds one of this CapacityLimiter's tokens");
            assertThat(limiter.statistics().tasksWaiting()).as("the second acquire must not queue").isZero();
            limiter.release();
            return null;
        }));

        limiter.acquireOnBehalfOfNowait("holder");
        assertThatIllegalStateException().as("checked before WouldBlock")
                .isThrownBy(() -> limiter.acquireOnBehalfOfNowait("holder"))
                .withMessage("borrower holder already holds one of this CapacityLimiter's tokens; release it before "
                        + "acquiring another");
    }

    @Test
    void releasingWithoutHoldingATokenFails() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);

        assertThatIllegalStateException().isThrownBy(() -> limiter.releaseOnBehalfOf("nobody"))
                .withMessage("borrower nobody isn't holding any of this CapacityLimiter's tokens");

        EventLoop.run(() -> {
            assertThatIllegalStateException().isThrownBy(limiter::release)
                    .withMessageContaining("isn't holding any of this CapacityLimiter's tokens");
            return done();
        });
        assertThat(limiter.availableTokens()).isEqualTo(1);
    }

    @Test
    void aTaskCannotReleaseAnotherTasksToken() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        Event acquired = new Event();
        Event tried = new Event();
        AtomicReference<Throwable> failure = new AtomicReference<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("owner", () -> limiter.acquire()
                    .thenCompose(v -> {
                        acquired.set();
                        return tried.await();
                    })
                    .whenComplete((v, e) -> limiter.release()));
            tg.startSoon("other", () -> acquired.await().thenRun(() -> {
                try {
                    limiter.release();
                } catch (IllegalStateException e) {
                    failure.set(e);
                }
                tried.set();
            }));
            return done();
        }));

        assertThat(failure.get()).hasMessageContaining("borrower Task[other] isn't holding any");
        assertThat(limiter.borrowedTokens()).isZero();
    }

    @Test
    void borrowersMayBeAnyObject() {
        CapacityLimiter limiter = new CapacityLimiter(2);
        Object token = new Object();

        limiter.acquireOnBehalfOfNowait("a string");
        limiter.acquireOnBehalfOfNowait(token);

        assertThat(limiter.statistics().borrowers()).containsExactlyInAnyOrder("a string", token);
        limiter.releaseOnBehalfOf(token);
        limiter.releaseOnBehalfOf("a string");
        assertThat(limiter.statistics().borrowers()).isEmpty();
    }

    // ---------------------------------------------------------------------------------------------
    // Raising and lowering the total

    @Test
    void raisingTheTotalLetsAWaiterIn() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);

        EventLoop.run(() -> {
            limiter.acquireOnBehalfOfNowait("holder");
            CompletionStage<Void> waiter = limiter.acquireOnBehalfOf("waiter");
            return Async.checkpoint().thenCompose(v -> {
                assertThat(isDone(waiter)).isFalse();
                limiter.setTotalTokens(2);
                return within(BOUND, waiter);
            });
        });

        assertThat(limiter.statistics().borrowers()).containsExactlyInAnyOrder("holder", "waiter");
    }

    @Test
    void raisingTheTotalLetsWaitersAndFreshAcquirersIn() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        List<String> admitted = new ArrayList<>();

        EventLoop.run(() -> {
            limiter.acquireOnBehalfOfNowait("inside");
            CompletionStage<Void> waiter = limiter.acquireOnBehalfOf("waiter").thenRun(() -> admitted.add("waiter"));
            return Async.checkpoint().thenCompose(v -> {
                limiter.setTotalTokens(3);
                CompletionStage<Void> fresh = limiter.acquireOnBehalfOf("fresh").thenRun(() -> admitted.add("fresh"));
                return within(BOUND, waiter).thenCompose(x -> within(BOUND, fresh));
            });
        });

        assertThat(admitted).containsExactlyInAnyOrder("waiter", "fresh");
        assertThat(limiter.borrowedTokens()).isEqualTo(3);
    }

    @Test
    void raisingTheTotalWakesWaitersInFifoOrderUpToTheNewTotal() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(0);

        EventLoop.run(() -> {
            List<CompletionStage<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                waiters.add(limiter.acquireOnBehalfOf("w" + i));
            }
            limiter.setTotalTokens(2);
            assertThat(limiter.statistics().borrowers()).containsExactlyInAnyOrder("w0", "w1");
            assertThat(limiter.statistics().tasksWaiting()).isEqualTo(2);
            return Async.checkpoint().thenRun(() -> {
                assertThat(waiters).extracting(CapacityLimiterTest::isDone).containsExactly(true, true, false, false);
                limiter.setTotalTokens(10);
                assertThat(limiter.statistics().tasksWaiting()).isZero();
            });
        });

        assertThat(limiter.borrowedTokens()).isEqualTo(4);
    }

    @Test
    void loweringTheTotalBelowTheBorrowedCountEvictsNobody() {
        CapacityLimiter limiter = new CapacityLimiter(3);
        limiter.acquireOnBehalfOfNowait("a");
        limiter.acquireOnBehalfOfNowait("b");
        limiter.acquireOnBehalfOfNowait("c");

        limiter.setTotalTokens(1);

        assertCounts(limiter, 1, -2, 3);
        assertThat(limiter.statistics().borrowers()).containsExactlyInAnyOrder("a", "b", "c");
        assertThatThrownBy(() -> limiter.acquireOnBehalfOfNowait("d")).isInstanceOf(WouldBlockException.class);
        limiter.releaseOnBehalfOf("a");
        limiter.releaseOnBehalfOf("b");
        assertCounts(limiter, 1, 0, 1);
        assertThatThrownBy(() -> limiter.acquireOnBehalfOfNowait("d")).isInstanceOf(WouldBlockException.class);
        limiter.releaseOnBehalfOf("c");
        limiter.acquireOnBehalfOfNowait("d");
        assertCounts(limiter, 1, 0, 1);
    }

    // ---------------------------------------------------------------------------------------------
    // Statistics, order, non-blocking acquires

    @Test
    void statisticsCountWaitersBorrowersAcquisitionsAndWaitTime() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        CapacityLimiterStatistics initial = limiter.statistics();
        assertThat(initial.totalTokens()).isEqualTo(1);
        assertThat(initial.borrowedTokens()).isZero();
        assertThat(initial.availableTokens()).isEqualTo(1);
        assertThat(initial.tasksWaiting()).isZero();
        assertThat(initial.borrowers()).isEmpty();
        assertThat(initial.acquisitions()).isZero();
        assertThat(initial.waitedAcquisitions()).isZero();
        assertThat(initial.totalWaitTime()).isZero();
        List<Integer> waiting = new ArrayList<>();

        EventLoop.run(() -> limiter.acquire().thenCompose(v -> TaskGroup.open(tg -> {
            CapacityLimiterStatistics held = limiter.statistics();
            assertThat(held.borrowedTokens()).isEqualTo(1);
            assertThat(held.borrowers()).singleElement().hasToString("Task[main]");
            waiting.add(held.tasksWaiting());
            tg.startSoon("first", () -> limiter.acquire().thenRun(limiter::release));
            return Async.checkpoint().thenCompose(x -> {
                waiting.add(limiter.statistics().tasksWaiting());
                tg.startSoon("second", () -> limiter.acquire().thenRun(limiter::release));
                return Async.checkpoint();
            }).thenCompose(x -> {
                waiting.add(limiter.statistics().tasksWaiting());
                return Async.sleep(Duration.ofMillis(20));
            }).thenRun(limiter::release);
        })));

        assertThat(waiting).containsExactly(0, 1, 2);
        CapacityLimiterStatistics after = limiter.statistics();
        assertThat(after.borrowedTokens()).isZero();
        assertThat(after.tasksWaiting()).isZero();
        assertThat(after.borrowers()).isEmpty();
        assertThat(after.acquisitions()).isEqualTo(3);
        assertThat(after.waitedAcquisitions()).isEqualTo(2);
        assertThat(after.totalWaitTime()).isGreaterThanOrEqualTo(Duration.ofMillis(20));
    }

    @Test
    void waitTimeCountsCancelledWaitersAndThoseStillQueued() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(0);
        List<Duration> whileQueued = new ArrayList<>();
        EventLoop.run(() -> {
            CancelScope scope = CancelScope.create();
            CompletionStage<Void> waiting = scope.run(() -> limiter.acquireOnBehalfOf("queued").handle((v, e) -> null));
            return Async.sleep(Duration.ofMillis(30)).thenCompose(x -> {
                whileQueued.add(limiter.statistics().totalWaitTime());
                return Async.sleep(Duration.ofMillis(30));
            }).thenCompose(x -> {
                whileQueued.add(limiter.statistics().totalWaitTime());
                scope.cancel();
                return waiting;
            });
        });
        CapacityLimiterStatistics after = limiter.statistics();
        assertThat(whileQueued.get(0)).as("a waiter still queued counts up to the snapshot")
                .isGreaterThanOrEqualTo(Duration.ofMillis(30));
        assertThat(whileQueued.get(1)).isGreaterThanOrEqualTo(whileQueued.get(0).plusMillis(30));
        assertThat(after.totalWaitTime()).as("a cancelled waiter's time stays counted")
                .isGreaterThanOrEqualTo(Duration.ofMillis(60));
        assertThat(after.waitedAcquisitions()).isZero();
        assertThat(after.tasksWaiting()).isZero();
        Thread.sleep(20);
        assertThat(limiter.statistics().totalWaitTime()).as("nobody queued: the total stops growing")
                .isEqualTo(after.totalWaitTime());
    }

    @Test
    void statisticsAreAnImmutableSnapshot() {
        CapacityLimiter limiter = new CapacityLimiter(2);
        limiter.acquireOnBehalfOfNowait("a");
        CapacityLimiterStatistics snapshot = limiter.statistics();

        limiter.acquireOnBehalfOfNowait("b");

        assertThat(snapshot.borrowedTokens()).isEqualTo(1);
        assertThat(snapshot.borrowers()).containsExactly("a");
        assertThatThrownBy(() -> snapshot.borrowers().add("c")).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void waitersAcquireInFifoOrder() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        List<Integer> order = new ArrayList<>();

        EventLoop.run(() -> {
            limiter.acquireOnBehalfOfNowait("holder");
            return TaskGroup.open(tg -> {
                for (int i = 0; i < 3; i++) {
                    int n = i;
                    tg.startSoon(() -> limiter.acquire().thenRun(() -> {
                        order.add(n);
                        limiter.release();
                    }));
                }
                return Async.checkpoint().thenRun(() -> {
                    assertThat(limiter.statistics().tasksWaiting()).isEqualTo(3);
                    limiter.releaseOnBehalfOf("holder");
                });
            });
        });

        assertThat(order).containsExactly(0, 1, 2);
    }

    @Test
    void nowaitAcquireFailsWithWouldBlockWhenNoTokenIsFree() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        limiter.acquireOnBehalfOfNowait("a");

        assertThatThrownBy(() -> limiter.acquireOnBehalfOfNowait("b")).isInstanceOf(WouldBlockException.class)
                .hasMessageContaining("CapacityLimiter[1/1 borrowed, 0 waiting]");
        EventLoop.run(() -> {
            assertThatThrownBy(limiter::acquireNowait).isInstanceOf(WouldBlockException.class);
            assertThat(limiter.statistics().tasksWaiting()).isZero();
            return done();
        });
        assertThat(limiter.statistics().borrowers()).containsExactly("a");
    }

    @Test
    void nowaitAcquireFailsWithWouldBlockWhileOthersAreQueued() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);

        EventLoop.run(() -> {
            limiter.acquireOnBehalfOfNowait("holder");
            CompletionStage<Void> waiter = limiter.acquireOnBehalfOf("queued");
            assertThatThrownBy(() -> limiter.acquireOnBehalfOfNowait("late")).isInstanceOf(WouldBlockException.class)
                    .hasMessageContaining("1 waiting");
            assertThatThrownBy(limiter::acquireNowait).isInstanceOf(WouldBlockException.class);
            limiter.releaseOnBehalfOf("holder");
            return within(BOUND, waiter);
        });

        assertThat(limiter.statistics().borrowers()).containsExactly("queued");
    }

    @Test
    void nowaitAcquireSucceedsWhenATokenIsFree() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(2);

        EventLoop.run(() -> {
            limiter.acquireNowait();
            assertThat(limiter.statistics().borrowers()).singleElement().hasToString("Task[main]");
            limiter.release();
            return done();
        });

        assertThat(limiter.borrowedTokens()).isZero();
        assertThat(limiter.statistics().acquisitions()).isEqualTo(1);
        assertThat(limiter.statistics().waitedAcquisitions()).isZero();
    }

    @Test
    void taskBorrowingMethodsOutsideAnyTaskFailNamingTheOnBehalfOfVariants() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        CompletableFuture<Throwable> failure = new CompletableFuture<>();
        try (EventLoop loop = EventLoop.start()) {
            loop.execute(() -> {
                try {
                    limiter.acquireNowait();
                    failure.complete(null);
                } catch (Throwable t) {
                    failure.complete(t);
                }
            });
            assertThat(failure.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("outside any task")
                    .hasMessageContaining("OnBehalfOf");
        }
    }

    @Test
    void waitingAcquiresFailOffTheEventLoop() {
        CapacityLimiter limiter = new CapacityLimiter(1);

        assertThatIllegalStateException().isThrownBy(limiter::acquire)
                .withMessageContaining("CapacityLimiter.acquire() must be called from async code on an event loop thread");
        assertThatIllegalStateException().isThrownBy(() -> limiter.acquireOnBehalfOf("x"))
                .withMessageContaining("event loop thread");
        assertThatIllegalStateException().isThrownBy(limiter::release).withMessageContaining("event loop thread");
    }

    @Test
    void releaseOnBehalfFromAnotherThreadWakesALoopWaiter() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        limiter.acquireOnBehalfOfNowait("external");
        AtomicReference<Throwable> releaserFailure = new AtomicReference<>();
        String loopThread = Thread.currentThread().getName();
        List<Thread> releasers = new ArrayList<>();

        String seen = EventLoop.run(() -> {
            CompletionStage<Void> acquired = limiter.acquire();
            assertThat(limiter.statistics().tasksWaiting()).isEqualTo(1);
            Thread releaser = new Thread(() -> {
                try {
                    limiter.releaseOnBehalfOf("external");
                } catch (Throwable t) {
                    releaserFailure.set(t);
                }
            }, "releaser");
            releasers.add(releaser);
            releaser.start();
            return within(BOUND, acquired).thenApply(v -> {
                String where = Thread.currentThread().getName() + "/" + Async.currentTask().name();
                limiter.release();
                return where;
            });
        });

        releasers.get(0).join(BOUND.toMillis());
        assertThat(releaserFailure.get()).isNull();
        assertThat(seen).isEqualTo(loopThread + "/main");
        assertThat(limiter.borrowedTokens()).isZero();
    }

    // ---------------------------------------------------------------------------------------------
    // Cancellation

    @Test
    void cancellingAQueuedAcquireRemovesTheWaiter() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        CancelScope scope = CancelScope.create();

        Object result = EventLoop.run(() -> {
            limiter.acquireOnBehalfOfNowait("holder");
            CompletionStage<String> inScope = scope.run(() -> limiter.acquire().thenApply(v -> "acquired"));
            return Async.checkpoint().thenCompose(v -> {
                assertThat(limiter.statistics().tasksWaiting()).isEqualTo(1);
                scope.cancel();
                return inScope;
            }).thenApply(r -> {
                assertThat(limiter.statistics().tasksWaiting()).isZero();
                limiter.releaseOnBehalfOf("holder");
                assertThat(limiter.borrowedTokens()).as("nobody is granted the freed token").isZero();
                return r;
            });
        });

        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
        assertThat(limiter.statistics().acquisitions()).isEqualTo(1);
    }

    @Test
    void aBorrowerAlreadyWaitingCannotQueueAgainAndLosesNoToken() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        CancelScope first = CancelScope.create();

        EventLoop.run(() -> {
            limiter.acquireOnBehalfOfNowait("holder");
            CompletionStage<Void> queued = limiter.acquireOnBehalfOf("b");
            assertThatIllegalStateException().isThrownBy(() -> limiter.acquireOnBehalfOf("b"))
                    .withMessage("borrower b is already waiting for one of this CapacityLimiter's tokens; a borrower "
                            + "holds at most one");
            assertThat(limiter.statistics().tasksWaiting()).isEqualTo(1);
            limiter.releaseOnBehalfOf("holder");
            return queued.thenCompose(v -> {
                limiter.releaseOnBehalfOf("b");
                // Withdrawn by a cancellation, the borrower may queue again.
                limiter.acquireOnBehalfOfNowait("holder");
                CompletionStage<Void> cancelled = first.run(() -> limiter.acquireOnBehalfOf("c"));
                first.cancel();
                return cancelled.handle((x, e) -> null);
            }).thenCompose(v -> {
                CompletionStage<Void> again = limiter.acquireOnBehalfOf("c");
                limiter.releaseOnBehalfOf("holder");
                return again;
            }).thenRun(() -> limiter.releaseOnBehalfOf("c"));
        });

        assertThat(limiter.borrowedTokens()).isZero();
        assertThat(limiter.availableTokens()).isEqualTo(1);
        assertThat(limiter.statistics().tasksWaiting()).isZero();
    }

    @Test
    void acquireInACancelledScopeFailsAtOnceEvenWithAFreeToken() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(5);
        CancelScope scope = CancelScope.create();
        scope.cancel();

        EventLoop.run(() -> scope.run(() -> {
            CompletionStage<Void> acquire = limiter.acquire();
            assertThat(acquire.toCompletableFuture()).isCompletedExceptionally();
            assertThat(Outcomes.failureOf(acquire)).isInstanceOf(CancelledException.class);
            CompletionStage<Void> onBehalf = limiter.acquireOnBehalfOf("other");
            assertThat(onBehalf.toCompletableFuture()).isCompletedExceptionally();
            return acquire;
        }));

        assertThat(scope.cancelledCaught()).isTrue();
        assertThat(limiter.borrowedTokens()).isZero();
        assertThat(limiter.statistics().tasksWaiting()).isZero();
    }

    // ---------------------------------------------------------------------------------------------
    // Regressions of AnyIO's limiter bugs

    /** AnyIO #1170: the token freed for a woken waiter must not go to a nowait acquire in between. */
    @Test
    void aNowaitAcquireCannotTakeATokenFreedForAWaiter() throws Exception {
        EventLoop.run(() -> repeat(300, () -> {
            CapacityLimiter limiter = new CapacityLimiter(1);
            limiter.acquireOnBehalfOfNowait("holder");
            CompletionStage<Void> waiter = limiter.acquireOnBehalfOf("waiter");

            limiter.releaseOnBehalfOf("holder");

            assertThatThrownBy(() -> limiter.acquireOnBehalfOfNowait("intruder"))
                    .isInstanceOf(WouldBlockException.class);
            assertThat(limiter.statistics().borrowers()).containsExactly("waiter");
            return within(BOUND, waiter).thenRun(() -> {
                assertThat(limiter.borrowedTokens()).isEqualTo(1);
                limiter.releaseOnBehalfOf("waiter");
            });
        }));
    }

    /** AnyIO #1170 with the release and the nowait acquires on other threads than the waiter's. */
    @Test
    void aNowaitAcquireRacingAReleaseFromAnotherThreadNeverOverGrants() throws Exception {
        ExecutorService threads = Executors.newFixedThreadPool(2);
        AtomicInteger intruderWins = new AtomicInteger();
        try {
            EventLoop.run(() -> repeat(200, () -> {
                CapacityLimiter limiter = new CapacityLimiter(1);
                limiter.acquireOnBehalfOfNowait("holder");
                CompletionStage<Void> waiter = limiter.acquireOnBehalfOf("waiter");
                AtomicBoolean granted = new AtomicBoolean();
                CountDownLatch go = new CountDownLatch(1);
                CompletableFuture<Void> intruder = CompletableFuture.runAsync(() -> {
                    await(go);
                    while (!granted.get()) {
                        try {
                            limiter.acquireOnBehalfOfNowait("intruder");
                            intruderWins.incrementAndGet();
                            limiter.releaseOnBehalfOf("intruder");
                        } catch (WouldBlockException expected) {
                            Thread.yield();
                        }
                    }
                }, threads);
                CompletableFuture<Void> release = CompletableFuture.runAsync(() -> {
                    await(go);
                    limiter.releaseOnBehalfOf("holder");
                }, threads);
                go.countDown();
                return within(BOUND, waiter).thenCompose(v -> {
                    granted.set(true);
                    return within(BOUND, intruder).thenCompose(x -> within(BOUND, release));
                }).thenRun(() -> {
                    assertThat(limiter.statistics().borrowers()).containsExactly("waiter");
                    limiter.releaseOnBehalfOf("waiter");
                });
            }));
        } finally {
            threads.shutdownNow();
            assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }

        assertThat(intruderWins.get()).as("nowait acquires that took the waiter's token").isZero();
    }

    /** AnyIO #947: a waiter cancelled as it is granted must hand the token on, not lose it. */
    @Test
    void aWaiterGrantedAndCancelledInTheSameTurnDoesNotLoseTheToken() throws Exception {
        EventLoop.run(() -> repeat(200, () -> {
            CapacityLimiter limiter = new CapacityLimiter(1);
            limiter.acquireOnBehalfOfNowait("holder");
            CancelScope scope = CancelScope.create();
            CompletionStage<Void> cancelled = scope.run(() -> limiter.acquire()
                    .thenCompose(v -> Async.checkpoint().whenComplete((x, e) -> limiter.release())));
            CompletionStage<Void> next = limiter.acquireOnBehalfOf("next");

            limiter.releaseOnBehalfOf("holder");
            scope.cancel();

            return within(BOUND, cancelled).thenCompose(v -> within(BOUND, next)).thenRun(() -> {
                assertThat(limiter.statistics().borrowers()).containsExactly("next");
                limiter.releaseOnBehalfOf("next");
                assertThat(limiter.statistics().tasksWaiting()).isZero();
            });
        }));
    }

    /** AnyIO #947, the other order: cancelled first, then the release in the same turn. */
    @Test
    void aWaiterCancelledJustBeforeTheReleaseIsSkipped() throws Exception {
        EventLoop.run(() -> repeat(200, () -> {
            CapacityLimiter limiter = new CapacityLimiter(1);
            limiter.acquireOnBehalfOfNowait("holder");
            CancelScope scope = CancelScope.create();
            AtomicBoolean ran = new AtomicBoolean();
            CompletionStage<Void> cancelled = scope.run(() -> limiter.acquire().thenRun(() -> {
                ran.set(true);
                limiter.release();
            }));
            CompletionStage<Void> next = limiter.acquireOnBehalfOf("next");

            scope.cancel();
            limiter.releaseOnBehalfOf("holder");

            assertThat(limiter.statistics().borrowers()).containsExactly("next");
            return within(BOUND, cancelled).thenCompose(v -> within(BOUND, next)).thenRun(() -> {
                assertThat(ran).isFalse();
                assertThat(scope.cancelledCaught()).isTrue();
                limiter.releaseOnBehalfOf("next");
            });
        }));
    }

    /** AnyIO #947 as a race: the release comes from another thread while the loop cancels the waiter. */
    @Test
    void aWaiterCancelledWhileAnotherThreadReleasesNeverLosesTheToken() throws Exception {
        ExecutorService threads = Executors.newSingleThreadExecutor();
        try {
            EventLoop.run(() -> repeat(200, () -> {
                CapacityLimiter limiter = new CapacityLimiter(1);
                limiter.acquireOnBehalfOfNowait("holder");
                CancelScope scope = CancelScope.create();
                CompletionStage<Void> cancelled = scope.run(() -> limiter.acquire()
                        .thenCompose(v -> Async.checkpoint().whenComplete((x, e) -> limiter.release())));
                CompletionStage<Void> next = limiter.acquireOnBehalfOf("next");

                CompletableFuture<Void> release = CompletableFuture.runAsync(
                        () -> limiter.releaseOnBehalfOf("holder"), threads);
                scope.cancel();

                return within(BOUND, release).thenCompose(v -> within(BOUND, cancelled))
                        .thenCompose(v -> within(BOUND, next)).thenRun(() -> {
                            assertThat(limiter.statistics().borrowers()).containsExactly("next");
                            limiter.releaseOnBehalfOf("next");
                            assertThat(limiter.statistics().tasksWaiting()).isZero();
                        });
            }));
        } finally {
            threads.shutdownNow();
            assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
    }

    /**
     * AnyIO #947 in lock step: another thread's release grants the token to a waiter at the very
     * moment the loop cancels it. Whichever wins, the token must reach the next waiter. The window
     * is a few instructions wide, so the threads meet for up to 20,000 limiters or 4 seconds, and for
     * at least 501 however long a busy machine makes them (about 30 a second with both cores taken).
     */
    @Test
    void aWaiterCancelledAsAnotherThreadGrantsItHandsTheTokenOn() throws Exception {
        int attempts = 20_000;
        long budget = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
        int minRounds = 500;
        CapacityLimiter[] limiters = new CapacityLimiter[attempts];
        CancelScope[] scopes = new CancelScope[attempts];
        List<CompletableFuture<Void>> nexts = new ArrayList<>();
        for (int i = 0; i < attempts; i++) {
            limiters[i] = new CapacityLimiter(1);
            limiters[i].acquireOnBehalfOfNowait("holder");
            scopes[i] = CancelScope.create();
            nexts.add(new CompletableFuture<>());
        }
        AtomicInteger ready = new AtomicInteger(-1);
        AtomicInteger cancelling = new AtomicInteger(-1);
        AtomicInteger stopAt = new AtomicInteger(attempts);
        CompletableFuture<Integer> cancelled = new CompletableFuture<>();
        int raced = 0;
        try (EventLoop loop = EventLoop.start()) {
            loop.execute(() -> {
                int i = 0;
                try {
                    for (; i < stopAt.get(); i++) {
                        CapacityLimiter limiter = limiters[i];
                        scopes[i].run(() -> limiter.acquireOnBehalfOf("first")
                                .thenRun(() -> limiter.releaseOnBehalfOf("first")));
                        limiter.acquireOnBehalfOf("next").whenComplete(complete(nexts.get(i)));
                        if (!Races.spinUntil(ready, i, stopAt)) {
                            break;
                        }
                        cancelling.set(i);
                        scopes[i].cancel();
                    }
                    cancelled.complete(i);
                } catch (Throwable t) {
                    cancelled.completeExceptionally(t);
                }
            });
            for (; raced < attempts && (raced <= minRounds || System.nanoTime() - budget < 0); raced++) {
                ready.set(raced);
                if (!Races.spinUntil(cancelling, raced, stopAt)) {
                    break;
                }
                limiters[raced].releaseOnBehalfOf("holder");
            }
            stopAt.set(raced);
            int cancelledCount = cancelled.get(10, TimeUnit.SECONDS);
            for (int i = raced; i < cancelledCount; i++) {
                limiters[i].releaseOnBehalfOf("holder");
            }
            List<CompletableFuture<Void>> used = nexts.subList(0, raced);

            try {
                CompletableFuture.allOf(used.toArray(new CompletableFuture<?>[0])).get(5, TimeUnit.SECONDS);
            } catch (java.util.concurrent.TimeoutException lost) {
                List<String> stuck = new ArrayList<>();
                for (int i = 0; i < raced && stuck.size() < 5; i++) {
                    if (!nexts.get(i).isDone()) {
                        stuck.add(i + ": " + limiters[i]);
                    }
                }
                long lostCount = used.stream().filter(f -> !f.isDone()).count();
                throw new AssertionError(lostCount + " of " + raced + " limiters lost the token of a waiter "
                        + "cancelled as it was granted; the next waiter never got it (first 5): " + stuck);
            }
            for (int i = 0; i < raced; i++) {
                assertThat(limiters[i].statistics().borrowers()).as("limiter %d", i).containsExactly("next");
            }
        }
        assertThat(raced).as("rounds raced").isGreaterThan(minRounds);
    }

    /**
     * AnyIO PR #1223: raising the total while the limiter is over-subscribed must grant only the
     * tokens that are really free, never {@code new - old} of them.
     */
    @Test
    void raisingTheTotalWhileOverSubscribedGrantsOnlyFreeTokens() throws Exception {
        Random random = new Random(1223);

        EventLoop.run(() -> repeat(200, () -> {
            int borrowed = 1 + random.nextInt(5);
            int lowered = random.nextInt(borrowed);
            int queued = 1 + random.nextInt(4);
            CapacityLimiter limiter = new CapacityLimiter(borrowed);
            List<String> holders = new ArrayList<>();
            for (int i = 0; i < borrowed; i++) {
                holders.add("h" + i);
                limiter.acquireOnBehalfOfNowait("h" + i);
            }
            limiter.setTotalTokens(lowered);
            List<CompletionStage<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < queued; i++) {
                waiters.add(limiter.acquireOnBehalfOf("w" + i));
            }
            String setup = "borrowed " + borrowed + ", lowered to " + lowered + ", queued " + queued;

            limiter.setTotalTokens(lowered + 1);

            assertThat(limiter.borrowedTokens()).as(setup).isEqualTo(borrowed);
            assertThat(limiter.statistics().tasksWaiting()).as(setup).isEqualTo(queued);

            int releases = random.nextInt(borrowed + 1);
            for (int i = 0; i < releases; i++) {
                limiter.releaseOnBehalfOf(holders.get(i));
            }
            int expectedGrants = Math.max(0, Math.min(queued, lowered + 1 - (borrowed - releases)));
            String step = setup + ", raised to " + (lowered + 1) + ", released " + releases;
            assertThat(limiter.statistics().tasksWaiting()).as(step).isEqualTo(queued - expectedGrants);
            assertThat(limiter.borrowedTokens()).as(step).isEqualTo(borrowed - releases + expectedGrants);
            if (expectedGrants > 0) {
                assertThat(limiter.borrowedTokens()).as(step).isLessThanOrEqualTo(limiter.totalTokens());
            }
            return Async.checkpoint().thenRun(() -> {
                for (int i = 0; i < queued; i++) {
                    assertThat(isDone(waiters.get(i))).as(step + ": waiter " + i).isEqualTo(i < expectedGrants);
                }
                limiter.setTotalTokens(borrowed + queued);
                assertThat(limiter.statistics().tasksWaiting()).as(step).isZero();
            });
        }));
    }

    // ---------------------------------------------------------------------------------------------
    // Multi-threaded stress

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES) // see runLoopTasks
    void threadsAndTasksNeverBorrowMoreThanTheTotalWhileItRises() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
        Runnable observe = () -> {
            CapacityLimiterStatistics s = limiter.statistics();
            if (s.borrowedTokens() > s.totalTokens()) {
                violations.add(s.toString());
            }
        };
        Stress stress = new Stress(limiter, 3, observe);
        stress.background(() -> {
            for (int total = 2; total <= 6 && !stress.stop.get(); total++) {
                Thread.sleep(30);
                limiter.setTotalTokens(total);
                observe.run();
            }
        });
        stress.background(() -> {
            while (!stress.stop.get()) {
                observe.run();
                Thread.yield();
            }
        });

        stress.runLoopTasks(4, 150, observe);

        assertThat(violations).isEmpty();
        stress.assertAllTokensReturned();
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES) // see runLoopTasks
    void threadsAndTasksLoseNoTokenWhileTheTotalMovesUpAndDown() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(2);
        int maxTotal = 4;
        ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
        Runnable observe = () -> {
            CapacityLimiterStatistics s = limiter.statistics();
            if (s.borrowedTokens() > maxTotal) {
                violations.add(s.toString());
            }
        };
        Stress stress = new Stress(limiter, 3, observe);
        stress.background(() -> {
            Random random = new Random(947);
            while (!stress.stop.get()) {
                limiter.setTotalTokens(random.nextInt(maxTotal + 1));
                observe.run();
                Thread.sleep(2);
            }
            limiter.setTotalTokens(3);
        });

        stress.runLoopTasks(4, 150, observe);

        assertThat(violations).isEmpty();
        stress.assertAllTokensReturned();
        assertThat(limiter.totalTokens()).isEqualTo(3);
        limiter.acquireOnBehalfOfNowait("x");
        limiter.acquireOnBehalfOfNowait("y");
        limiter.acquireOnBehalfOfNowait("z");
        assertThatThrownBy(() -> limiter.acquireOnBehalfOfNowait("w")).isInstanceOf(WouldBlockException.class);
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void toStringShowsBorrowedTotalAndWaiting() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(40);
        for (int i = 0; i < 3; i++) {
            limiter.acquireOnBehalfOfNowait("b" + i);
        }
        assertThat(limiter).hasToString("CapacityLimiter[3/40 borrowed, 0 waiting]");

        limiter.setTotalTokens(3);
        EventLoop.run(() -> {
            limiter.acquireOnBehalfOf("w1");
            limiter.acquireOnBehalfOf("w2");
            assertThat(limiter).hasToString("CapacityLimiter[3/3 borrowed, 2 waiting]");
            limiter.setTotalTokens(2);
            assertThat(limiter).hasToString("CapacityLimiter[3/2 borrowed, 2 waiting]");
            limiter.setTotalTokens(5);
            return done();
        });
        assertThat(limiter).hasToString("CapacityLimiter[5/5 borrowed, 0 waiting]");
    }

    // ---------------------------------------------------------------------------------------------
    // Support code

    /** Loop tasks acquiring and releasing while external threads take tokens on behalf of others. */
    private static final class Stress {
        final CapacityLimiter limiter;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong externalAcquisitions = new AtomicLong();
        final AtomicLong loopAcquisitions = new AtomicLong();
        final ExecutorService threads = Executors.newCachedThreadPool();
        final List<Future<?>> running = new ArrayList<>();
        long expectedLoopAcquisitions;

        Stress(CapacityLimiter limiter, int externalThreads, Runnable observe) {
            this.limiter = limiter;
            for (int i = 0; i < externalThreads; i++) {
                String borrower = "external-" + i;
                background(() -> {
                    while (!stop.get()) {
                        try {
                            limiter.acquireOnBehalfOfNowait(borrower);
                        } catch (WouldBlockException busy) {
                            Thread.yield();
                            continue;
                        }
                        externalAcquisitions.incrementAndGet();
                        observe.run();
                        limiter.releaseOnBehalfOf(borrower);
                    }
                });
            }
        }

        void background(java.util.concurrent.Callable<?> body) {
            running.add(threads.submit(body));
        }

        void background(ThrowingRunnable body) {
            background(() -> {
                body.run();
                return null;
            });
        }

        void runLoopTasks(int tasks, int iterations, Runnable observe) throws Exception {
            expectedLoopAcquisitions = (long) tasks * iterations;
            try {
                // A lost wake-up hangs the tasks; a slow machine only slows them (over 20 s seen with
                // both cores busy and three threads spinning here), so the bound is a hang guard.
                EventLoop.run(() -> within(Duration.ofMinutes(2), TaskGroup.open(tg -> {
                    for (int t = 0; t < tasks; t++) {
                        int n = t;
                        tg.startSoon("loop-" + t, () -> repeat(iterations, () -> limiter.acquire().thenCompose(v -> {
                            loopAcquisitions.incrementAndGet();
                            observe.run();
                            CompletionStage<Void> pause = (n % 2 == 0) ? Async.checkpoint()
                                    : Async.sleep(Duration.ofMillis(1));
                            return pause.whenComplete((x, e) -> {
                                observe.run();
                                limiter.release();
                            });
                        })));
                    }
                    return done();
                })));
            } finally {
                stop.set(true);
                for (Future<?> f : running) {
                    f.get(10, TimeUnit.SECONDS);
                }
                threads.shutdown();
                assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
            }
        }

        void assertAllTokensReturned() {
            CapacityLimiterStatistics s = limiter.statistics();
            assertThat(s.borrowedTokens()).as(s.toString()).isZero();
            assertThat(s.tasksWaiting()).as(s.toString()).isZero();
            assertThat(s.acquisitions()).isEqualTo(externalAcquisitions.get() + loopAcquisitions.get());
            assertThat(loopAcquisitions.get()).isEqualTo(expectedLoopAcquisitions);
            assertThat(externalAcquisitions.get()).as("external threads took tokens too").isPositive();
        }
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static void assertCounts(CapacityLimiter limiter, int total, int available, int borrowed) {
        assertThat(limiter.totalTokens()).as("total").isEqualTo(total);
        assertThat(limiter.availableTokens()).as("available").isEqualTo(available);
        assertThat(limiter.borrowedTokens()).as("borrowed").isEqualTo(borrowed);
        CapacityLimiterStatistics s = limiter.statistics();
        assertThat(s.totalTokens()).isEqualTo(total);
        assertThat(s.availableTokens()).isEqualTo(available);
        assertThat(s.borrowedTokens()).isEqualTo(borrowed);
    }

    private static boolean isDone(CompletionStage<?> stage) {
        return stage.toCompletableFuture().isDone();
    }

    private static CompletionStage<Object> done() {
        return CompletableFuture.completedFuture(null);
    }

    /** Waits on the loop for {@code stage}, failing with a TimeoutException after {@code bound}. */
    private static <T> CompletionStage<T> within(Duration bound, CompletionStage<T> stage) {
        return CancelScope.failAfter(bound, () -> Async.await(stage));
    }

    /** Runs {@code step} {@code times} times, one after another. */
    private static <T> CompletionStage<Void> repeat(int times, AsyncCallable<T> step) {
        if (times == 0) {
            return CompletableFuture.completedFuture(null);
        }
        try {
            return step.call().thenCompose(v -> repeat(times - 1, step));
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Gauges read without the lock

    @Test
    void theGaugeReadingsAndTheLoopsStatisticsDoNotWaitForTheLimitersLock() throws Exception {
        try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("lock-free-gauges").daemon(true)
                .defaultThreadLimit(2))) {
            CapacityLimiter limiter = portal.eventLoop().defaultThreadLimiter();
            CountDownLatch holding = new CountDownLatch(2);
            CountDownLatch release = new CountDownLatch(1);
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                calls.add(portal.startTaskSoon(() -> ToThread.runSync(() -> {
                    holding.countDown();
                    await(release);
                    return "done";
                })));
            }
            await(holding);
            org.awaitility.Awaitility.await().atMost(BOUND).until(() -> limiter.tasksWaiting() == 1);

            // Another thread holds the limiter's monitor: every reading below must still return.
            CountDownLatch locked = new CountDownLatch(1);
            CountDownLatch unlock = new CountDownLatch(1);
            Thread holder = new Thread(() -> {
                synchronized (limiter) {
                    locked.countDown();
                    await(unlock);
                }
            }, "limiter-lock-holder");
            holder.start();
            try {
                await(locked);
                CompletableFuture<EventLoopStatistics> stats = CompletableFuture.supplyAsync(() -> {
                    assertThat(limiter.totalTokens()).isEqualTo(2);
                    assertThat(limiter.borrowedTokens()).isEqualTo(2);
                    assertThat(limiter.availableTokens()).isZero();
                    assertThat(limiter.tasksWaiting()).isEqualTo(1);
                    return portal.eventLoop().statistics();
                });
                EventLoopStatistics snapshot = stats.get(BOUND.toSeconds(), TimeUnit.SECONDS);
                assertThat(snapshot.defaultLimiter().borrowedTokens()).isEqualTo(2);
                assertThat(snapshot.defaultLimiter().tasksWaiting()).isEqualTo(1);
                assertThat(snapshot.defaultLimiter().acquisitions()).isEqualTo(2);
                assertThat(snapshot.defaultLimiter().borrowers()).as("left out: they need the lock").isEmpty();
                assertThat(holder.isAlive()).as("the lock was held throughout").isTrue();
            } finally {
                unlock.countDown();
                holder.join(BOUND.toMillis());
                release.countDown();
            }
            for (CompletableFuture<String> call : calls) {
                assertThat(call.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo("done");
            }
            assertThat(limiter.borrowedTokens()).isZero();
            assertThat(limiter.tasksWaiting()).isZero();
            CapacityLimiterStatistics after = portal.eventLoop().statistics().defaultLimiter();
            assertThat(after.acquisitions()).isEqualTo(3);
            assertThat(after.waitedAcquisitions()).isEqualTo(1);
            assertThat(after.totalWaitTime()).isPositive();
        }
    }

    @Test
    void lockFreeReadingsAgreeWithTheLockedSnapshotWhenTheLimiterIsQuiet() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter("quiet", 3);
        Random random = new Random(12);
        List<Object> held = new ArrayList<>();
        for (int round = 0; round < 500; round++) {
            if (random.nextBoolean() && limiter.availableTokens() > 0) {
                Object b = new Object();
                limiter.acquireOnBehalfOfNowait(b);
                held.add(b);
            } else if (!held.isEmpty()) {
                limiter.releaseOnBehalfOf(held.remove(random.nextInt(held.size())));
            }
            if (round % 97 == 0) {
                limiter.setTotalTokens(2 + random.nextInt(3));
            }
            CapacityLimiterStatistics locked = limiter.statistics();
            assertThat(limiter.totalTokens()).isEqualTo(locked.totalTokens());
            assertThat(limiter.borrowedTokens()).isEqualTo(locked.borrowedTokens()).isEqualTo(held.size());
            assertThat(limiter.availableTokens()).isEqualTo(locked.availableTokens());
            assertThat(limiter.tasksWaiting()).isEqualTo(locked.tasksWaiting()).isZero();
        }
    }

    private static <T> java.util.function.BiConsumer<T, Throwable> complete(CompletableFuture<T> target) {
        return (v, e) -> {
            if (e != null) {
                target.completeExceptionally(e);
            } else {
                target.complete(v);
            }
        };
    }

    private static void await(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("latch not released within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
