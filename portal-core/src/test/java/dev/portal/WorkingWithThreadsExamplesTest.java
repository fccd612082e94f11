package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * The examples of AnyIO's "Working with threads" page, written with Portal as a user would write
 * them, each checked against what the page says happens. Sleeps are shortened (200 ms for 5 s).
 */
class WorkingWithThreadsExamplesTest {

    static final TaskLocal<String> REQUEST_ID = TaskLocal.named("requestId");

    private static final Duration WAIT = Duration.ofSeconds(20);

    @AfterEach
    void clearTestThreadMdc() {
        MDC.clear();
    }

    private static long millisSince(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    /** Runs {@code EventLoop.run(main)} on a thread of its own, so the test thread can watch it. */
    private static <T> FutureTask<T> runInBackground(String threadName, AsyncCallable<T> main) {
        FutureTask<T> task = new FutureTask<>(() -> EventLoop.run(main));
        Thread thread = new Thread(task, threadName);
        thread.setDaemon(true);
        thread.start();
        return task;
    }

    // ---------------------------------------------------------------------------------------------
    @Nested
    class RunningAFunctionInAWorkerThread {

        @Test
        void runSyncRunsTheBlockingFunctionOnAWorkerAndCompletesWhenItReturns() throws Exception {
            long start = System.nanoTime();

            Object result = EventLoop.run(() -> ToThread.runSync(() -> {
                Thread.sleep(200);
                return null;
            }));

            assertThat(result).isNull();
            assertThat(millisSince(start)).isGreaterThanOrEqualTo(200);
        }

        @Test
        void theFunctionRunsOnANamedPooledWorkerThreadNotOnTheLoopThread() throws Exception {
            Thread caller = Thread.currentThread();
            AtomicReference<Thread> worker = new AtomicReference<>();

            EventLoop.run(() -> ToThread.runSync(() -> {
                worker.set(Thread.currentThread());
                Thread.sleep(200);
                return null;
            }));

            assertThat(worker.get()).isNotSameAs(caller);
            assertThat(worker.get().getName()).matches("portal-loop-\\d+-worker-\\d+");
        }

        @Test
        void theLoopKeepsRunningOtherTasksWhileTheWorkerBlocks() throws Exception {
            AtomicBoolean workerDone = new AtomicBoolean();
            AtomicInteger ticksWhileBlocked = new AtomicInteger();

            EventLoop.run(() -> TaskGroup.open(tg -> {
                tg.startSoon("ticker", () -> tick(workerDone, ticksWhileBlocked));
                return ToThread.runSync(() -> {
                    // blocks until the other task has ticked: a loop waiting for this call never would
                    await().atMost(WAIT).until(() -> ticksWhileBlocked.get() >= 5);
                    workerDone.set(true);
                    return null;
                });
            }));

            assertThat(ticksWhileBlocked.get()).as("10 ms ticks of another task during the blocking call")
                    .isGreaterThanOrEqualTo(5);
        }

        private CompletionStage<Void> tick(AtomicBoolean stop, AtomicInteger ticks) {
            if (stop.get()) {
                return CompletableFuture.completedFuture(null);
            }
            return Async.sleep(Duration.ofMillis(10)).thenCompose(v -> {
                ticks.incrementAndGet();
                return tick(stop, ticks);
            });
        }

        @Test
        void byDefaultACancelledCallerWaitsForTheWorkerAndGetsItsValue() throws Exception {
            List<String> lastActive = Collections.synchronizedList(new ArrayList<>());
            AtomicReference<Object> valueSeenByCaller = new AtomicReference<>();
            AtomicBoolean workerInterrupted = new AtomicBoolean();
            long start = System.nanoTime();

            Object result = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofMillis(50), () ->
                    ToThread.runSync(() -> {
                        try {
                            Thread.sleep(300);
                        } catch (InterruptedException e) {
                            workerInterrupted.set(true);
                        }
                        lastActive.add("thread");
                        return "done";
                    }).thenCompose(value -> {
                        valueSeenByCaller.set(value);
                        lastActive.add("task");
                        return Async.checkpoint();   // the pending cancellation surfaces here
                    }).thenApply(v -> "not reached")));

            assertThat(valueSeenByCaller.get()).as("the shielded caller receives the function's value").isEqualTo("done");
            assertThat(lastActive).as("the caller resumes only after the thread has finished")
                    .containsExactly("thread", "task");
            assertThat(workerInterrupted).isFalse();
            assertThat(result).as("the cancellation surfaced at the next checkpoint and the scope absorbed it")
                    .isNull();
            assertThat(millisSince(start)).isGreaterThanOrEqualTo(300);
        }

