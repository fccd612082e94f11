package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link FromThread}: AnyIO 4.8's {@code tests/test_from_thread.py} (worker-thread parts) ported to
 * Java, plus the shield rule of {@code check_cancelled} and the misuse guards.
 */
class FromThreadTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final TaskLocal<Integer> NUMBER = TaskLocal.named("number");

    // ---------------------------------------------------------------------------------------------
    // checkCancelled

    @ParameterizedTest(name = "host cancelled: {0}")
    @ValueSource(booleans = {true, false})
    void checkCancelledRaisesOnlyWhenTheHostIsCancelled(boolean cancel) throws Exception {
        CountDownLatch proceed = new CountDownLatch(1);
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        AtomicReference<CancelScope> groupScope = new AtomicReference<>();
        AtomicReference<EventLoop> loop = new AtomicReference<>();

        EventLoop.run(() -> {
            loop.set(EventLoop.current());
            Event started = new Event();
            return TaskGroup.open(tg -> {
                groupScope.set(tg.cancelScope());
                tg.startSoon("host", () -> ToThread.runSync(() -> {
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    proceed.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                    outcome.complete(catchThrowable(FromThread::checkCancelled));
                    return null;
                }));
                return started.await().thenRun(() -> {
                    if (cancel) {
                        tg.cancelScope().cancel();
                    }
                    proceed.countDown();
                });
            });
        });

        Throwable raised = outcome.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        if (cancel) {
            assertThat(raised).isInstanceOf(CancelledException.class)
                    .hasMessageStartingWith("cancelled by " + scopeId(groupScope.get()));
            assertThat(loop.get().statistics().offloads().checkCancelledRaised()).isEqualTo(1);
        } else {
            assertThat(raised).isNull();
            assertThat(loop.get().statistics().offloads().checkCancelledRaised()).isZero();
        }
    }

    @Test
    void checkCancelledRaisingInTheWorkerReachesTheHostWhoseCancelledScopeAbsorbsIt() throws Exception {
        CancelScope host = CancelScope.create();
        AtomicBoolean pastTheCheck = new AtomicBoolean();

        Object result = EventLoop.run(() -> host.run(() -> ToThread.runSync(() -> {
            FromThread.runSync(() -> {
                host.cancel();
                return null;
            });
            FromThread.checkCancelled();
            pastTheCheck.set(true);
            return "not cancelled";
        })));

        assertThat(result).isNull();
        assertThat(pastTheCheck).isFalse();
        assertThat(host.cancelledCaught()).isTrue();
    }

    @Test
    void checkCancelledStillRaisesAfterTheHostAbandonedTheCallAndItsTaskGroupExited() throws Exception {
        CountDownLatch groupExited = new CountDownLatch(1);
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();

        EventLoop.run(() -> {
            Event started = new Event();
            return TaskGroup.open(tg -> {
                tg.startSoon("host", () -> ToThread.runSync(() -> {
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    groupExited.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                    outcome.complete(catchThrowable(FromThread::checkCancelled));
                    return null;
                }, CancelMode.ABANDON));
                return started.await().thenRun(() -> tg.cancelScope().cancel());
            }).thenCompose(v -> {
                groupExited.countDown();
                return Async.await(outcome);
            });
        });

        assertThat(outcome.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
    }

    @Test
    void afterTheLoopHasStoppedCheckCancelledStillRaisesAndCallsBackFailClearly() throws Exception {
        CountDownLatch loopStopped = new CountDownLatch(1);
        CompletableFuture<List<Throwable>> outcome = new CompletableFuture<>();
        AtomicBoolean calledBack = new AtomicBoolean();
        CancelScope host = CancelScope.create();

        EventLoop.builder().name("ft-stopped").run(() -> {
            Event started = new Event();
            return host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    loopStopped.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                    List<Throwable> raised = new ArrayList<>();
                    raised.add(catchThrowable(FromThread::checkCancelled));
                    raised.add(catchThrowable(() -> FromThread.runSync(() -> calledBack.getAndSet(true))));
                    raised.add(catchThrowable(() -> FromThread.run(() -> {
                        calledBack.set(true);
                        return Async.checkpoint();
                    })));
                    outcome.complete(raised);
                    return null;
                }, CancelMode.ABANDON);
                return started.await().thenCompose(v -> {
                    host.cancel();
                    return call;
                });
            });
        });
        loopStopped.countDown();

        List<Throwable> raised = outcome.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        assertThat(raised.get(0)).isInstanceOf(CancelledException.class);
        assertThat(raised.get(1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("FromThread.runSync").hasMessageContaining("ft-stopped")
                .hasMessageContaining("stopped");
        assertThat(raised.get(2)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("FromThread.run").hasMessageContaining("ft-stopped")
                .hasMessageContaining("stopped");
        assertThat(calledBack).isFalse();
    }

    @Test
    void checkCancelledStopsAtAShield() throws Exception {
        CancelScope outer = CancelScope.create();
        AtomicReference<Throwable> raised = new AtomicReference<>(new AssertionError("checkCancelled never ran"));

        Object result = EventLoop.run(() -> outer.run(() -> CancelScope.shielded(() -> ToThread.runSync(() -> {
            FromThread.runSync(() -> {
                outer.cancel();
                return null;
            });
            raised.set(catchThrowable(FromThread::checkCancelled));
            return "finished";
        }))));

        assertThat(outer.cancelCalled()).isTrue();
        assertThat(raised.get()).isNull();
        assertThat(result).isEqualTo("finished");
    }

    @Test
    void checkCancelledSeesTheCancellationOfTheShieldedScopeItself() throws Exception {
        CancelScope outer = CancelScope.create();
        AtomicReference<CancelScope> shielded = new AtomicReference<>();
        AtomicReference<Throwable> raised = new AtomicReference<>();

        EventLoop.run(() -> outer.run(() -> CancelScope.shielded(() -> {
            CancelScope scope = CancelScope.current();
            shielded.set(scope);
            return ToThread.runSync(() -> {
                FromThread.runSync(() -> {
                    scope.cancel();
                    return null;
                });
                raised.set(catchThrowable(FromThread::checkCancelled));
                return null;
            });
        })));

        assertThat(raised.get()).isInstanceOf(CancelledException.class)
                .hasMessageStartingWith("cancelled by " + scopeId(shielded.get()));
    }

    // ---------------------------------------------------------------------------------------------
    // Cancel scopes and FromThread.run

    @Test
    void codeRunFromTheWorkerBelongsToTheHostsCancelScope() throws Exception {
        CancelScope host = CancelScope.create();
        AtomicReference<Throwable> bombOutcome = new AtomicReference<>();
        AtomicReference<Throwable> workerOutcome = new AtomicReference<>();

        EventLoop.run(() -> host.run(() -> ToThread.runSync(() -> {
            try {
                return FromThread.run(() -> {
                    host.cancel();
                    return CancelScope.failAfter(Duration.ofSeconds(1), () -> Async.sleep(Duration.ofSeconds(3)))
                            .whenComplete((v, e) -> bombOutcome.set(e));
                });
            } catch (Exception e) {
                workerOutcome.set(e);
                throw e;
            }
        })));

        // cancelled with the host's scope, not by its own one-second deadline
        assertThat(cause(bombOutcome.get())).isInstanceOf(CancelledException.class)
                .isNotInstanceOf(TimeoutException.class);
        assertThat(workerOutcome.get()).isInstanceOf(CancelledException.class);
        assertThat(host.cancelledCaught()).isTrue();
    }

    @ParameterizedTest
    @EnumSource(value = CancelMode.class, names = {"SHIELD", "ABANDON"})
    void codeRunningFromTheWorkerWhenTheHostIsCancelledIsCancelledWithIt(CancelMode mode) throws Exception {
        CancelScope host = CancelScope.withTimeout(Duration.ofMillis(200));
        CompletableFuture<Throwable> loopSide = new CompletableFuture<>();
        CompletableFuture<Throwable> workerSide = new CompletableFuture<>();

        EventLoop.run(() -> host.run(() -> ToThread.runSync(() -> {
            workerSide.complete(catchThrowable(() -> FromThread.run(() -> Async.sleep(Duration.ofSeconds(10))
                    .whenComplete((v, e) -> loopSide.complete(e)))));
            return null;
        }, mode).thenCompose(v -> Async.checkpoint())));

        assertThat(host.cancelledCaught()).isTrue();
        assertThat(cause(loopSide.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS))).isInstanceOf(CancelledException.class);
        assertThat(workerSide.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
    }

    @Test
    void onceTheHostHasAbandonedTheCallCodeStartedFromTheWorkerOutlivesTheHostsScope() throws Exception {
        CancelScope host = CancelScope.create();
        AtomicBoolean completed = new AtomicBoolean();

        EventLoop.run(() -> {
            Event hostCancelled = new Event();
            Event bombCompleted = new Event();
            return host.run(() -> ToThread.runSync(() -> {
                FromThread.runSync(() -> {
                    host.cancel();
                    return null;
                });
                // the host has left: this code runs outside its scope
                return FromThread.run(() -> CancelScope.failAfter(Duration.ofSeconds(3), hostCancelled::await)
                        .thenRun(() -> {
                            completed.set(true);
                            bombCompleted.set();
                        }));
            }, CancelMode.ABANDON)).thenCompose(v -> {
                assertThat(host.cancelledCaught()).isTrue();
                hostCancelled.set();
                return CancelScope.failAfter(Duration.ofSeconds(3), bombCompleted::await);
            });
        });

        assertThat(completed).isTrue();
    }

    // ---------------------------------------------------------------------------------------------
    // Values, exceptions, threads

    @Test
    void runRunsAsyncCodeOnTheLoopThreadAndReturnsItsValue() throws Exception {
        Thread loopThread = Thread.currentThread();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        AtomicReference<EventLoop> host = new AtomicReference<>();
        AtomicReference<EventLoop> seen = new AtomicReference<>();

        Integer three = EventLoop.run(() -> {
            host.set(EventLoop.current());
            return ToThread.runSync(() -> FromThread.run(() -> {
                ranOn.set(Thread.currentThread());
                seen.set(EventLoop.current());
                return Async.checkpoint().thenApply(v -> 1 + 2);
            }));
        });

        assertThat(three).isEqualTo(3);
        assertThat(ranOn.get()).isSameAs(loopThread);
        assertThat(seen.get()).isSameAs(host.get());
    }

    @Test
    void runAcceptsAnyCompletionStageIncludingOneCompletedByAnotherThread() throws Exception {
        CompletableFuture<Integer> foreign = new CompletableFuture<>();
        Thread completer = new Thread(() -> foreign.complete(3), "ft-foreign-completer");

        Integer three = EventLoop.run(() -> ToThread.runSync(() -> FromThread.run(() -> {
            completer.start();
            return foreign;
        })));

        completer.join(TIMEOUT.toMillis());
        assertThat(three).isEqualTo(3);
    }

    @Test
    void runSyncRunsAPlainFunctionOnTheLoopThreadAndReturnsItsValue() throws Exception {
        Thread loopThread = Thread.currentThread();
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        AtomicReference<Boolean> inEventLoop = new AtomicReference<>();

        Integer three = EventLoop.run(() -> {
            EventLoop loop = EventLoop.current();
            return ToThread.runSync(() -> FromThread.runSync(() -> {
                ranOn.set(Thread.currentThread());
                inEventLoop.set(loop.inEventLoop());
                return 1 + 2;
            }));
        });

        assertThat(three).isEqualTo(3);
        assertThat(ranOn.get()).isSameAs(loopThread);
        assertThat(inEventLoop.get()).isTrue();
    }

    @Test
    void runRunsALoopOnlyCallSuchAsACheckpoint() throws Exception {
        Object result = EventLoop.run(() -> ToThread.runSync(() -> FromThread.run(Async::checkpoint)));

        assertThat(result).isNull();
    }

    @Test
    void exceptionsFromRunPassThroughBothHopsAsTheSameObject() {
        IllegalArgumentException failedStage = new IllegalArgumentException("unsupported operand");
        IllegalStateException thrownAtOnce = new IllegalStateException("thrown before any stage");
        IOException checked = new IOException("checked");
        List<Throwable> inWorker = new ArrayList<>();

        assertThat(throughBothHops(inWorker, () -> FromThread.run(() -> Async.checkpoint().thenApply(v -> {
            throw failedStage;
        })))).isSameAs(failedStage);
        assertThat(throughBothHops(inWorker, () -> FromThread.run(() -> {
            throw thrownAtOnce;
        }))).isSameAs(thrownAtOnce);
        assertThat(throughBothHops(inWorker, () -> FromThread.run(() -> CompletableFuture.failedFuture(checked))))
                .isSameAs(checked);
        assertThat(inWorker).containsExactly(failedStage, thrownAtOnce, checked);
    }

    @Test
    void aCancellationFromRunPassesThroughBothHopsAsTheSameObject() {
        CancellationException cancelled = new CancellationException("the loop side gave up");
        List<Throwable> inWorker = new ArrayList<>();

        assertThat(throughBothHops(inWorker, () -> FromThread.run(() -> CompletableFuture.failedFuture(cancelled))))
                .isSameAs(cancelled);
        assertThat(inWorker).containsExactly(cancelled);
    }

    @Test
    void exceptionsFromRunSyncPassThroughBothHopsAsTheSameObject() {
        IllegalArgumentException unchecked = new IllegalArgumentException("unsupported operand");
        IOException checked = new IOException("checked");
        Error error = new SimulatedError();
        List<Throwable> inWorker = new ArrayList<>();

        assertThat(throughBothHops(inWorker, () -> FromThread.runSync(() -> {
            throw unchecked;
        }))).isSameAs(unchecked);
        assertThat(throughBothHops(inWorker, () -> FromThread.runSync(() -> {
            throw checked;
        }))).isSameAs(checked);
        assertThat(throughBothHops(inWorker, () -> FromThread.runSync(() -> {
            throw error;
        }))).isSameAs(error);
        assertThat(inWorker).containsExactly(unchecked, checked, error);
    }

    @Test
    void runSyncAcceptsAVoidMethodReferenceAsItsJavadocShows() throws Exception {
        AtomicReference<Event> event = new AtomicReference<>();
        EventLoop.run(() -> {
            Event ev = new Event();
            event.set(ev);
            return ToThread.runSync(() -> {
                FromThread.runSync(ev::set);
                return null;
            }).thenCompose(v -> ev.await());
        });

        assertThat(event.get().isSet()).isTrue();
    }

    // ---------------------------------------------------------------------------------------------
    // Task-locals

    @Test
    void taskLocalsTravelFromTheWorkerToTheLoopAsACopyAndNeverBack() throws Exception {
        List<Integer> seen = EventLoop.run(() -> {
            NUMBER.set(1);
            return ToThread.runSync(() -> {
                NUMBER.set(6);
                Integer inRun = FromThread.run(() -> Async.checkpoint().thenApply(v -> {
                    Integer value = NUMBER.get();
                    NUMBER.set(20);
                    return value;
                }));
                Integer inRunSync = FromThread.runSync(() -> {
                    Integer value = NUMBER.get();
                    NUMBER.set(30);
                    return value;
                });
                return List.of(inRun, inRunSync, NUMBER.get());
            }).thenApply(fromWorker -> {
                List<Integer> all = new ArrayList<>(fromWorker);
                all.add(NUMBER.get());
                return all;
            });
        });

        // run and runSync saw the worker's value; their changes did not reach the worker; the
        // worker's change did not reach the host task
        assertThat(seen).containsExactly(6, 6, 6, 1);
    }

    @Test
    void codeRunFromTheWorkerRunsInATaskOnTheHostsLoop() throws Exception {
        AtomicReference<TaskInfo> runTask = new AtomicReference<>();
        AtomicReference<TaskInfo> hostTask = new AtomicReference<>();

        EventLoop.run(() -> {
            hostTask.set(Async.currentTask());
            return ToThread.runSync(() -> FromThread.run(() -> {
                runTask.set(Async.currentTask());
                return Async.checkpoint();
            }));
        });

        assertThat(runTask.get()).isNotNull();
        assertThat(runTask.get().id()).isNotEqualTo(hostTask.get().id());
    }

    // ---------------------------------------------------------------------------------------------
    // Interruption

    @Test
    void anInterruptedWorkerStopsWaitingForRunAndTheLoopSideCodeIsCancelled() throws Exception {
        CancelScope host = CancelScope.create();
        CompletableFuture<Throwable> loopSide = new CompletableFuture<>();
        CompletableFuture<Throwable> workerSide = new CompletableFuture<>();
        AtomicReference<Boolean> flagAfterwards = new AtomicReference<>();

        EventLoop.run(() -> {
            Event started = new Event();
            return host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    Throwable t = catchThrowable(() -> FromThread.run(() -> {
                        started.set();
                        return Async.sleep(Duration.ofSeconds(10)).whenComplete((v, e) -> loopSide.complete(e));
                    }));
                    flagAfterwards.set(Thread.interrupted());
                    workerSide.complete(t);
                    return null;
                }, CancelMode.INTERRUPT);
                return started.await().thenCompose(v -> {
                    host.cancel();
                    return call;
                });
            });
        });

        Throwable inWorker = workerSide.get(5, TimeUnit.SECONDS);
        // the interrupt and the cancellation of the loop-side code race; either ends the wait
        assertThat(inWorker).isInstanceOfAny(InterruptedException.class, CancelledException.class);
        if (inWorker instanceof InterruptedException) {
            assertThat(flagAfterwards.get()).as("interrupt flag after InterruptedException").isFalse();
        }
        assertThat(cause(loopSide.get(5, TimeUnit.SECONDS))).isInstanceOf(CancelledException.class);
    }

    // ---------------------------------------------------------------------------------------------
    // Misuse

    @Test
    void fromAThreadTheLoopDidNotStartEachMethodFailsAndPointsToBlockingPortal() {
        AtomicBoolean ran = new AtomicBoolean();
        String here = Thread.currentThread().getName();

        assertNotAWorker(() -> FromThread.run(() -> {
            ran.set(true);
            return Async.checkpoint();
        }), "FromThread.run", here).hasMessageContaining("BlockingPortal");
        assertNotAWorker(() -> FromThread.runSync(() -> ran.getAndSet(true)), "FromThread.runSync", here)
                .hasMessageContaining("BlockingPortal");
        assertNotAWorker(FromThread::checkCancelled, "FromThread.checkCancelled()", here)
                .hasMessageContaining("BlockingPortal");
        assertThat(ran).isFalse();
    }

    @Test
    void fromAThreadStartedByTheWorkersFunctionEachMethodFails() throws Exception {
        List<Throwable> raised = EventLoop.run(() -> ToThread.runSync(() -> {
            List<Throwable> fromChild = new ArrayList<>();
            Thread child = new Thread(() -> {
                fromChild.add(catchThrowable(() -> FromThread.run(Async::checkpoint)));
                fromChild.add(catchThrowable(() -> FromThread.runSync(() -> 1)));
                fromChild.add(catchThrowable(FromThread::checkCancelled));
            }, "ft-child-of-worker");
            child.start();
            child.join(TIMEOUT.toMillis());
            return fromChild;
        }));

        assertThat(raised).hasSize(3).allSatisfy(t -> assertThat(t).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("ft-child-of-worker")
                .hasMessageContaining("BlockingPortal"));
    }

    @Test
    void onTheEventLoopThreadEachMethodFailsAndSaysWhereItMayBeCalled() throws Exception {
        AtomicBoolean ran = new AtomicBoolean();
        String loopThread = Thread.currentThread().getName();
        List<Throwable> raised = new ArrayList<>();

        EventLoop.run(() -> {
            raised.add(catchThrowable(() -> FromThread.run(() -> {
                ran.set(true);
                return Async.checkpoint();
            })));
            raised.add(catchThrowable(() -> FromThread.runSync(() -> ran.getAndSet(true))));
            raised.add(catchThrowable(FromThread::checkCancelled));
            return CompletableFuture.completedFuture(null);
        });

        assertThat(ran).isFalse();
        List<String> names = List.of("FromThread.run", "FromThread.runSync", "FromThread.checkCancelled()");
        for (int i = 0; i < 3; i++) {
            assertThat(raised.get(i)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(names.get(i))
                    .hasMessageContaining("worker thread")
                    .hasMessageContaining("ToThread.runSync")
                    .hasMessageContaining(loopThread)
                    .hasMessageContaining("event loop thread")
                    .hasMessageContaining("BlockingPortal");
        }
    }

    @Test
    void nullFunctionsAreRejectedNamingTheArgument() throws Exception {
        List<Throwable> raised = EventLoop.run(() -> ToThread.runSync(() -> List.of(
                catchThrowable(() -> FromThread.run(null)),
                catchThrowable(() -> FromThread.runSync((Callable<Object>) null)))));

        assertThat(raised).allSatisfy(t -> assertThat(t).isInstanceOf(NullPointerException.class)
                .hasMessageContaining("fn"));
        assertThatNullPointerException().isThrownBy(() -> FromThread.run(null)).withMessageContaining("fn");
    }

    // ---------------------------------------------------------------------------------------------

    /** Thrown by test functions that must pass an {@link Error} through. */
    private static final class SimulatedError extends Error {
        private static final long serialVersionUID = 1L;

        SimulatedError() {
            super("simulated");
        }
    }

    @FunctionalInterface
    private interface WorkerCode {
        Object call() throws Exception;
    }

    /**
     * Runs {@code code} in a worker; records what it threw there, rethrows it to the host and
     * returns what {@link EventLoop#run} threw.
     */
    private static Throwable throughBothHops(List<Throwable> inWorker, WorkerCode code) {
        return catchThrowable(() -> EventLoop.run(() -> ToThread.runSync(() -> {
            try {
                return code.call();
            } catch (Exception | Error e) {
                inWorker.add(e);
                throw e;
            }
        })));
    }

    private static org.assertj.core.api.AbstractThrowableAssert<?, ? extends Throwable> assertNotAWorker(
            ThrowingCallable call, String method, String thread) {
        return assertThatThrownBy(call)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(method)
                .hasMessageContaining("worker thread")
                .hasMessageContaining("ToThread.runSync")
                .hasMessageContaining(thread);
    }

    /** "CancelScope#N", the way cancellation messages name a scope. */
    private static String scopeId(CancelScope scope) {
        String s = scope.toString();
        return s.substring(0, s.indexOf('['));
    }

    private static Throwable cause(Throwable e) {
        Throwable t = e;
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
