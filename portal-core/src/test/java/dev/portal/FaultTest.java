package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Faults: Errors thrown by worker functions and loop callbacks, interrupted callers, portals stopped
 * under thousands of waiting calls, and hundreds of abandoned workers. Each failure reaches its
 * caller or the loop's {@link EventLoopListener}, the loop keeps serving, and nothing hangs or leaks.
 */
class FaultTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private final Queue<Throwable> uncaught = new ConcurrentLinkedQueue<>();
    private BlockingPortal portal;

    @BeforeEach
    void startPortal() {
        portal = BlockingPortal.start(EventLoop.builder().name("fault-loop").daemon(true)
                .workerIdleTimeout(Duration.ofSeconds(1)).listener(new EventLoopListener() {
                    @Override
                    public void onUncaughtException(EventLoop loop, Throwable error) {
                        uncaught.add(error);
                    }
                }));
    }

    @AfterEach
    void closePortal() {
        portal.close();
        await().atMost(WAIT).until(() -> StressTest.liveThreadsNamed("fault-loop").isEmpty());
    }

    private void theLoopStillServes() throws Exception {
        assertThat(portal.<String>call(() -> ToThread.runSync(() -> "still serving"))).isEqualTo("still serving");
        assertThat(portal.<Integer>call(() -> Async.sleep(Duration.ofMillis(1)).thenApply(v -> 42))).isEqualTo(42);
        assertThat(portal.eventLoop().defaultThreadLimiter().borrowedTokens()).isZero();
    }

    private static int recurse(int depth) {
        return recurse(depth + 1) + 1;
    }

    // ---------------------------------------------------------------------------------------------
    // Errors in worker functions and loop callbacks

    @Test
    void aStackOverflowInAWorkerReachesTheCallerAndTheLoopKeepsServing() throws Exception {
        Throwable thrown = catchThrowable(() -> portal.call(() -> ToThread.runSync(() -> recurse(0))));

        assertThat(thrown).isInstanceOf(StackOverflowError.class);
        assertThat(uncaught).isEmpty();
        theLoopStillServes();
        assertThat(portal.eventLoop().statistics().offloads().failed()).isEqualTo(1);
    }

    @Test
    void anOutOfMemoryErrorThrownInAWorkerReachesTheCallerAsTheSameObject() throws Exception {
        OutOfMemoryError oom = new OutOfMemoryError("thrown on purpose");

        Throwable thrown = catchThrowable(() -> portal.call(() -> ToThread.runSync(() -> {
            throw oom;
        }, CancelMode.INTERRUPT)));

        assertThat(thrown).isSameAs(oom);
        theLoopStillServes();
    }

    @Test
    void anErrorThrownByAsyncCodeReachesThePortalCallerAsTheSameObject() throws Exception {
        AssertionError error = new AssertionError("from the loop");

        Throwable thrown = catchThrowable(() -> portal.call(() -> {
            throw error;
        }));

        assertThat(thrown).isSameAs(error);
        theLoopStillServes();
    }

    @Test
    void aLoopCallbackThatThrowsReachesTheListenerAndTheLoopKeepsServing() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        OutOfMemoryError oom = new OutOfMemoryError("callback, on purpose");

        portal.eventLoop().execute(() -> {
            throw boom;
        });
        portal.eventLoop().execute(() -> {
            throw oom;
        });

        await().atMost(WAIT).until(() -> uncaught.size() == 2);
        assertThat(uncaught).containsExactly(boom, oom);
        assertThat(portal.eventLoop().statistics().callbackFailures()).isEqualTo(2);
        theLoopStillServes();
    }

    @Test
    void aListenerThatThrowsDoesNotStopTheLoop() throws Exception {
        AtomicInteger heard = new AtomicInteger();
        try (BlockingPortal p = BlockingPortal.start(EventLoop.builder().name("fault-bad-listener").daemon(true)
                .listener(new EventLoopListener() {
                    @Override
                    public void onUncaughtException(EventLoop loop, Throwable error) {
                        heard.incrementAndGet();
                        throw new IllegalStateException("listener fails too");
                    }
                }))) {
            p.eventLoop().execute(() -> {
                throw new IllegalArgumentException("callback fails");
            });

            await().atMost(WAIT).until(() -> heard.get() == 1);
            assertThat(p.<String>call(() -> ToThread.runSync(() -> "ok"))).isEqualTo("ok");
            assertThat(p.eventLoop().statistics().callbackFailures()).isEqualTo(1);
        }
    }

    @Test
    void anErrorInAFunctionOnTheLoopCalledFromAWorkerReachesTheWorker() throws Exception {
        StackOverflowError deep = new StackOverflowError("on the loop, on purpose");

        Throwable seenByWorker = portal.call(() -> ToThread.runSync(() -> catchThrowable(
                () -> FromThread.runSync(() -> {
                    throw deep;
                }))));

        assertThat(seenByWorker).isSameAs(deep);
        assertThat(uncaught).isEmpty();
        theLoopStillServes();
    }

    // ---------------------------------------------------------------------------------------------
    // Interrupted callers

    @Test
    void aThreadInterruptedWhileBlockedInAPortalCallGetsInterruptedExceptionAndTheTaskIsCancelled()
            throws Exception {
        CountDownLatch taskRunning = new CountDownLatch(1);
        CompletableFuture<Throwable> taskOutcome = new CompletableFuture<>();
        AtomicReference<Throwable> callerSaw = new AtomicReference<>();
        AtomicReference<Boolean> flagAfter = new AtomicReference<>();
        Thread caller = StressTest.start("fault-caller", () -> {
            try {
                portal.call(() -> {
                    taskRunning.countDown();
                    return Async.sleep(Duration.ofMinutes(5))
                            .whenComplete((v, e) -> taskOutcome.complete(CancelScope.unwrap(e)));
                });
            } catch (Throwable t) {
                callerSaw.set(t);
            }
            flagAfter.set(Thread.currentThread().isInterrupted());
        });
        assertThat(taskRunning.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        caller.interrupt();
        caller.join(WAIT.toMillis());

        assertThat(caller.isAlive()).isFalse();
        assertThat(callerSaw.get()).isInstanceOf(InterruptedException.class);
        assertThat(flagAfter.get()).as("interrupt flag after the call").isFalse();
        assertThat(taskOutcome.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
        await().atMost(WAIT).until(() -> portal.tasks().isEmpty());
        theLoopStillServes();
    }

    @Test
    void aThreadInterruptedBeforeAPortalCallGetsInterruptedExceptionAndNothingIsLeftRunning() throws Exception {
        AtomicReference<Throwable> callerSaw = new AtomicReference<>();
        Thread caller = StressTest.start("fault-caller-pre", () -> {
            Thread.currentThread().interrupt();
            try {
                portal.call(() -> Async.sleep(Duration.ofMinutes(5)));
            } catch (Throwable t) {
                callerSaw.set(t);
            }
        });
        caller.join(WAIT.toMillis());

        assertThat(callerSaw.get()).isInstanceOf(InterruptedException.class);
        await().atMost(WAIT).until(() -> portal.tasks().isEmpty());
        theLoopStillServes();
    }

    // ---------------------------------------------------------------------------------------------
    // Stopping under load

    @Test
    void aPortalStoppedWhileThousandsOfCallsWaitReleasesEveryCaller() throws Exception {
        int futures = 3000;
        int blockedThreads = 64;
        List<CompletableFuture<Void>> pending = new ArrayList<>();
        for (int i = 0; i < futures; i++) {
            pending.add(portal.startTaskSoon(() -> Async.sleep(Duration.ofMinutes(5))));
        }
        CountDownLatch callsStarted = new CountDownLatch(blockedThreads);
        Queue<Throwable> callerOutcomes = new ConcurrentLinkedQueue<>();
        List<Thread> callers = new ArrayList<>();
        for (int i = 0; i < blockedThreads; i++) {
            callers.add(StressTest.start("fault-blocked-" + i, () -> {
                try {
                    portal.call(() -> {
                        callsStarted.countDown();
                        return Async.sleep(Duration.ofMinutes(5));
                    });
                    callerOutcomes.add(new AssertionError("call returned normally"));
                } catch (Throwable t) {
                    callerOutcomes.add(t);
                }
            }));
        }
        assertThat(callsStarted.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        await().atMost(WAIT).until(() -> portal.tasks().size() == futures + blockedThreads);

        long started = System.nanoTime();
        portal.stop(true).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        StressTest.joinAll(callers, WAIT);
        long stoppedMillis = (System.nanoTime() - started) / 1_000_000;

        assertThat(pending).allSatisfy(f -> assertThat(f).isCancelled());
        assertThat(callerOutcomes).hasSize(blockedThreads)
                .allSatisfy(t -> assertThat(t).isInstanceOf(CancellationException.class));
        assertThat(portal.tasks()).isEmpty();
        assertThat(portal.statistics().cancelled()).isEqualTo(futures + blockedThreads);
        assertThat(uncaught).isEmpty();
        StressTest.report("stop(true) with " + futures + " waiting tasks and " + blockedThreads
                + " blocked callers released them all in " + stoppedMillis + " ms");
    }

    @Test
    void closeWaitsForThousandsOfRunningCallsAndEachGetsItsValue() throws Exception {
        int futures = 2000;
        List<CompletableFuture<Integer>> pending = new ArrayList<>();
        for (int i = 0; i < futures; i++) {
            int n = i;
            pending.add(portal.startTaskSoon(() -> Async.sleep(Duration.ofMillis(20))
                    .thenCompose(v -> ToThread.runSync(() -> n))));
        }

        portal.close();

        for (int i = 0; i < futures; i++) {
            assertThat(pending.get(i)).isCompletedWithValue(i);
        }
        assertThat(portal.eventLoop().isTerminated()).isTrue();
    }

    /** stop(false) lets the tasks it accepted run on; a task accepted before stop must not be rejected. */
    @Test
    void aGracefulStopRunsEveryTaskAcceptedBeforeIt() throws Exception {
        CountDownLatch loopHeld = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        portal.eventLoop().execute(() -> {
            loopHeld.countDown();
            try {
                release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(loopHeld.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        List<CompletableFuture<Integer>> accepted = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            int n = i;
            accepted.add(portal.startTaskSoon(() -> CompletableFuture.completedFuture(n)));
        }

        CompletableFuture<Void> stopped = portal.stop(false);
        release.countDown();
        stopped.get(WAIT.toSeconds(), TimeUnit.SECONDS);

        for (int i = 0; i < accepted.size(); i++) {
            CompletableFuture<Integer> f = accepted.get(i);
            assertThat(f.handle((v, e) -> e == null ? v : e).join()).as("task %d accepted before stop(false)", i)
                    .isEqualTo(i);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Abandoned workers

    @Test
    void fiveHundredAbandonedWorkersKeepTheirTokensThenAllExitWhenReleased() throws Exception {
        int abandoned = 500;
        CapacityLimiter limiter = new CapacityLimiter(1000);
        CountDownLatch latch = new CountDownLatch(1);
        CountDownLatch allRunning = new CountDownLatch(abandoned);
        AtomicInteger returned = new AtomicInteger();
        BlockingPortal p = BlockingPortal.start(EventLoop.builder().name("fault-abandon").daemon(true)
                .workerIdleTimeout(Duration.ofMillis(500)));
        EventLoop loop = p.eventLoop();
        try {
            CancelScope[] scope = new CancelScope[1];
            CompletableFuture<Void> group = p.startTaskSoon(() -> {
                scope[0] = CancelScope.create();
                return scope[0].run(() -> TaskGroup.open(tg -> {
                    for (int i = 0; i < abandoned; i++) {
                        tg.startSoon(() -> ToThread.runSync(() -> {
                            allRunning.countDown();
                            try {
                                latch.await(2, TimeUnit.MINUTES);
                            } finally {
                                returned.incrementAndGet();
                            }
                            return null;
                        }, RunSyncOptions.defaults().withCancelMode(CancelMode.ABANDON).withLimiter(limiter)));
                    }
                    return Async.sleep(Duration.ZERO);
                })).thenApply(v -> (Void) null);
            });
            assertThat(allRunning.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

            p.callSync(() -> {
                scope[0].cancel();
                return null;
            });
            group.get(WAIT.toSeconds(), TimeUnit.SECONDS);

            EventLoopStatistics whileAbandoned = loop.statistics();
            assertThat(whileAbandoned.workers().abandonedRunning()).isEqualTo(abandoned);
            assertThat(whileAbandoned.workers().busy()).isEqualTo(abandoned);
            assertThat(whileAbandoned.offloads().abandoned()).isEqualTo(abandoned);
            assertThat(limiter.borrowedTokens()).as("abandoned calls keep their tokens").isEqualTo(abandoned);
            assertThat(returned.get()).isZero();
            assertThat(p.<String>call(() -> ToThread.runSync(() -> "served meanwhile"))).isEqualTo("served meanwhile");
            int workerThreadsAtPeak = StressTest.liveThreadsNamed("fault-abandon-worker-").size();

            latch.countDown();

            await().atMost(WAIT).until(() -> returned.get() == abandoned && limiter.borrowedTokens() == 0
                    && loop.statistics().workers().abandonedRunning() == 0 && loop.statistics().workers().busy() == 0);
            assertThat(loop.statistics().offloads().succeeded()).isEqualTo(abandoned + 1);
            StressTest.report(abandoned + " abandoned calls held " + abandoned + " of 1000 tokens on "
                    + workerThreadsAtPeak + " worker threads; all returned their tokens once released");
        } finally {
            latch.countDown();
            p.close();
        }
        await().atMost(WAIT).until(() -> StressTest.liveThreadsNamed("fault-abandon").isEmpty());
    }
}