        @Test
        void abandonReleasesTheCancelledCallerAtOnceWhileTheThreadRunsOn() throws Exception {
            List<String> lastActive = Collections.synchronizedList(new ArrayList<>());
            AtomicReference<Throwable> callerOutcome = new AtomicReference<>();
            AtomicInteger abandonedRunning = new AtomicInteger(-1);
            AtomicInteger tokensHeld = new AtomicInteger(-1);
            CountDownLatch threadFinished = new CountDownLatch(1);
            CountDownLatch callerReleased = new CountDownLatch(1);
            AtomicBoolean threadSawTheCallerLeave = new AtomicBoolean();

            CancelScope caller = CancelScope.create();

            Object result = EventLoop.run(() -> caller.run(() ->
                    ToThread.runSync(() -> {
                        caller.cancel();   // the caller is cancelled while the function runs
                        // a caller that waited for this function would never be released: it times out
                        threadSawTheCallerLeave.set(callerReleased.await(WAIT.toSeconds(), TimeUnit.SECONDS));
                        lastActive.add("thread");
                        threadFinished.countDown();
                        return "outcome";
                    }, CancelMode.ABANDON).whenComplete((v, e) -> {
                        lastActive.add("task");
                        callerOutcome.set(e);
                    })).thenApply(v -> {
                        abandonedRunning.set((int) EventLoop.current().statistics().workers().abandonedRunning());
                        tokensHeld.set(ToThread.currentDefaultThreadLimiter().borrowedTokens());
                        callerReleased.countDown();
                        return v;
                    }));

            assertThat(result).isNull();
            assertThat(callerOutcome.get()).isInstanceOf(CancelledException.class);
            assertThat(threadFinished.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(threadSawTheCallerLeave).as("the caller did not wait for the function").isTrue();
            assertThat(abandonedRunning.get()).as("the abandoned thread still runs").isEqualTo(1);
            assertThat(tokensHeld.get()).as("and keeps its limiter token").isEqualTo(1);
            assertThat(lastActive).containsExactly("task", "thread");
        }

        @Test
        void interruptReleasesTheCancelledCallerAndInterruptsTheWorker() throws Exception {
            CountDownLatch interrupted = new CountDownLatch(1);
            AtomicReference<Throwable> callerOutcome = new AtomicReference<>();
            long start = System.nanoTime();

            CancelScope caller = CancelScope.create();

            Object result = EventLoop.run(() -> caller.run(() ->
                    ToThread.runSync(() -> {
                        caller.cancel();   // the caller is cancelled while the function runs
                        try {
                            Thread.sleep(10_000);
                            return "slept";
                        } catch (InterruptedException e) {
                            interrupted.countDown();
                            throw e;
                        }
                    }, CancelMode.INTERRUPT).whenComplete((v, e) -> callerOutcome.set(e))));

            assertThat(result).isNull();
            assertThat(callerOutcome.get()).isInstanceOf(CancelledException.class);
            assertThat(interrupted.await(5, TimeUnit.SECONDS)).as("the worker's sleep was interrupted").isTrue();
            assertThat(millisSince(start)).isLessThan(5_000);
        }
    }

    // ---------------------------------------------------------------------------------------------
    @Nested
    class CallingAsynchronousCodeFromAWorkerThread {

