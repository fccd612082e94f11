package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link ToThread#runSync}: AnyIO 4.8's {@code tests/test_to_thread.py} ported to Java, plus the
 * cancel modes, the limiter rules and the worker pool behaviour that Portal documents.
 */
class ToThreadTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final TaskLocal<Integer> NUMBER = TaskLocal.named("number");

    // ---------------------------------------------------------------------------------------------
    // AnyIO test_to_thread.py

    @Test
    void runSyncInACancelledScopeNeverRunsTheFunctionNorAnyStatementAfterIt() throws Exception {
        AtomicInteger state = new AtomicInteger(1);
        AtomicReference<Throwable> childOutcome = new AtomicReference<>();
        AtomicReference<EventLoop> loop = new AtomicReference<>();
        EventLoop.run(() -> TaskGroup.open(tg -> {
            loop.set(EventLoop.current());
            tg.startSoon("child", () -> ToThread.runSync(() -> {
                state.set(2);
                return null;
            }).thenRun(() -> state.set(3))).whenComplete((v, e) -> childOutcome.set(e));
            tg.cancelScope().cancel();
            return CompletableFuture.completedFuture(null);
        }));

        assertThat(state).hasValue(1);
        assertThat(cause(childOutcome.get())).isInstanceOf(CancelledException.class);
        OffloadStatistics offloads = loop.get().statistics().offloads();
        assertThat(offloads.cancelledBeforeStart()).isEqualTo(1);
        assertThat(offloads.started()).isZero();
    }

    @Test
    void runSyncInAScopeCancelledBeforeEntryNeverRunsTheFunction() throws Exception {
        AtomicBoolean ran = new AtomicBoolean();
        CancelScope scope = CancelScope.create();
        scope.cancel();
        Object result = EventLoop.run(() -> scope.run(() -> ToThread.runSync(() -> {
            ran.set(true);
            return "ran";
        })));

        assertThat(result).isNull();
        assertThat(ran).isFalse();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void runSyncThrowsTheSameExceptionObjectTheFunctionThrew() {
        IllegalArgumentException foo = new IllegalArgumentException("foo");

        Throwable thrown = catchThrowable(() -> EventLoop.run(() -> ToThread.runSync(() -> {
            throw foo;
        })));

        assertThat(thrown).isSameAs(foo).hasMessage("foo");
    }

    @Test
    void runSyncCompletesWithTheSameCheckedExceptionOrErrorObject() throws Exception {
        IOException checked = new IOException("disk on fire");
        Error error = new SimulatedError();
        List<Throwable> seen = new CopyOnWriteArrayList<>();

        EventLoop.run(() -> ToThread.runSync(() -> {
            throw checked;
        }).handle((v, e) -> seen.add(e)).thenCompose(x -> ToThread.runSync(() -> {
            throw error;
        }).handle((v, e) -> seen.add(e))));

        assertThat(seen).hasSize(2);
        assertThat(seen.get(0)).isSameAs(checked);
        assertThat(seen.get(1)).isSameAs(error);
        Throwable thrown = catchThrowable(() -> EventLoop.run(() -> ToThread.runSync(() -> {
            throw error;
        })));
        assertThat(thrown).isSameAs(error);
    }

    @Test
    void customLimiterOfThreeLetsExactlyThreeOfFourCallsRunAtOnce() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(3);
        AtomicInteger active = new AtomicInteger();
        AtomicInteger maxActive = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger activeWhileFull = new AtomicInteger(-1);
        AtomicReference<CapacityLimiterStatistics> whileFull = new AtomicReference<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            for (int i = 0; i < 4; i++) {
                tg.startSoon("call-" + i, () -> ToThread.runSync(() -> {
                    maxActive.accumulateAndGet(active.incrementAndGet(), Math::max);
                    try {
                        if (!release.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                            throw new AssertionError("never released");
                        }
                    } finally {
                        active.decrementAndGet();
                    }
                    return null;
                }, limiter));
            }
            tg.startSoon("observer", () -> ToThread.runSync(() -> {
                try {
                    await().atMost(TIMEOUT).until(() -> active.get() == 3 && limiter.statistics().tasksWaiting() == 1);
                    // a fourth thread must not sneak in while the three hold their tokens
                    await().during(Duration.ofMillis(150)).atMost(TIMEOUT).until(() -> active.get() == 3);
                    activeWhileFull.set(active.get());
                    whileFull.set(limiter.statistics());
                } finally {
                    release.countDown();
                }
                return null;
            }, new CapacityLimiter(1)));
            return CompletableFuture.completedFuture(null);
        }));

        assertThat(activeWhileFull).hasValue(3);
        assertThat(whileFull.get().borrowedTokens()).isEqualTo(3);
        assertThat(whileFull.get().tasksWaiting()).isEqualTo(1);
        assertThat(maxActive).hasValue(3);
        assertThat(active).hasValue(0);
        assertThat(limiter.borrowedTokens()).isZero();
    }

    @ParameterizedTest
    @EnumSource(value = CancelMode.class, names = {"SHIELD", "ABANDON"})
    void cancellingTheHostWhileItsWorkerRuns(CancelMode mode) throws Exception {
        Queue<String> finished = new ConcurrentLinkedQueue<>();
        CountDownLatch hostLeft = new CountDownLatch(1);

        EventLoop.run(() -> {
            Event started = new Event();
            return TaskGroup.open(tg -> {
                tg.startSoon("host", () -> ToThread.runSync(() -> {
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    if (mode == CancelMode.SHIELD) {
                        // the cancellation arrives while the thread still works
                        await().atMost(TIMEOUT).until(() -> tg.cancelScope().cancelCalled());
                        Thread.sleep(200);
                    } else {
                        // an abandoned host leaves without waiting for the thread, however slow the loop is
                        hostLeft.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                    }
                    finished.add("thread");
                    return null;
                }, mode).whenComplete((v, e) -> {
                    finished.add("task");
                    hostLeft.countDown();
                }));
                return started.await().thenRun(() -> tg.cancelScope().cancel());
            });
        });

        if (mode == CancelMode.SHIELD) {
            // the host does not react to the cancellation until the thread has finished
            assertThat(finished).containsExactly("thread", "task");
        } else {
            // the host leaves at once; the thread finishes later
            await().atMost(TIMEOUT).until(() -> finished.size() == 2);
            assertThat(finished).containsExactly("task", "thread");
        }
    }

    @Test
    void abandonedThreadKeepsRunningAndALaterRunSyncCanReleaseIt() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        CompletableFuture<Boolean> abandonedSawRelease = new CompletableFuture<>();
        AtomicReference<Thread> abandonedThread = new AtomicReference<>();
        AtomicReference<Thread> releasingThread = new AtomicReference<>();
        AtomicBoolean stillRunningWhenHostLeft = new AtomicBoolean();
        CancelScope host = CancelScope.create();

        EventLoop.run(() -> {
            Event started = new Event();
            return host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    abandonedThread.set(Thread.currentThread());
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    abandonedSawRelease.complete(gate.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
                    return null;
                }, CancelMode.ABANDON);
                return started.await().thenCompose(v -> {
                    host.cancel();
                    return call;
                });
            }).thenCompose(v -> {
                stillRunningWhenHostLeft.set(!abandonedSawRelease.isDone());
                return ToThread.runSync(() -> {
                    releasingThread.set(Thread.currentThread());
                    gate.countDown();
                    return null;
                });
            });
        });

        assertThat(host.cancelledCaught()).isTrue();
        assertThat(stillRunningWhenHostLeft).isTrue();
        assertThat(abandonedSawRelease.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(releasingThread.get()).isNotSameAs(abandonedThread.get());
    }

    @Test
    void workerSeesACopyOfTheCallersTaskLocalsAndNeverWritesBack() throws Exception {
        AtomicReference<List<Integer>> inWorker = new AtomicReference<>();
        AtomicReference<Integer> inCallerAfterwards = new AtomicReference<>();
        AtomicReference<Integer> inLaterCall = new AtomicReference<>(-1);

        EventLoop.run(() -> {
            NUMBER.set(6);
            return ToThread.runSync(() -> {
                Integer before = NUMBER.get();
                NUMBER.set(7);
                inWorker.set(List.of(before, NUMBER.get()));
                return null;
            }).thenCompose(v -> {
                inCallerAfterwards.set(NUMBER.get());
                NUMBER.remove();
                return ToThread.runSync(() -> {
                    inLaterCall.set(NUMBER.get());
                    return null;
                });
            });
        });

        assertThat(inWorker.get()).containsExactly(6, 7);
        assertThat(inCallerAfterwards.get()).isEqualTo(6);
        assertThat(inLaterCall.get()).isNull();
    }

    @Test
    void workerThreadIsNotInAsyncContext() throws Exception {
        AtomicReference<EventLoop> currentLoop = new AtomicReference<>();
        Throwable thrown = EventLoop.run(() -> ToThread.runSync(() -> {
            currentLoop.set(EventLoop.current());
            return catchThrowable(Async::checkpoint);
        }));

        assertThat(currentLoop.get()).isNull();
        assertThat(thrown).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("event loop thread")
                .hasMessageContaining("FromThread.run");
    }

    @Test
    void cancellingTheReturnedStageDirectlyRaisesNoErrorAndStillFreesTheToken() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        EventLoop loop = EventLoop.builder().name("tt-direct-cancel").listener(recordingListener(uncaught)).start();
        try {
            CountDownLatch gate = new CountDownLatch(1);
            AtomicBoolean finished = new AtomicBoolean();
            CompletableFuture<String> call = submit(loop, () -> CompletableFuture.completedFuture(ToThread.runSync(() -> {
                gate.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                finished.set(true);
                return "value";
            }, limiter).toCompletableFuture())).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);

            assertThat(call.cancel(true)).isTrue();
            assertThat(limiter.borrowedTokens()).isEqualTo(1);
            gate.countDown();
            await().atMost(TIMEOUT).until(() -> finished.get() && limiter.borrowedTokens() == 0);
            assertThat(submit(loop, () -> ToThread.runSync(() -> "next", limiter)).get(TIMEOUT.toSeconds(),
                    TimeUnit.SECONDS)).isEqualTo("next");
        } finally {
            loop.close();
        }
        assertThat(uncaught).isEmpty();
        assertThat(loop.statistics().callbackFailures()).isZero();
    }

    @Test
    void runSyncWorksInACallbackOutsideAnyTaskAndNoWorkerOutlivesTheLoop() throws Exception {
        List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        EventLoop loop = EventLoop.builder().name("tt-no-task").listener(recordingListener(uncaught)).start();
        String worker;
        try {
            worker = submit(loop, () -> ToThread.runSync(() -> Thread.currentThread().getName()))
                    .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } finally {
            loop.close();
        }

        assertThat(worker).startsWith("tt-no-task-worker-");
        await().atMost(TIMEOUT).until(() -> liveThreadsNamed("tt-no-task-worker-").isEmpty());
        assertThat(loop.statistics().workers().live()).isZero();
        assertThat(loop.statistics().callbackFailures()).isZero();
        assertThat(uncaught).isEmpty();
    }

    @Test
    void consecutiveLoopsEachRunAnOffloadAndLeaveNoWorkerBehind() throws Exception {
        for (int i = 0; i < 3; i++) {
            String name = "tt-consecutive-" + i;
            String worker = EventLoop.builder().name(name).run(() -> ToThread.runSync(() ->
                    Thread.currentThread().getName()));
            assertThat(worker).startsWith(name + "-worker-");
        }

        await().atMost(TIMEOUT).until(() -> liveThreadsNamed("tt-consecutive-").isEmpty());
    }

    @Test
    void aWorkerIsNeverReusedOnceItsLoopHasStopped() throws Exception {
        AtomicReference<EventLoop> firstLoop = new AtomicReference<>();
        Thread first = EventLoop.builder().name("tt-stopped-a").run(() -> {
            firstLoop.set(EventLoop.current());
            return ToThread.runSync(Thread::currentThread);
        });

        await().atMost(TIMEOUT).until(() -> !first.isAlive());
        WorkerPoolStatistics pool = firstLoop.get().statistics().workers();
        assertThat(pool.live()).isZero();
        assertThat(pool.idle()).isZero();
        Thread second = EventLoop.builder().name("tt-stopped-b").run(() -> ToThread.runSync(Thread::currentThread));
        assertThat(second).isNotSameAs(first);
        assertThat(second.getName()).startsWith("tt-stopped-b-worker-");
    }

    @Test
    void aWorkerStillRunningAnAbandonedCallWhenTheLoopStopsExitsOnceTheCallReturns() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        AtomicReference<Thread> worker = new AtomicReference<>();
        AtomicReference<EventLoop> loop = new AtomicReference<>();
        CancelScope host = CancelScope.create();

        EventLoop.builder().name("tt-abandoned-at-stop").run(() -> {
            loop.set(EventLoop.current());
            Event started = new Event();
            return host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    worker.set(Thread.currentThread());
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    gate.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                    return null;
                }, CancelMode.ABANDON);
                return started.await().thenCompose(v -> {
                    host.cancel();
                    return call;
                });
            });
        });

        // the loop did not wait for the abandoned call
        assertThat(worker.get().isAlive()).isTrue();
        assertThat(loop.get().isTerminated()).isTrue();
        gate.countDown();
        await().atMost(TIMEOUT).until(() -> !worker.get().isAlive());
        assertThat(loop.get().statistics().workers().live()).isZero();
    }

    // ---------------------------------------------------------------------------------------------
    // Cancel modes

    @Test
    void shieldedCallReturnsTheFunctionsValueAndTheCancellationSurfacesAtTheNextCheckpoint() throws Exception {
        CancelScope scope = CancelScope.create();
        AtomicReference<Object> value = new AtomicReference<>();
        AtomicBoolean pastTheCheckpoint = new AtomicBoolean();
        AtomicReference<EventLoop> loop = new AtomicReference<>();

        Object result = EventLoop.run(() -> {
            loop.set(EventLoop.current());
            return scope.run(() -> ToThread.runSync(() -> {
                FromThread.runSync(() -> {
                    scope.cancel();
                    return null;
                });
                return "value";
            }).thenCompose(v -> {
                value.set(v);
                return Async.checkpoint();
            }).thenApply(v -> {
                pastTheCheckpoint.set(true);
                return "after";
            }));
        });

        assertThat(value).hasValue("value");
        assertThat(pastTheCheckpoint).isFalse();
        assertThat(result).isNull();
        assertThat(scope.cancelledCaught()).isTrue();
        OffloadStatistics offloads = loop.get().statistics().offloads();
        assertThat(offloads.shielded()).isEqualTo(1);
        assertThat(offloads.succeeded()).isEqualTo(1);
    }

    @Test
    void abandonedCallReleasesTheCallerAtOnceButKeepsItsTokenUntilTheFunctionReturns() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        CountDownLatch gate = new CountDownLatch(1);
        AtomicBoolean functionReturned = new AtomicBoolean();
        AtomicBoolean returnedBeforeHostLeft = new AtomicBoolean(true);
        AtomicReference<CapacityLimiterStatistics> afterHostLeft = new AtomicReference<>();
        AtomicReference<WorkerPoolStatistics> poolAfterHostLeft = new AtomicReference<>();
        AtomicReference<CapacityLimiterStatistics> whileNextWaits = new AtomicReference<>();
        AtomicReference<EventLoop> loop = new AtomicReference<>();
        CancelScope host = CancelScope.create();

        String next = EventLoop.run(() -> {
            loop.set(EventLoop.current());
            Event started = new Event();
            RunSyncOptions abandon = RunSyncOptions.defaults().withCancelMode(CancelMode.ABANDON).withLimiter(limiter);
            return host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    gate.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                    functionReturned.set(true);
                    return null;
                }, abandon);
                return started.await().thenCompose(v -> {
                    host.cancel();
                    return call;
                });
            }).thenCompose(v -> {
                returnedBeforeHostLeft.set(functionReturned.get());
                afterHostLeft.set(limiter.statistics());
                poolAfterHostLeft.set(loop.get().statistics().workers());
                CompletionStage<String> queued = ToThread.runSync(() -> "next", limiter);
                return ToThread.runSync(() -> {
                    try {
                        await().atMost(TIMEOUT).until(() -> limiter.statistics().tasksWaiting() == 1);
                        whileNextWaits.set(limiter.statistics());
                    } finally {
                        gate.countDown();
                    }
                    return null;
                }).thenCompose(x -> queued);
            });
        });

        assertThat(host.cancelledCaught()).isTrue();
        assertThat(returnedBeforeHostLeft).isFalse();
        assertThat(afterHostLeft.get().borrowedTokens()).isEqualTo(1);
        assertThat(poolAfterHostLeft.get().abandonedRunning()).isEqualTo(1);
        assertThat(whileNextWaits.get().borrowedTokens()).isEqualTo(1);
        assertThat(whileNextWaits.get().tasksWaiting()).isEqualTo(1);
        assertThat(next).isEqualTo("next");
        assertThat(limiter.borrowedTokens()).isZero();
        EventLoopStatistics stats = loop.get().statistics();
        assertThat(stats.offloads().abandoned()).isEqualTo(1);
        assertThat(stats.workers().abandonedRunning()).isZero();
    }

    @Test
    void interruptModeInterruptsTheWorkerAndReleasesTheCallerAtOnce() throws Exception {
        CompletableFuture<Throwable> sleepOutcome = new CompletableFuture<>();
        AtomicReference<EventLoop> loop = new AtomicReference<>();
        CancelScope host = CancelScope.create();

        EventLoop.run(() -> {
            loop.set(EventLoop.current());
            Event started = new Event();
            return host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    try {
                        Thread.sleep(10_000);
                        sleepOutcome.complete(null);
                    } catch (InterruptedException e) {
                        sleepOutcome.complete(e);
                        throw e;
                    }
                    return null;
                }, CancelMode.INTERRUPT);
                return started.await().thenCompose(v -> {
                    host.cancel();
                    return call;
                });
            });
        });

        assertThat(host.cancelledCaught()).isTrue();
        assertThat(sleepOutcome.get(5, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        assertThat(loop.get().statistics().offloads().interrupted()).isEqualTo(1);
        assertThat(loop.get().statistics().offloads().abandoned()).isZero();
    }

    /**
     * The call is the caller's stage, so a caller may hold its monitor: the interrupt hand-shake
     * must not use it, or the loop would block on the caller's lock and the worker stay asleep.
     */
    @Test
    void aCallerHoldingTheStagesMonitorDoesNotHoldUpTheInterrupt() throws Exception {
        CancelScope host = CancelScope.create();
        CompletableFuture<CompletionStage<Object>> stage = new CompletableFuture<>();
        CompletableFuture<Throwable> sleepOutcome = new CompletableFuture<>();
        CountDownLatch running = new CountDownLatch(1);
        try (EventLoop loop = EventLoop.builder().name("monitor-test").start()) {
            loop.execute(() -> host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    running.countDown();
                    try {
                        Thread.sleep(10_000);
                        sleepOutcome.complete(null);
                    } catch (InterruptedException e) {
                        sleepOutcome.complete(e);
                    }
                    return null;
                }, CancelMode.INTERRUPT);
                stage.complete(call);
                return call.handle((v, e) -> null);
            }));
            assertThat(running.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            CompletionStage<Object> call = stage.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            synchronized (call) {
                host.cancel();
                assertThat(sleepOutcome.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS))
                        .as("the worker was interrupted while the caller held the stage's monitor")
                        .isInstanceOf(InterruptedException.class);
            }
        }
    }

    @Test
    void anInterruptAimedAtOneCallNeverReachesTheNextJobOnThatThread() throws Exception {
        CancelScope host = CancelScope.create();
        AtomicReference<Thread> interruptedWorker = new AtomicReference<>();
        CompletableFuture<Throwable> firstOutcome = new CompletableFuture<>();
        AtomicReference<EventLoop> loop = new AtomicReference<>();

        List<Object> next = EventLoop.run(() -> {
            loop.set(EventLoop.current());
            Event started = new Event();
            return host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    interruptedWorker.set(Thread.currentThread());
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    try {
                        Thread.sleep(10_000);
                        firstOutcome.complete(null);
                    } catch (InterruptedException e) {
                        // swallowed: the call returns normally with the flag cleared by sleep
                        firstOutcome.complete(e);
                    }
                    return null;
                }, CancelMode.INTERRUPT);
                return started.await().thenCompose(v -> {
                    host.cancel();
                    return call;
                });
            }).thenCompose(v -> eventually("the interrupted call's worker is parked, so the next call wakes it",
                    () -> Workers.parkedIdle(interruptedWorker.get()))).thenCompose(v -> ToThread.runSync(() -> {
                boolean flagAtStart = Thread.currentThread().isInterrupted();
                Throwable sleep = catchThrowable(() -> Thread.sleep(50));
                return List.of(Thread.currentThread(), flagAtStart, String.valueOf(sleep));
            }));
        });

        assertThat(firstOutcome.get(5, TimeUnit.SECONDS)).isInstanceOf(InterruptedException.class);
        assertThat(next.get(0)).isSameAs(interruptedWorker.get());
        assertThat(next.get(1)).isEqualTo(false);
        assertThat(next.get(2)).isEqualTo("null");
    }

    @Test
    void anInterruptRacingWithTheFunctionsReturnNeverLeaksIntoALaterJob() throws Exception {
        int rounds = 200;
        List<String> leaks = new CopyOnWriteArrayList<>();
        AtomicInteger sameThread = new AtomicInteger();

        EventLoop.run(() -> sequentially(rounds, i -> {
            CancelScope host = CancelScope.create();
            AtomicBoolean started = new AtomicBoolean();
            AtomicReference<Thread> first = new AtomicReference<>();
            long spinNanos = ThreadLocalRandom.current().nextLong(300_000);
            CompletionStage<Object> call = host.run(() -> ToThread.runSync(() -> {
                if (Thread.currentThread().isInterrupted()) {
                    leaks.add("round " + i + ": interrupted when the interruptible call started");
                }
                first.set(Thread.currentThread());
                started.set(true);
                long end = System.nanoTime() + spinNanos;
                while (System.nanoTime() - end < 0) {
                    Thread.onSpinWait();
                }
                return null;
            }, CancelMode.INTERRUPT));
            return eventually("the call has started", started::get).thenCompose(v -> {
                host.cancel();
                return call;
            }).thenCompose(v -> ToThread.runSync(() -> {
                if (Thread.currentThread().isInterrupted()) {
                    leaks.add("round " + i + ": interrupted when the next call started");
                }
                if (Thread.currentThread() == first.get()) {
                    sameThread.incrementAndGet();
                }
                return null;
            }));
        }));

        assertThat(leaks).isEmpty();
        assertThat(sameThread.get()).as("rounds whose next call reused the interrupted call's thread").isPositive();
    }

    // ---------------------------------------------------------------------------------------------
    // Limiters

    @Test
    void defaultLimiterHasFortyTokensAndBelongsToItsLoop() throws Exception {
        List<CapacityLimiter> limiters = new ArrayList<>();
        AtomicInteger borrowedInWorker = new AtomicInteger(-1);
        for (int i = 0; i < 2; i++) {
            EventLoop.run(() -> {
                CapacityLimiter limiter = ToThread.currentDefaultThreadLimiter();
                assertThat(ToThread.currentDefaultThreadLimiter()).isSameAs(limiter);
                assertThat(EventLoop.current().defaultThreadLimiter()).isSameAs(limiter);
                limiters.add(limiter);
                return ToThread.runSync(() -> {
                    borrowedInWorker.set(limiter.borrowedTokens());
                    return null;
                });
            });
            assertThat(borrowedInWorker).hasValue(1);
        }

        assertThat(limiters.get(0).totalTokens()).isEqualTo(40);
        assertThat(limiters.get(1).totalTokens()).isEqualTo(40);
        assertThat(limiters.get(1)).isNotSameAs(limiters.get(0));
    }

    @Test
    void resizingTheDefaultLimiterTakesEffectForLaterCalls() throws Exception {
        AtomicInteger active = new AtomicInteger();
        AtomicInteger maxActive = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<CapacityLimiterStatistics> whileFull = new AtomicReference<>();
        AtomicReference<EventLoop> loop = new AtomicReference<>();

        EventLoop.run(() -> {
            loop.set(EventLoop.current());
            ToThread.currentDefaultThreadLimiter().setTotalTokens(2);
            return TaskGroup.open(tg -> {
                for (int i = 0; i < 3; i++) {
                    tg.startSoon("call-" + i, () -> ToThread.runSync(() -> {
                        maxActive.accumulateAndGet(active.incrementAndGet(), Math::max);
                        try {
                            release.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                        } finally {
                            active.decrementAndGet();
                        }
                        return null;
                    }));
                }
                tg.startSoon("observer", () -> ToThread.runSync(() -> {
                    try {
                        await().atMost(TIMEOUT).until(() -> active.get() == 2
                                && loop.get().statistics().defaultLimiter().tasksWaiting() == 1);
                        await().during(Duration.ofMillis(150)).atMost(TIMEOUT).until(() -> active.get() == 2);
                        whileFull.set(loop.get().statistics().defaultLimiter());
                    } finally {
                        release.countDown();
                    }
                    return null;
                }, new CapacityLimiter(1)));
                return CompletableFuture.completedFuture(null);
            });
        });

        assertThat(maxActive).hasValue(2);
        assertThat(whileFull.get().totalTokens()).isEqualTo(2);
        assertThat(whileFull.get().borrowedTokens()).isEqualTo(2);
    }

    @Test
    void callCancelledWhileWaitingForATokenNeverRunsAndGivesUpItsPlaceInTheQueue() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        CountDownLatch gate = new CountDownLatch(1);
        AtomicBoolean cancelledCallRan = new AtomicBoolean();
        Queue<String> order = new ConcurrentLinkedQueue<>();
        AtomicReference<CapacityLimiterStatistics> whileQueued = new AtomicReference<>();
        AtomicReference<CapacityLimiterStatistics> afterCancel = new AtomicReference<>();
        AtomicReference<EventLoop> loop = new AtomicReference<>();
        CancelScope waiting = CancelScope.create();

        EventLoop.run(() -> {
            loop.set(EventLoop.current());
            Event holding = new Event();
            CompletionStage<Object> holder = ToThread.runSync(() -> {
                FromThread.runSync(() -> {
                    holding.set();
                    return null;
                });
                gate.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                order.add("holder");
                return null;
            }, limiter);
            return holding.await().thenCompose(v -> {
                CompletionStage<Object> cancelled = waiting.run(() -> ToThread.runSync(() -> {
                    cancelledCallRan.set(true);
                    order.add("cancelled");
                    return null;
                }, limiter));
                whileQueued.set(limiter.statistics());
                waiting.cancel();
                return cancelled;
            }).thenCompose(v -> {
                afterCancel.set(limiter.statistics());
                CompletionStage<String> next = ToThread.runSync(() -> {
                    order.add("next");
                    return "next";
                }, limiter);
                gate.countDown();
                return holder.thenCompose(x -> next);
            });
        });

        assertThat(whileQueued.get().tasksWaiting()).isEqualTo(1);
        assertThat(waiting.cancelledCaught()).isTrue();
        assertThat(afterCancel.get().tasksWaiting()).isZero();
        assertThat(afterCancel.get().borrowedTokens()).isEqualTo(1);
        assertThat(cancelledCallRan).isFalse();
        assertThat(order).containsExactly("holder", "next");
        assertThat(limiter.statistics().borrowedTokens()).isZero();
        assertThat(limiter.statistics().tasksWaiting()).isZero();
        assertThat(loop.get().statistics().offloads().cancelledBeforeStart()).isEqualTo(1);
    }

    @Test
    void timeQueuedForATokenIsCountedWhileTheLoopSleeps() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);
        CountDownLatch holding = new CountDownLatch(1);
        long[] elapsed = new long[1];

        long start = System.nanoTime();
        EventLoop.run(() -> {
            CompletionStage<Object> holder = ToThread.runSync(() -> {
                holding.countDown();
                Thread.sleep(100); // the loop has nothing to do and parks meanwhile
                return null;
            }, limiter);
            CompletionStage<Object> queued = ToThread.runSync(() -> null, limiter);
            return holder.thenCompose(v -> queued);
        });
        elapsed[0] = System.nanoTime() - start;

        Duration waited = limiter.statistics().totalWaitTime();
        assertThat(limiter.statistics().waitedAcquisitions()).isEqualTo(1);
        // The second call queued from the start until the first one freed its token after 100 ms.
        assertThat(waited).isGreaterThanOrEqualTo(Duration.ofMillis(90)).isLessThanOrEqualTo(Duration.ofNanos(elapsed[0]));
    }

    @Test
    void cancellingManyQueuedCallsAtOnceKeepsNoneOfThemAndNoneRuns() throws Exception {
        int calls = 50_000;
        CapacityLimiter paused = new CapacityLimiter(0);
        AtomicInteger ran = new AtomicInteger();
        AtomicInteger cancelled = new AtomicInteger();
        AtomicReference<CapacityLimiterStatistics> afterCancel = new AtomicReference<>();
        AtomicInteger entriesAfterCancel = new AtomicInteger(-1);
        CancelScope scope = CancelScope.create();

        Object last = EventLoop.run(() -> {
            // The scope stays entered while its calls are pending, so cancelling it reaches them all.
            CompletionStage<Object> allSettled = scope.run(() -> {
                List<CompletableFuture<Integer>> stages = new ArrayList<>(calls);
                for (int i = 0; i < calls; i++) {
                    stages.add(ToThread.runSync(() -> ran.incrementAndGet(), paused).whenComplete((v, e) -> {
                        if (cause(e) instanceof CancelledException) {
                            cancelled.incrementAndGet();
                        }
                    }).toCompletableFuture());
                }
                return CompletableFuture.allOf(stages.toArray(CompletableFuture[]::new)).handle((v, e) -> null);
            });
            scope.cancel();
            return allSettled.thenCompose(v -> {
                afterCancel.set(paused.statistics());
                entriesAfterCancel.set(paused.queuedEntries());
                paused.setTotalTokens(1);
                return ToThread.runSync(() -> "after", paused);
            });
        });

        assertThat(cancelled).hasValue(calls);
        assertThat(afterCancel.get().tasksWaiting()).isZero();
        assertThat(afterCancel.get().borrowedTokens()).isZero();
        // Withdrawn entries are swept once they outnumber the live ones: nothing is kept.
        assertThat(entriesAfterCancel.get()).isLessThan(64);
        assertThat(last).isEqualTo("after");
        assertThat(ran).hasValue(0);
        assertThat(paused.statistics().borrowedTokens()).isZero();
    }

    @Test
    void callsLeftQueuedBetweenCancelledOnesRunInTheirOrder() throws Exception {
        int calls = 2_000;
        CapacityLimiter paused = new CapacityLimiter(0);
        Queue<Integer> order = new ConcurrentLinkedQueue<>();
        AtomicReference<CapacityLimiterStatistics> afterCancel = new AtomicReference<>();

        EventLoop.run(() -> {
            List<CompletionStage<Object>> kept = new ArrayList<>();
            List<CancelScope> scopes = new ArrayList<>();
            for (int i = 0; i < calls; i++) {
                int n = i;
                CancelScope scope = CancelScope.create();
                CompletionStage<Object> call = scope.run(() -> ToThread.runSync(() -> order.add(n), paused));
                if (n % 3 == 0) {
                    kept.add(call);
                } else {
                    scopes.add(scope);
                }
            }
            scopes.forEach(CancelScope::cancel);
            return Async.checkpoint().thenCompose(v -> {
                afterCancel.set(paused.statistics());
                paused.setTotalTokens(1);
                return CompletableFuture.allOf(kept.stream().map(CompletionStage::toCompletableFuture)
                        .toArray(CompletableFuture[]::new));
            });
        });

        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < calls; i += 3) {
            expected.add(i);
        }
        assertThat(afterCancel.get().tasksWaiting()).isEqualTo(expected.size());
        assertThat(order).containsExactlyElementsOf(expected);
        assertThat(paused.statistics().tasksWaiting()).isZero();
        assertThat(paused.statistics().borrowedTokens()).isZero();
        assertThat(paused.queuedEntries()).isZero();
    }

    @ParameterizedTest
    @EnumSource(CancelMode.class)
    void cancellationRacingWithTheTokenGrantNeverLosesOrLeaksTheToken(CancelMode mode) throws Exception {
        int rounds = 200;
        CapacityLimiter limiter = new CapacityLimiter(0);
        List<String> violations = new CopyOnWriteArrayList<>();
        AtomicInteger ranCount = new AtomicInteger();

        EventLoop.run(() -> sequentially(rounds, i -> {
            CancelScope scope = CancelScope.create();
            AtomicInteger ran = new AtomicInteger();
            RunSyncOptions options = RunSyncOptions.defaults().withCancelMode(mode).withLimiter(limiter);
            CompletionStage<Object> call = scope.run(() -> ToThread.runSync(() -> {
                ran.incrementAndGet();
                return "ran";
            }, options));
            // another thread grants the token while the loop carries out the cancellation
            CompletionStage<Object> racer = ToThread.runSync(() -> {
                if (i % 2 == 0) {
                    scope.cancel();
                    limiter.setTotalTokens(1);
                } else {
                    limiter.setTotalTokens(1);
                    scope.cancel();
                }
                return null;
            });
            return racer.thenCompose(v -> call).thenCompose(outcome -> {
                if ("ran".equals(outcome) && ran.get() != 1) {
                    violations.add("round " + i + ": the caller got the value but the function ran " + ran + " times");
                }
                return eventually("round " + i + ": the token is free again", () ->
                        limiter.statistics().borrowedTokens() == 0 && limiter.statistics().tasksWaiting() == 0)
                        .thenApply(x -> outcome);
            }).thenCompose(outcome -> {
                if (ran.get() > 1) {
                    violations.add("round " + i + ": the function ran " + ran + " times");
                }
                if (mode == CancelMode.SHIELD && (ran.get() == 1) != "ran".equals(outcome)) {
                    violations.add("round " + i + ": shielded call ran " + ran + " times but the caller got " + outcome);
                }
                ranCount.addAndGet(ran.get());
                // the token was neither lost nor leaked: a fresh call gets it
                return ToThread.runSync(() -> "fresh", limiter);
            }).thenCompose(fresh -> {
                if (!"fresh".equals(fresh)) {
                    violations.add("round " + i + ": a fresh call returned " + fresh);
                }
                limiter.setTotalTokens(0);
                return CompletableFuture.completedFuture(null);
            });
        }));

        assertThat(violations).isEmpty();
        assertThat(limiter.statistics().borrowedTokens()).isZero();
        assertThat(limiter.statistics().tasksWaiting()).isZero();
    }

    // ---------------------------------------------------------------------------------------------
    // Worker pool

    /**
     * A worker that finishes counts as searching before its caller hears of the result, so the
     * caller's next call nearly always finds it; but when the worker is on its way to park as the
     * next call comes, both it and the dispatcher may act on the call and a second thread starts.
     * So the promise is "far fewer threads than calls", not "one thread".
     */
    @Test
    void sequentialCallsRunOnWorkerThreadsNamedAfterTheLoopAndFarFewerThreadsThanCalls() throws Exception {
        int calls = 200;
        AtomicReference<EventLoop> loop = new AtomicReference<>();
        AtomicReference<String> loopThread = new AtomicReference<>();

        List<String> names = EventLoop.builder().name("tt-reuse").run(() -> {
            loop.set(EventLoop.current());
            loopThread.set(Thread.currentThread().getName());
            return sequentially(calls, i -> ToThread.runSync(() -> Thread.currentThread().getName()));
        });

        assertThat(names).hasSize(calls).allSatisfy(name -> assertThat(name).startsWith("tt-reuse-worker-"))
                .doesNotContain(loopThread.get());
        long created = loop.get().statistics().workers().created();
        assertThat(created).as("worker threads created for %d sequential calls", calls).isBetween(1L, calls / 10L);
        assertThat((long) new HashSet<>(names).size()).isLessThanOrEqualTo(created);
        await().atMost(TIMEOUT).until(() -> liveThreadsNamed("tt-reuse-worker-").isEmpty());
    }

    @Test
    void aWorkerParkedWhenTheNextCallComesRunsItInsteadOfANewThread() throws Exception {
        // an idle timeout no test run reaches, so the parked worker cannot retire meanwhile
        EventLoop loop = EventLoop.builder().name("tt-parked").workerIdleTimeout(Duration.ofHours(1)).start();
        try {
            Thread worker = submit(loop, () -> ToThread.runSync(Thread::currentThread))
                    .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            for (int call = 0; call < 20; call++) {
                await().atMost(TIMEOUT).until(() -> Workers.parkedIdle(worker));
                Thread next = submit(loop, () -> ToThread.runSync(Thread::currentThread))
                        .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                assertThat(next).as("the thread that ran call %d", call + 2).isSameAs(worker);
            }
            assertThat(worker.getName()).startsWith("tt-parked-worker-");
            assertThat(loop.statistics().workers().created()).isEqualTo(1);
        } finally {
            loop.close();
        }
        await().atMost(TIMEOUT).until(() -> liveThreadsNamed("tt-parked-worker-").isEmpty());
    }

    @Test
    void aCallWaitingForATokenRunsOnTheWorkerThatFreesIt() throws Exception {
        for (int round = 0; round < 20; round++) {
            int calls = 50;
            CountDownLatch allSubmitted = new CountDownLatch(1);
            AtomicReference<EventLoop> loop = new AtomicReference<>();
            List<Thread> ranOn = EventLoop.builder().name("tt-handoff").run(() -> {
                loop.set(EventLoop.current());
                CapacityLimiter one = new CapacityLimiter(1);
                RunSyncOptions options = RunSyncOptions.defaults().withLimiter(one);
                List<CompletionStage<Thread>> stages = new ArrayList<>();
                for (int i = 0; i < calls; i++) {
                    boolean first = i == 0;
                    stages.add(ToThread.runSync(() -> {
                        if (first) {
                            // the other calls queue for the token behind this one
                            assertThat(allSubmitted.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                        }
                        return Thread.currentThread();
                    }, options));
                }
                allSubmitted.countDown();
                return sequentially(calls, i -> stages.get(i));
            });
            assertThat(new HashSet<>(ranOn)).as("threads that ran the %d calls", calls).hasSize(1);
            assertThat(loop.get().statistics().workers().created()).isEqualTo(1);
        }
    }

    @Test
    void concurrentCallsNeverQueueBehindAnotherCallOnTheSameWorker() throws Exception {
        int rounds = 2000;
        // each round's two calls wait for each other: they must run on two threads at once
        CyclicBarrier barrier = new CyclicBarrier(2);
        AtomicInteger done = new AtomicInteger();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            for (String name : List.of("a", "b")) {
                tg.startSoon(name, () -> sequentially(rounds, i -> ToThread.runSync(() -> {
                    barrier.await(3, TimeUnit.SECONDS);
                    return done.incrementAndGet();
                })));
            }
            return CompletableFuture.completedFuture(null);
        }));

        assertThat(done).hasValue(2 * rounds);
    }

    @Test
    void idleWorkersRetireAfterTheIdleTimeout() throws Exception {
        EventLoop loop = EventLoop.builder().name("tt-idle").workerIdleTimeout(Duration.ofMillis(200)).start();
        try {
            CyclicBarrier bothRunning = new CyclicBarrier(2);
            Callable<String> meet = () -> {
                bothRunning.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                return Thread.currentThread().getName();
            };
            List<String> threads = submit(loop, () -> ToThread.runSync(meet)
                    .thenCombine(ToThread.runSync(meet), List::of)).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(new HashSet<>(threads)).hasSize(2);

            await().atMost(TIMEOUT).until(() -> loop.statistics().workers().live() == 0);
            WorkerPoolStatistics pool = loop.statistics().workers();
            // Two calls that meet need two threads; a dispatch racing with a worker's wake-up of the
            // next searcher may start a third, which retires with them.
            assertThat(pool.created()).isGreaterThanOrEqualTo(2);
            assertThat(pool.retired()).isEqualTo(pool.created());
            assertThat(pool.idle()).isZero();
            await().atMost(TIMEOUT).until(() -> liveThreadsNamed("tt-idle-worker-").isEmpty());

            // a call after the retirement gets a fresh worker
            assertThat(submit(loop, () -> ToThread.runSync(() -> Thread.currentThread().getName()))
                    .get(TIMEOUT.toSeconds(), TimeUnit.SECONDS)).startsWith("tt-idle-worker-").isNotIn(threads);
        } finally {
            loop.close();
        }
    }

    @Test
    void callCountsSurviveRetiredWorkersAndNeverGoBackWhileWorkersComeAndGo() throws Exception {
        EventLoop loop = EventLoop.builder().name("tt-counts").workerIdleTimeout(Duration.ofMillis(1)).start();
        AtomicBoolean reading = new AtomicBoolean(true);
        List<String> violations = new CopyOnWriteArrayList<>();
        AtomicInteger reads = new AtomicInteger();
        Thread reader = new Thread(() -> {
            long lastStarted = 0;
            long lastFinished = 0;
            while (reading.get()) {
                OffloadStatistics o = loop.statistics().offloads();
                long finished = o.succeeded() + o.failed();
                if (o.started() < lastStarted || finished < lastFinished) {
                    violations.add("went back: started " + lastStarted + " -> " + o.started() + ", finished "
                            + lastFinished + " -> " + finished);
                }
                if (loop.statistics().workers().busy() < 0) {
                    violations.add("negative busy count");
                }
                lastStarted = o.started();
                lastFinished = finished;
                reads.incrementAndGet();
            }
        }, "tt-counts-reader");
        int rounds = 200;
        try {
            reader.start();
            // Rounds of four calls, one of which throws, with pauses long enough for the workers to
            // retire (1 ms idle timeout) between some of them: counts move from live workers to
            // the pool's total as workers exit.
            for (int i = 0; i < rounds; i++) {
                int round = i;
                submit(loop, () -> {
                    List<CompletableFuture<Integer>> calls = new ArrayList<>();
                    for (int k = 0; k < 4; k++) {
                        boolean fail = k == 0;
                        calls.add(ToThread.runSync(() -> {
                            if (fail) {
                                throw new IOException("call " + round);
                            }
                            return round;
                        }).toCompletableFuture());
                    }
                    return CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).handle((v, e) -> null);
                }).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                if (i % 20 == 0) {
                    await().atMost(TIMEOUT).until(() -> loop.statistics().workers().live() == 0);
                }
            }
            await().atMost(TIMEOUT).until(() -> reads.get() > 100);
        } finally {
            reading.set(false);
            reader.join(TIMEOUT.toMillis());
            loop.close();
        }

        OffloadStatistics counts = loop.statistics().offloads();
        assertThat(violations).isEmpty();
        assertThat(loop.statistics().workers().retired()).isGreaterThanOrEqualTo(rounds / 20);
        assertThat(counts.started()).isEqualTo(4L * rounds);
        assertThat(counts.succeeded()).isEqualTo(3L * rounds);
        assertThat(counts.failed()).isEqualTo(rounds);
    }

    @Test
    void virtualWorkersRunCallsOnVirtualThreadsOnJdk21AndNewer() throws Exception {
        assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21 or newer");
        AtomicReference<EventLoop> loop = new AtomicReference<>();

        List<Object> seen = EventLoop.builder().name("tt-virtual").virtualWorkers(true).run(() -> {
            loop.set(EventLoop.current());
            NUMBER.set(21);
            return ToThread.runSync(() -> List.of(isVirtual(Thread.currentThread()), Thread.currentThread().getName(),
                    String.valueOf(FromThread.runSync(NUMBER::get)), String.valueOf(NUMBER.get())));
        });

        assertThat(seen.get(0)).isEqualTo(true);
        assertThat((String) seen.get(1)).startsWith("tt-virtual-worker-");
        assertThat(seen.subList(2, 4)).containsExactly("21", "21");
        assertThat(loop.get().statistics().workers().virtual()).isTrue();
    }

    @Test
    void virtualWorkersFailWithAClearMessageBeforeJdk21() {
        assumeTrue(Runtime.version().feature() < 21, "this JDK has virtual threads");

        assertThatThrownBy(() -> EventLoop.builder().virtualWorkers(true))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("virtualWorkers(true)")
                .hasMessageContaining("JDK 21")
                .hasMessageContaining(Runtime.version().toString());
    }

    // ---------------------------------------------------------------------------------------------
    // Statistics

    @Test
    void offloadStatisticsCountEachOutcome() throws Exception {
        EventLoop loop = EventLoop.builder().name("tt-statistics").start();
        try {
            // succeeded
            submit(loop, () -> ToThread.runSync(() -> "ok")).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(offloads(loop)).isEqualTo(new OffloadStatistics(1, 1, 0, 0, 0, 0, 0, 0));

            // failed
            catchThrowable(() -> submit(loop, () -> ToThread.runSync(() -> {
                throw new IllegalStateException("boom");
            })).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS));
            assertThat(offloads(loop)).isEqualTo(new OffloadStatistics(2, 1, 1, 0, 0, 0, 0, 0));

            // cancelled before start: the function never starts
            CancelScope cancelledFirst = CancelScope.create();
            cancelledFirst.cancel();
            submit(loop, () -> cancelledFirst.run(() -> ToThread.runSync(() -> "never"))).get(TIMEOUT.toSeconds(),
                    TimeUnit.SECONDS);
            assertThat(offloads(loop)).isEqualTo(new OffloadStatistics(2, 1, 1, 1, 0, 0, 0, 0));

            // shielded: the caller is cancelled while the function runs, and waits for it
            CancelScope shieldedHost = CancelScope.create();
            submit(loop, () -> shieldedHost.run(() -> ToThread.runSync(() -> {
                FromThread.runSync(() -> {
                    shieldedHost.cancel();
                    return null;
                });
                return "value";
            }))).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(offloads(loop)).isEqualTo(new OffloadStatistics(3, 2, 1, 1, 1, 0, 0, 0));

            // abandoned: counted at once; abandonedRunning until the function returns
            CountDownLatch gate = new CountDownLatch(1);
            CancelScope abandoningHost = cancelledWhileRunning(loop, CancelMode.ABANDON, () -> {
                gate.await(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
                return "late";
            });
            assertThat(abandoningHost.cancelledCaught()).isTrue();
            assertThat(offloads(loop)).isEqualTo(new OffloadStatistics(4, 2, 1, 1, 1, 1, 0, 0));
            assertThat(loop.statistics().workers().abandonedRunning()).isEqualTo(1);
            assertThat(loop.statistics().workers().busy()).isEqualTo(1);
            gate.countDown();
            await().atMost(TIMEOUT).untilAsserted(() ->
                    assertThat(offloads(loop)).isEqualTo(new OffloadStatistics(4, 3, 1, 1, 1, 1, 0, 0)));
            assertThat(loop.statistics().workers().abandonedRunning()).isZero();

            // interrupted: the interrupted function then fails with InterruptedException
            cancelledWhileRunning(loop, CancelMode.INTERRUPT, () -> {
                Thread.sleep(10_000);
                return "slept";
            });
            assertThat(offloads(loop).interrupted()).isEqualTo(1);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(offloads(loop)).isEqualTo(new OffloadStatistics(5, 3, 2, 1, 1, 1, 1, 0)));
            assertThat(loop.statistics().workers().abandonedRunning()).isZero();

            // cancelled while waiting for a token: it never starts either
            CapacityLimiter none = new CapacityLimiter(0);
            CancelScope queued = CancelScope.create();
            CompletableFuture<Object> waiting = submit(loop, () -> queued.run(() -> ToThread.runSync(() -> "never", none)));
            await().atMost(TIMEOUT).until(() -> none.statistics().tasksWaiting() == 1);
            queued.cancel();
            waiting.get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            assertThat(offloads(loop)).isEqualTo(new OffloadStatistics(5, 3, 2, 2, 1, 1, 1, 0));
            assertThat(loop.statistics().workers().busy()).isZero();
        } finally {
            loop.close();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Misuse

    @Test
    void runSyncOffTheLoopFailsNamingTheMethodAndWhatToUseInstead() throws Exception {
        AtomicBoolean ran = new AtomicBoolean();
        assertThatThrownBy(() -> ToThread.runSync(() -> ran.getAndSet(true)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("ToThread.runSync")
                .hasMessageContaining("event loop thread")
                .hasMessageContaining(Thread.currentThread().getName())
                .hasMessageContaining("BlockingPortal")
                .hasMessageContaining("FromThread.run");

        Throwable fromWorker = EventLoop.run(() -> ToThread.runSync(() ->
                catchThrowable(() -> ToThread.runSync(() -> ran.getAndSet(true)))));
        assertThat(fromWorker).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("ToThread.runSync")
                .hasMessageContaining("FromThread.run");
        assertThat(ran).isFalse();
    }

    @Test
    void currentDefaultThreadLimiterOffTheLoopFails() {
        assertThatThrownBy(ToThread::currentDefaultThreadLimiter)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("ToThread.currentDefaultThreadLimiter()")
                .hasMessageContaining("event loop thread");
    }

    @Test
    void nullArgumentsAreRejectedNamingTheArgument() throws Exception {
        AtomicReference<EventLoop> loop = new AtomicReference<>();
        EventLoop.run(() -> {
            loop.set(EventLoop.current());
            Callable<String> fn = () -> "x";
            assertThatNullPointerException().isThrownBy(() -> ToThread.runSync((Callable<String>) null))
                    .withMessageContaining("fn");
            assertThatNullPointerException().isThrownBy(() -> ToThread.runSync(fn, (RunSyncOptions) null))
                    .withMessageContaining("options");
            assertThatNullPointerException().isThrownBy(() -> ToThread.runSync(fn, (CancelMode) null))
                    .withMessageContaining("cancelMode");
            assertThatNullPointerException().isThrownBy(() -> ToThread.runSync(fn, (CapacityLimiter) null))
                    .withMessageContaining("limiter");
            return CompletableFuture.completedFuture(null);
        });

        assertThat(loop.get().statistics().offloads().started()).isZero();
        assertThat(loop.get().statistics().defaultLimiter().acquisitions()).isZero();
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
    private interface Step<T> {
        CompletionStage<T> run(int i) throws Exception;
    }

    /** Runs {@code step} n times one after the other on the loop; completes with their values. */
    private static <T> CompletionStage<List<T>> sequentially(int n, Step<T> step) {
        List<T> values = new ArrayList<>();
        CompletionStage<Void> chain = CompletableFuture.completedFuture(null);
        for (int i = 0; i < n; i++) {
            int round = i;
            chain = chain.thenCompose(v -> {
                try {
                    return step.run(round);
                } catch (Exception e) {
                    throw new CompletionException(e);
                }
            }).thenAccept(values::add);
        }
        return chain.thenApply(v -> values);
    }

    /** A loop-side wait that polls {@code condition} and fails after {@link #TIMEOUT}. */
    private static CompletionStage<Void> eventually(String what, BooleanSupplier condition) {
        return poll(what, condition, System.nanoTime() + TIMEOUT.toNanos());
    }

    private static CompletionStage<Void> poll(String what, BooleanSupplier condition, long deadline) {
        if (condition.getAsBoolean()) {
            return CompletableFuture.completedFuture(null);
        }
        if (System.nanoTime() - deadline > 0) {
            return CompletableFuture.failedFuture(new AssertionError("timed out waiting until " + what));
        }
        return Async.sleep(Duration.ofMillis(1)).thenCompose(v -> poll(what, condition, deadline));
    }

    /** Runs {@code fn} in a callback on a started loop; the future completes with its stage's outcome. */
    private static <T> CompletableFuture<T> submit(EventLoop loop, AsyncCallable<T> fn) {
        CompletableFuture<T> result = new CompletableFuture<>();
        loop.execute(() -> {
            CompletionStage<T> stage;
            try {
                stage = fn.call();
            } catch (Throwable t) {
                result.completeExceptionally(t);
                return;
            }
            stage.whenComplete((v, e) -> {
                if (e == null) {
                    result.complete(v);
                } else {
                    result.completeExceptionally(cause(e));
                }
            });
        });
        return result;
    }

    /** Runs {@code fn} on a started loop with {@code mode} and cancels its host once it runs. */
    private static CancelScope cancelledWhileRunning(EventLoop loop, CancelMode mode, Callable<Object> fn)
            throws Exception {
        CancelScope host = CancelScope.create();
        submit(loop, () -> {
            Event started = new Event();
            return host.run(() -> {
                CompletionStage<Object> call = ToThread.runSync(() -> {
                    FromThread.runSync(() -> {
                        started.set();
                        return null;
                    });
                    return fn.call();
                }, mode);
                return started.await().thenCompose(v -> {
                    host.cancel();
                    return call;
                });
            });
        }).get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        return host;
    }

    private static OffloadStatistics offloads(EventLoop loop) {
        return loop.statistics().offloads();
    }

    private static EventLoopListener recordingListener(List<Throwable> uncaught) {
        return new EventLoopListener() {
            @Override
            public void onUncaughtException(EventLoop loop, Throwable error) {
                uncaught.add(error);
            }
        };
    }

    private static List<Thread> liveThreadsNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith(prefix))
                .collect(Collectors.toList());
    }

    private static boolean isVirtual(Thread thread) throws ReflectiveOperationException {
        return (Boolean) Thread.class.getMethod("isVirtual").invoke(thread);
    }


    // ---------------------------------------------------------------------------------------------
    // The call's name on its worker thread (Trio names the thread for the call)

    /**
     * A named call shows its name in its worker thread's name while it runs, as a thread dump or a
     * profiler reads it from another thread, and the worker's own name comes back after it; an
     * unnamed call, and a call whose function renamed the thread, leave the worker its own name.
     */
    @Test
    void aNamedCallCarriesItsNameOnTheWorkerThreadWhileItRunsAndTheWorkerGetsItsOwnNameBack() throws Exception {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("named-calls").daemon(true)
                .defaultThreadLimit(1))) {
            for (int round = 0; round < 20; round++) {
                CountDownLatch running = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                AtomicReference<Thread> worker = new AtomicReference<>();
                AtomicReference<String> inside = new AtomicReference<>();
                CompletableFuture<String> call = portal.startTaskSoon(() -> ToThread.runSync(() -> {
                    worker.set(Thread.currentThread());
                    inside.set(Thread.currentThread().getName());
                    running.countDown();
                    release.await(30, TimeUnit.SECONDS);
                    return "exported";
                }, RunSyncOptions.defaults().withName("report-export")));
                assertThat(running.await(30, TimeUnit.SECONDS)).isTrue();

                String dumped = mx.getThreadInfo(worker.get().getId()).getThreadName();
                release.countDown();
                assertThat(call.get(30, TimeUnit.SECONDS)).isEqualTo("exported");

                assertThat(inside.get()).matches("named-calls-worker-\\d+ \\[report-export\\]");
                assertThat(dumped).isEqualTo(inside.get());
                String own = inside.get().substring(0, inside.get().indexOf(" ["));
                await().atMost(TIMEOUT).until(() -> worker.get().getName().equals(own));
                // The limiter's single token keeps every call on this worker's thread or a new one.
                String unnamed = portal.call(() -> ToThread.runSync(() -> Thread.currentThread().getName()));
                assertThat(unnamed).doesNotContain("[");
                String renamed = portal.call(() -> ToThread.runSync(() -> {
                    Thread.currentThread().setName("renamed by the function");
                    return "done";
                }, RunSyncOptions.defaults().withName("renamer")));
                assertThat(renamed).isEqualTo("done");
                assertThat(portal.eventLoop().workers.threads()).allSatisfy(
                        t -> assertThat(t.getName()).startsWith("named-calls-worker-").doesNotContain("["));
            }
        }
    }

    private static Throwable cause(Throwable e) {
        Throwable t = e;
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
