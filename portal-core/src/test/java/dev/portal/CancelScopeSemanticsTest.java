package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Which scope catches a cancellation (AnyIO's and Trio's rule: the outermost cancelled scope that
 * code can see through its shields), shields set and unset while a cancellation is pending, and
 * deadlines that pass before a scope is entered or while the loop has not yet fired them. Each
 * case is observed from loop code (checkpoints) and, where it applies, from a worker
 * ({@link FromThread#checkCancelled()}).
 */
class CancelScopeSemanticsTest {

    private static final Duration LONG = Duration.ofSeconds(30);
    /** Work that would finish if the scope were not cancelled; far shorter than any deadline used. */
    private static final Duration WORK = Duration.ofSeconds(2);
    private static final long BOUND_NANOS = Duration.ofSeconds(10).toNanos();

    // ---------------------------------------------------------------------------------------------
    // The outermost cancelled scope catches

    @ParameterizedTest(name = "inner cancelled first: {0}")
    @ValueSource(booleans = {true, false})
    void anEnclosingCancellationIsCaughtByTheOutermostCancelledScopeNotTheInner(boolean innerFirst) throws Exception {
        CancelScope s1 = CancelScope.create();
        CancelScope s2 = CancelScope.create();
        CancelScope s3 = CancelScope.create();
        List<String> log = new CopyOnWriteArrayList<>();

        Object result = EventLoop.run(() -> {
            CompletionStage<String> body = s1.run(() -> s2.run(() -> s3.run(() -> Async.sleep(LONG))
                    .thenRun(() -> log.add("after s3"))).thenApply(v -> "after s2"));
            return Async.checkpoint().thenCompose(v -> {
                if (innerFirst) {
                    s3.cancel();
                    s2.cancel();
                } else {
                    s2.cancel();
                    s3.cancel();
                }
                assertThat(s3.isCancelled()).isTrue();
                return body;
            });
        });

        assertThat(result).isEqualTo("after s2");
        assertThat(log).as("code chained after s3 must not run inside the cancelled s2").isEmpty();
        assertThat(s3.cancelCalled()).isTrue();
        assertThat(s3.cancelledCaught()).isFalse();
        assertThat(s2.cancelledCaught()).isTrue();
        assertThat(s1.cancelCalled()).isFalse();
        assertThat(s1.cancelledCaught()).isFalse();
    }

    @ParameterizedTest(name = "inner cancelled first: {0}")
    @ValueSource(booleans = {true, false})
    void aWorkerThatCancelsInnerAndOuterScopesSeesTheOuterOneAndOnlyItCatches(boolean innerFirst) throws Exception {
        CancelScope s1 = CancelScope.create();
        CancelScope s2 = CancelScope.create();
        CancelScope s3 = CancelScope.create();
        List<String> log = new CopyOnWriteArrayList<>();

        Object result = EventLoop.run(() -> s1.run(() -> s2.run(() -> s3.run(() -> ToThread.runSync(() -> {
            if (innerFirst) {
                s3.cancel();
                s2.cancel();
            } else {
                s2.cancel();
                s3.cancel();
            }
            // The loop applies the two cancels in turn: wait (bounded) until checkCancelled names s2.
            return awaitCheckCancelled(scopeId(s2) + " ");
        })).thenRun(() -> log.add("after s3"))).thenApply(v -> "after s2")));

        assertThat(result).isEqualTo("after s2");
        assertThat(log).isEmpty();
        assertThat(s3.cancelledCaught()).isFalse();
        assertThat(s2.cancelledCaught()).isTrue();
        assertThat(s1.cancelledCaught()).isFalse();
    }

    @ParameterizedTest(name = "inner cancelled first: {0}")
    @ValueSource(booleans = {true, false})
    void aShieldBetweenTwoCancelledScopesLetsTheInnerOneCatchItsOwn(boolean innerFirst) throws Exception {
        CancelScope s1 = CancelScope.create();
        CancelScope s2 = CancelScope.create();
        s2.setShield(true);
        CancelScope s3 = CancelScope.create();
        List<String> log = new CopyOnWriteArrayList<>();

        Object result = EventLoop.run(() -> {
            CompletionStage<String> body = s1.run(() -> s2.run(() -> s3.run(() -> Async.sleep(LONG))
                    .thenCompose(v -> {
                        log.add("after s3");
                        return Async.sleep(Duration.ofMillis(1));
                    }).thenApply(v -> "after s2")).thenCompose(v -> {
                        log.add(v);
                        return Async.checkpoint();
                    }).thenApply(v -> "after s1's checkpoint"));
            return Async.checkpoint().thenCompose(v -> {
                if (innerFirst) {
                    s3.cancel();
                    s1.cancel();
                } else {
                    s1.cancel();
                    s3.cancel();
                }
                return body;
            });
        });

        assertThat(result).isNull();
        assertThat(log).containsExactly("after s3", "after s2");
        assertThat(s3.cancelledCaught()).isTrue();
        assertThat(s2.cancelledCaught()).isFalse();
        assertThat(s1.cancelledCaught()).isTrue();
    }

    @Test
    void aShieldedInnerScopeCatchesItsOwnCancelEvenWhenTheEnclosingScopeIsCancelled() throws Exception {
        CancelScope s2 = CancelScope.create();
        CancelScope s3 = CancelScope.create();
        s3.setShield(true);
        List<String> log = new CopyOnWriteArrayList<>();

        Object result = EventLoop.run(() -> {
            CompletionStage<String> body = s2.run(() -> s3.run(() -> Async.sleep(LONG))
                    .thenCompose(v -> {
                        log.add("after s3");
                        return Async.checkpoint();
                    }).thenApply(v -> "after the checkpoint"));
            return Async.checkpoint().thenCompose(v -> {
                s2.cancel();
                s3.cancel();
                return body;
            });
        });

        assertThat(result).isNull();
        assertThat(log).containsExactly("after s3");
        assertThat(s3.cancelledCaught()).isTrue();
        assertThat(s2.cancelledCaught()).isTrue();
    }

    @Test
    void anEnclosingDeadlineThatPassesWhileTheInnerScopeIsCancelledIsCaughtByTheEnclosingScope() {
        CancelScope s3 = CancelScope.create();
        List<String> log = new CopyOnWriteArrayList<>();

        Throwable thrown = catchThrowable(() -> EventLoop.run(() -> CancelScope.failAfter(Duration.ofMillis(100),
                // A shielded call cancels s3 and runs on, until the deadline of the enclosing scope
                // reaches it; the next checkpoint then fails.
                () -> s3.run(() -> ToThread.runSync(() -> {
                    s3.cancel();
                    return awaitCheckCancelledName("deadline");
                }, CancelMode.SHIELD).thenCompose(v -> Async.checkpoint())).thenRun(() -> log.add("after s3")))));

        assertThat(thrown).isInstanceOf(TimeoutException.class);
        assertThat(log).isEmpty();
        assertThat(s3.cancelledCaught()).isFalse();
    }

    @Test
    void aScopeWhoseDeadlineHasPassedEnteredInACancelledScopeLeavesTheCancellationToIt() throws Exception {
        CancelScope s2 = CancelScope.create();
        CancelScope s3 = CancelScope.withDeadline(System.nanoTime() - 1);

        Object result = EventLoop.run(() -> s2.run(() -> {
            s2.cancel();
            return s3.run(() -> Async.sleep(LONG)).thenApply(v -> "after s3");
        }));

        assertThat(result).isNull();
        assertThat(s3.cancelCalled()).isTrue();
        assertThat(s3.cancelledCaught()).isFalse();
        assertThat(s2.cancelledCaught()).isTrue();
    }

    @Test
    void theCancelledExceptionNamesTheOutermostCancelledScope() throws Exception {
        CancelScope s2 = CancelScope.create();
        CancelScope s3 = CancelScope.create();
        List<Throwable> seen = new CopyOnWriteArrayList<>();

        EventLoop.run(() -> s2.run(() -> s3.run(() -> {
            s3.cancel();
            s2.cancel();
            return Async.checkpoint().whenComplete((v, e) -> seen.add(e));
        })));

        assertThat(seen).singleElement().isInstanceOf(CancelledException.class)
                .extracting(Throwable::getMessage).asString().startsWith("cancelled by " + scopeId(s2) + " ");
    }

    @Test
    void anEnclosingScopeCancelledAfterTheInnerCancellationWasDeliveredStillTakesItOver() throws Exception {
        // AnyIO's test_cancelled_raises_beyond_origin_unshielded: the outer cancel comes in the
        // handler of the inner scope's own cancellation, before the inner scope exits.
        CancelScope outer = CancelScope.create();
        CancelScope inner = CancelScope.create();
        List<String> log = new CopyOnWriteArrayList<>();

        Object result = EventLoop.run(() -> outer.run(() -> inner.run(() -> {
            inner.cancel();
            return Async.checkpoint().whenComplete((v, e) -> outer.cancel());
        }).thenRun(() -> log.add("between the scopes"))));

        assertThat(result).isNull();
        assertThat(log).isEmpty();
        assertThat(inner.cancelledCaught()).isFalse();
        assertThat(outer.cancelledCaught()).isTrue();
    }

    @Test
    void aShieldedInnerScopeKeepsItsOwnCancellationWhenTheOuterScopeIsCancelledAfterIt() throws Exception {
        // AnyIO's test_cancelled_raises_beyond_origin_shielded.
        CancelScope outer = CancelScope.create();
        CancelScope inner = CancelScope.create();
        inner.setShield(true);
        List<String> log = new CopyOnWriteArrayList<>();

        Object result = EventLoop.run(() -> outer.run(() -> inner.run(() -> {
            inner.cancel();
            return Async.checkpoint().whenComplete((v, e) -> outer.cancel());
        }).thenApply(v -> {
            log.add("between the scopes");
            return "outer body done";
        })));

        assertThat(result).isEqualTo("outer body done");
        assertThat(log).containsExactly("between the scopes");
        assertThat(inner.cancelledCaught()).isTrue();
        assertThat(outer.cancelledCaught()).isFalse();
    }

    // ---------------------------------------------------------------------------------------------
    // Shields, both ways

    @RepeatedTest(3)
    void everyChangeOfShieldTakesEffectForLoopCheckpoints() throws Exception {
        CancelScope outer = CancelScope.create();
        CancelScope inner = CancelScope.create();
        inner.setShield(true);
        List<String> log = new CopyOnWriteArrayList<>();

        Object result = EventLoop.run(() -> outer.run(() -> inner.run(() -> {
            outer.cancel();
            for (int round = 0; round < 3; round++) {
                log.add("shielded " + outcome(Async.checkpoint()) + " " + inner.isCancelled());
                inner.setShield(false);
                log.add("unshielded " + outcome(Async.checkpoint()) + " " + inner.isCancelled());
                inner.setShield(true);
            }
            return Async.sleep(Duration.ofMillis(1)).thenApply(v -> "slept shielded");
        })));

        assertThat(result).isEqualTo("slept shielded");
        assertThat(log).containsExactly(
                "shielded pending false", "unshielded cancelled true",
                "shielded pending false", "unshielded cancelled true",
                "shielded pending false", "unshielded cancelled true");
        assertThat(inner.cancelledCaught()).isFalse();
    }

    @Test
    void settingTheShieldAgainStopsTheCancellationOfPendingWaitsInNestedScopes() throws Exception {
        CancelScope outer = CancelScope.create();
        CancelScope shield = CancelScope.create();
        CancelScope nested = CancelScope.create();
        shield.setShield(true);

        Object result = EventLoop.run(() -> outer.run(() -> shield.run(() -> nested.run(() -> {
            outer.cancel();
            shield.setShield(false);
            assertThat(nested.isCancelled()).isTrue();
            shield.setShield(true);
            assertThat(nested.isCancelled()).isFalse();
            // Armed while shielded again: the outer cancellation must not reach it.
            return Async.sleep(Duration.ofMillis(20)).thenApply(v -> "nested slept");
        }))));

        assertThat(result).isEqualTo("nested slept");
    }

    @Test
    void everyChangeOfShieldTakesEffectForAWorkersCheckCancelled() throws Exception {
        CancelScope outer = CancelScope.create();
        CancelScope inner = CancelScope.create();
        inner.setShield(true);

        Object result = EventLoop.run(() -> outer.run(() -> inner.run(() -> {
            outer.cancel();
            return ToThread.runSync(() -> {
                List<String> seen = new CopyOnWriteArrayList<>();
                for (int round = 0; round < 3; round++) {
                    seen.add("shielded " + (catchThrowable(FromThread::checkCancelled) != null));
                    FromThread.runSync(() -> inner.setShield(false));
                    seen.add("unshielded " + (catchThrowable(FromThread::checkCancelled) != null));
                    FromThread.runSync(() -> inner.setShield(true));
                }
                return String.join(", ", seen);
            });
        })));

        assertThat(result).isEqualTo("shielded false, unshielded true, shielded false, unshielded true, "
                + "shielded false, unshielded true");
        assertThat(inner.cancelledCaught()).isFalse();
    }

    // ---------------------------------------------------------------------------------------------
    // Deadlines before entry, and deadlines the loop has not fired yet

    @Test
    void anUnenteredScopeWhoseDeadlinePassedReportsCancelCalled() {
        CancelScope passed = CancelScope.withDeadline(System.nanoTime() - 1);
        CancelScope future = CancelScope.withDeadline(System.nanoTime() + LONG.toNanos());
        CancelScope zeroTimeout = CancelScope.withTimeout(Duration.ZERO);

        assertThat(passed.cancelCalled()).isTrue();
        assertThat(passed.isCancelled()).isTrue();
        assertThat(future.cancelCalled()).isFalse();
        assertThat(future.isCancelled()).isFalse();
        // A timeout starts counting when the scope is entered.
        assertThat(zeroTimeout.cancelCalled()).isFalse();
    }

    @Test
    void movingAPassedDeadlineLaterBeforeEntryDoesNotUndoTheCancellation() throws Exception {
        CancelScope scope = CancelScope.withDeadline(System.nanoTime() - 1);
        scope.setDeadline(System.nanoTime() + LONG.toNanos());

        Object result = EventLoop.run(() -> scope.run(() -> Async.sleep(WORK).thenApply(v -> "slept")));

        assertThat(result).isNull();
        assertThat(scope.cancelCalled()).isTrue();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void aDeadlineThatPassesUnobservedBeforeEntryStillCancels() throws Exception {
        long deadline = System.nanoTime() + Duration.ofMillis(5).toNanos();
        CancelScope scope = CancelScope.withDeadline(deadline);
        spinUntil(deadline);
        scope.setDeadline(System.nanoTime() + LONG.toNanos());

        Object result = EventLoop.run(() -> scope.run(() -> Async.sleep(WORK).thenApply(v -> "slept")));

        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void movingADeadlineThatPassedButHasNotFiredLaterStillCancels() throws Exception {
        CancelScope scope = CancelScope.create();
        List<String> log = new CopyOnWriteArrayList<>();

        Object result = EventLoop.run(() -> scope.run(() -> {
            long deadline = System.nanoTime() + Duration.ofMillis(2).toNanos();
            scope.setDeadline(deadline);
            spinUntil(deadline); // on the loop: the deadline's timer cannot fire meanwhile
            scope.setDeadline(System.nanoTime() + LONG.toNanos());
            log.add("cancel called " + scope.cancelCalled());
            return Async.sleep(WORK).thenApply(v -> "slept");
        }));

        assertThat(result).isNull();
        assertThat(log).containsExactly("cancel called true");
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void aDeadlineThatHasNotPassedLetsTheBodyRun() throws Exception {
        CancelScope scope = CancelScope.withDeadline(System.nanoTime() + LONG.toNanos());

        Object result = EventLoop.run(() -> scope.run(() -> Async.sleep(Duration.ofMillis(1)).thenApply(v -> "slept")));

        assertThat(result).isEqualTo("slept");
        assertThat(scope.cancelCalled()).isFalse();
        assertThat(scope.cancelledCaught()).isFalse();
    }

    // ---------------------------------------------------------------------------------------------

    /** Polls checkCancelled on a worker until it raises with a message starting with "cancelled by " + prefix. */
    private static String awaitCheckCancelled(String scopePrefix) {
        long end = System.nanoTime() + BOUND_NANOS;
        CancelledException last = null;
        while (System.nanoTime() - end < 0) {
            try {
                FromThread.checkCancelled();
            } catch (CancelledException e) {
                last = e;
                if (e.getMessage().startsWith("cancelled by " + scopePrefix)) {
                    throw e;
                }
            }
            LockSupport.parkNanos(100_000);
        }
        throw new AssertionError("checkCancelled did not name " + scopePrefix + " within 10 s; last: " + last);
    }

    /** Polls checkCancelled on a worker until its message contains {@code text}; returns the message. */
    private static String awaitCheckCancelledName(String text) {
        long end = System.nanoTime() + BOUND_NANOS;
        CancelledException last = null;
        while (System.nanoTime() - end < 0) {
            try {
                FromThread.checkCancelled();
            } catch (CancelledException e) {
                last = e;
                if (e.getMessage().contains(text)) {
                    return e.getMessage();
                }
            }
            LockSupport.parkNanos(100_000);
        }
        throw new AssertionError("checkCancelled did not mention '" + text + "' within 10 s; last: " + last);
    }

    private static void spinUntil(long nanoTime) {
        while (System.nanoTime() - nanoTime <= 0) {
            Thread.onSpinWait();
        }
    }

    private static String outcome(CompletionStage<?> stage) {
        return stage.toCompletableFuture().isCompletedExceptionally() ? "cancelled" : "pending";
    }

    static String scopeId(CancelScope scope) {
        String s = scope.toString();
        return s.substring(0, s.indexOf('['));
    }

    @Test
    void failAfterStillRaisesTimeoutWhenItsOwnDeadlineIsTheOutermost() {
        assertThatThrownBy(() -> EventLoop.run(() -> CancelScope.failAfter(Duration.ofMillis(20),
                () -> CancelScope.create().run(() -> Async.sleep(LONG)))))
                .isInstanceOf(TimeoutException.class);
    }
}