        @Test
        void fromThreadRunRunsTheAsyncSleepAndReturnsWhenItIsDone() throws Exception {
            long start = System.nanoTime();

            Object result = EventLoop.run(() -> ToThread.runSync(() ->
                    FromThread.run(() -> Async.sleep(Duration.ofMillis(200)))));

            assertThat(result).isNull();
            assertThat(millisSince(start)).isGreaterThanOrEqualTo(200);
        }

        @Test
        void theAsyncCodeRunsOnTheLoopThreadAndItsValueReachesTheWorker() throws Exception {
            Thread loopThread = Thread.currentThread();   // EventLoop.run runs the loop here
            AtomicReference<Thread> asyncRanOn = new AtomicReference<>();
            AtomicReference<Thread> workerThread = new AtomicReference<>();

            Integer sum = EventLoop.run(() -> ToThread.runSync(() -> {
                workerThread.set(Thread.currentThread());
                return FromThread.run(() -> Async.sleep(Duration.ofMillis(20)).thenApply(v -> {
                    asyncRanOn.set(Thread.currentThread());
                    return 1 + 2;
                }));
            }));

            assertThat(sum).isEqualTo(3);
            assertThat(asyncRanOn.get()).isSameAs(loopThread);
            assertThat(workerThread.get()).isNotSameAs(loopThread);
        }

        @Test
        void anExceptionOfTheAsyncCodeReachesTheCallerThroughBothHopsAsTheSameObject() {
            IOException failure = new IOException("unsupported operand type");

            Throwable thrown = catchThrowable(() -> EventLoop.run(() -> ToThread.runSync(() ->
                    FromThread.run(() -> Async.checkpoint().thenCompose(v -> CompletableFuture.failedFuture(failure))))));

            assertThat(thrown).isSameAs(failure);
        }

        @Test
        void fromThreadRunFailsAtOnceOnAThreadThatRunSyncDidNotStartAndSaysToUseABlockingPortal() {
            Throwable thrown = catchThrowable(() -> FromThread.run(() -> Async.sleep(Duration.ofMillis(200))));

            assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("FromThread.run")
                    .hasMessageContaining(Thread.currentThread().getName())
                    .hasMessageContaining("BlockingPortal");
        }

        @Test
        void fromThreadRunFailsOnAThreadThatAWorkerStartedItself() throws Exception {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicBoolean asyncCodeRan = new AtomicBoolean();

            EventLoop.run(() -> ToThread.runSync(() -> {
                Thread helper = new Thread(() -> thrown.set(catchThrowable(() -> FromThread.run(() -> {
                    asyncCodeRan.set(true);
                    return Async.checkpoint();
                }))), "helper-of-a-worker");
                helper.start();
                helper.join(10_000);
                return null;
            }));

            assertThat(thrown.get()).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("helper-of-a-worker")
                    .hasMessageContaining("BlockingPortal");
            assertThat(asyncCodeRan).isFalse();
        }

        @Test
        void fromThreadRunSyncAlsoFailsOffAWorkerAndSaysToUseABlockingPortal() {
            Throwable thrown = catchThrowable(() -> FromThread.runSync(() -> "never"));

            assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("FromThread.runSync")
                    .hasMessageContaining("BlockingPortal");
        }
    }

    // ---------------------------------------------------------------------------------------------
    @Nested
    class CallingSynchronousCodeFromAWorkerThread {

        @Test
        void aWorkerSetsAnEventThroughFromThreadRunSyncAndTheTaskWakesUp() throws Exception {
            AtomicReference<Event> eventRef = new AtomicReference<>();
            long start = System.nanoTime();

            Object result = EventLoop.run(() -> {
                Event event = new Event();
                eventRef.set(event);
                return ToThread.runSync(() -> {
                    Thread.sleep(200);
                    FromThread.runSync(event::set);
                    return null;
                }).thenCompose(ignored -> event.await());
            });

            assertThat(result).isNull();
            assertThat(eventRef.get().isSet()).isTrue();
            assertThat(millisSince(start)).isGreaterThanOrEqualTo(200);
        }

        @Test
        void fromThreadRunSyncRunsTheFunctionOnTheLoopThreadAndReturnsItsValue() throws Exception {
            Thread loopThread = Thread.currentThread();
            AtomicReference<Thread> ranOn = new AtomicReference<>();

            Integer sum = EventLoop.run(() -> ToThread.runSync(() -> FromThread.runSync(() -> {
                ranOn.set(Thread.currentThread());
                return 1 + 2;
            })));

            assertThat(sum).isEqualTo(3);
            assertThat(ranOn.get()).isSameAs(loopThread);
        }

        @Test
        void settingTheEventDirectlyFromAWorkerFailsFastAndSaysWhatToUse() throws Exception {
            AtomicReference<Throwable> thrown = new AtomicReference<>();
            AtomicReference<Event> eventRef = new AtomicReference<>();

            EventLoop.run(() -> {
                Event event = new Event();
                eventRef.set(event);
                return ToThread.runSync(() -> {
                    thrown.set(catchThrowable(event::set));
                    return null;
                });
            });

            assertThat(thrown.get()).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("Event.set()")
                    .hasMessageContaining("FromThread.runSync");
            assertThat(eventRef.get().isSet()).isFalse();
        }
    }

    // ---------------------------------------------------------------------------------------------
    @Nested
    class ContextPropagation {

        @Test
        void theWorkerSeesTheTaskLocalAndTheMdcOfTheCallingTask() throws Exception {
            String seen = EventLoop.run(() -> {
                REQUEST_ID.set("r-42");
                MDC.put("requestId", "r-42");
                return ToThread.runSync(() -> REQUEST_ID.get() + " " + MDC.get("requestId"));
            });

            assertThat(seen).isEqualTo("r-42 r-42");
        }

        @Test
        void theValuesSetInTheLoopDoNotLeakBackToTheThreadThatRanIt() throws Exception {
            EventLoop.run(() -> {
                REQUEST_ID.set("r-42");
                MDC.put("requestId", "r-42");
                return ToThread.runSync(() -> null);
            });

            assertThat(REQUEST_ID.get()).isNull();
            assertThat(MDC.get("requestId")).isNull();
        }

        @Test
        void changesMadeByTheWorkerDoNotPropagateBackToTheTask() throws Exception {
            String afterwards = EventLoop.run(() -> {
                REQUEST_ID.set("r-42");
                MDC.put("requestId", "r-42");
                return ToThread.runSync(() -> {
                    REQUEST_ID.set("changed-by-worker");
                    MDC.put("requestId", "changed-by-worker");
                    return null;
                }).thenApply(v -> REQUEST_ID.get() + " " + MDC.get("requestId"));
            });

            assertThat(afterwards).as("the task keeps its own values across the await").isEqualTo("r-42 r-42");
        }

        @Test
        void asyncCodeCalledFromTheWorkerSeesACopyOfTheWorkersContext() throws Exception {
            AtomicReference<String> workerAfterwards = new AtomicReference<>();

            String seenOnLoop = EventLoop.run(() -> {
                REQUEST_ID.set("r-42");
                return ToThread.runSync(() -> {
                    REQUEST_ID.set("w-7");
                    MDC.put("requestId", "w-7");
                    String seen = FromThread.run(() -> Async.checkpoint().thenApply(v -> {
                        String value = REQUEST_ID.get() + " " + MDC.get("requestId");
                        REQUEST_ID.set("set-on-the-loop");
                        return value;
                    }));
                    workerAfterwards.set(REQUEST_ID.get());
                    return seen;
                });
            });

            assertThat(seenOnLoop).isEqualTo("w-7 w-7");
            assertThat(workerAfterwards.get()).as("loop-side changes are not written back").isEqualTo("w-7");
        }

        @Test
        void eachTaskSeesOnlyItsOwnValue() throws Exception {
            List<String> seen = Collections.synchronizedList(new ArrayList<>());

            EventLoop.run(() -> TaskGroup.open(tg -> {
                for (String id : List.of("r-1", "r-2", "r-3")) {
                    tg.startSoon(id, () -> {
                        REQUEST_ID.set(id);
                        return Async.sleep(Duration.ofMillis(20))
                                .thenCompose(v -> ToThread.runSync(() -> id + "=" + REQUEST_ID.get()))
                                .thenAccept(seen::add);
                    });
                }
                return Async.checkpoint();
            }));

            assertThat(seen).containsExactlyInAnyOrder("r-1=r-1", "r-2=r-2", "r-3=r-3");
        }

        @Test
        void aPooledWorkerCarriesNoContextIntoItsNextCall() throws Exception {
            Object[] second = EventLoop.run(() -> ToThread.runSync(() -> {
                REQUEST_ID.set("left-behind");
                MDC.put("requestId", "left-behind");
                return Thread.currentThread();
            }).thenCompose(firstWorker -> Workers.untilParked(firstWorker).thenCompose(v -> ToThread.runSync(() -> new Object[] {
                    firstWorker, Thread.currentThread(), REQUEST_ID.get(), MDC.get("requestId")}))));

            assertThat(second[1]).as("the second call woke the parked worker").isSameAs(second[0]);
            assertThat(second[2]).isNull();
            assertThat(second[3]).isNull();
        }
    }

    // ---------------------------------------------------------------------------------------------
    @Nested
    class AdjustingTheDefaultMaximumWorkerThreadCount {

        private final AtomicInteger running = new AtomicInteger();
        private final AtomicInteger maxRunning = new AtomicInteger();
        private final CountDownLatch release = new CountDownLatch(1);
        private final AtomicReference<CapacityLimiter> limiterRef = new AtomicReference<>();

        @AfterEach
        void releaseWorkers() {
            release.countDown();
        }

        private Object blockUntilReleased() throws InterruptedException {
            int now = running.incrementAndGet();
            maxRunning.accumulateAndGet(now, Math::max);
            try {
                release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            } finally {
                running.decrementAndGet();
            }
            return null;
        }

        private CompletionStage<Void> offload(int calls) {
            List<CompletableFuture<Object>> all = new ArrayList<>();
            for (int i = 0; i < calls; i++) {
                all.add(ToThread.runSync(this::blockUntilReleased).toCompletableFuture());
            }
            return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0]));
        }

        @Test
        void theDefaultLimiterHas40TokensAndBoundsWorkerCallsTo40() throws Exception {
            FutureTask<Void> main = runInBackground("limiter-40-main", () -> {
                limiterRef.set(ToThread.currentDefaultThreadLimiter());
                return offload(60);
            });

            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(running.get()).isEqualTo(40);
                assertThat(limiterRef.get().statistics().tasksWaiting()).isEqualTo(20);
            });
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> running.get() == 40);
            CapacityLimiterStatistics stats = limiterRef.get().statistics();
            release.countDown();
            main.get(WAIT.toSeconds(), TimeUnit.SECONDS);

            assertThat(stats.totalTokens()).isEqualTo(40);
            assertThat(stats.borrowedTokens()).isEqualTo(40);
            assertThat(maxRunning.get()).isEqualTo(40);
            assertThat(limiterRef.get().borrowedTokens()).isZero();
        }

        @Test
        void settingTheTotalTo60Allows60ConcurrentWorkerCalls() throws Exception {
            FutureTask<Void> main = runInBackground("limiter-60-main", () -> {
                ToThread.currentDefaultThreadLimiter().setTotalTokens(60);
                limiterRef.set(ToThread.currentDefaultThreadLimiter());
                return offload(80);
            });

            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(running.get()).isEqualTo(60);
                assertThat(limiterRef.get().statistics().tasksWaiting()).isEqualTo(20);
            });
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> running.get() == 60);
            CapacityLimiterStatistics stats = limiterRef.get().statistics();
            release.countDown();
            main.get(WAIT.toSeconds(), TimeUnit.SECONDS);

            assertThat(stats.totalTokens()).isEqualTo(60);
            assertThat(stats.borrowedTokens()).isEqualTo(60);
            assertThat(maxRunning.get()).isEqualTo(60);
        }

        @Test
        void raisingTheTotalLiveStartsTheWaitingCalls() throws Exception {
            FutureTask<Void> main = runInBackground("limiter-live-main", () -> {
                limiterRef.set(ToThread.currentDefaultThreadLimiter());
                return offload(60);
            });
            await().atMost(WAIT).until(() -> running.get() == 40);

            limiterRef.get().setTotalTokens(60);

            await().atMost(WAIT).until(() -> running.get() == 60);
            assertThat(limiterRef.get().statistics().tasksWaiting()).isZero();
            release.countDown();
            main.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }

        @Test
        void eachLoopHasItsOwnDefaultLimiterSoAChangeStaysInItsLoop() throws Exception {
            CapacityLimiter first = EventLoop.run(() -> {
                ToThread.currentDefaultThreadLimiter().setTotalTokens(60);
                return CompletableFuture.completedFuture(ToThread.currentDefaultThreadLimiter());
            });
            CapacityLimiter second = EventLoop.run(() ->
                    CompletableFuture.completedFuture(ToThread.currentDefaultThreadLimiter()));

            assertThat(first.totalTokens()).isEqualTo(60);
            assertThat(second).isNotSameAs(first);
            assertThat(second.totalTokens()).isEqualTo(40);
        }
    }

    // ---------------------------------------------------------------------------------------------
    @Nested
    class ReactingToCancellationInWorkerThreads {

        @Test
        void theWorkerLoopEndsSoonAfterTheHostScopeIsCancelled() throws Exception {
            List<String> printed = Collections.synchronizedList(new ArrayList<>());
            AtomicReference<Throwable> raisedInWorker = new AtomicReference<>();
            long start = System.nanoTime();

            Object result = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofSeconds(1), () ->
                    ToThread.runSync(() -> {
                        try {
                            while (true) {
                                FromThread.checkCancelled();
                                printed.add("Not cancelled yet");
                                Thread.sleep(100);
                            }
                        } catch (CancelledException e) {
                            raisedInWorker.set(e);
                            throw e;
                        }
                    })));
            long elapsed = millisSince(start);

            assertThat(result).as("move_on_after absorbed the cancellation").isNull();
            assertThat(raisedInWorker.get()).isInstanceOf(CancelledException.class);
            // Each line is followed by a 100 ms sleep, so no more lines than 100 ms periods in the run;
            // how many fit in the 1 s before the deadline depends on how busy the machine is.
            assertThat(printed).as("lines printed in %d ms", elapsed).hasSizeBetween(1, (int) (elapsed / 100) + 1)
                    .containsOnly("Not cancelled yet");
            assertThat(elapsed).isGreaterThanOrEqualTo(1_000).isLessThan(6_000);
        }

        @Test
        void checkCancelledReturnsQuietlyWhileTheHostIsNotCancelled() throws Exception {
            Integer polls = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofSeconds(30), () ->
                    ToThread.runSync(() -> {
                        for (int i = 0; i < 5; i++) {
                            FromThread.checkCancelled();
                        }
                        return 5;
                    })));

            assertThat(polls).isEqualTo(5);
        }

        @Test
        void theCancellationRaisedInTheWorkerIsAbsorbedByTheCancelledScope() throws Exception {
            CancelScope scope = CancelScope.withTimeout(Duration.ofMillis(100));

            Object result = EventLoop.run(() -> scope.run(() -> ToThread.runSync(() -> {
                while (true) {
                    FromThread.checkCancelled();
                    Thread.sleep(10);
                }
            })));

            assertThat(result).isNull();
            assertThat(scope.cancelCalled()).isTrue();
            assertThat(scope.cancelledCaught()).isTrue();
        }

        @Test
        void checkCancelledFailsOffAWorkerThread() {
            Throwable thrown = catchThrowable(FromThread::checkCancelled);

            assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("FromThread.checkCancelled()")
                    .hasMessageContaining(Thread.currentThread().getName());
        }
    }
}
