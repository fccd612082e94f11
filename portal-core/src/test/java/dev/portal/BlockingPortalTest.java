package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * {@link BlockingPortal}, {@link PortalResource}, {@link AsyncResource}, {@link TaskStatus} and
 * {@link StartedTask}: AnyIO 4.8's {@code TestBlockingPortal}, plus the fixes AnyIO made later
 * (#1011, #1013, #575) and Portal's own guarantees (interruption, statistics, context).
 */
class BlockingPortalTest {

    private static final Duration LONG = Duration.ofSeconds(60);
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final TaskLocal<String> REQUEST_ID = TaskLocal.named("requestId");

    private final List<BlockingPortal> portals = Collections.synchronizedList(new ArrayList<>());

    /** Starts a portal that is stopped, cancelling its tasks, after the test even if it failed. */
    private BlockingPortal startPortal() {
        BlockingPortal portal = BlockingPortal.start();
        portals.add(portal);
        return portal;
    }

    @AfterEach
    void stopPortals() {
        for (BlockingPortal portal : portals) {
            portal.stop(true);
            portal.close();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers

    private static CompletionStage<Integer> asyncAdd(int a, int b) {
        return Async.checkpoint().thenApply(v -> a + b);
    }

    /** Async code that fails with {@code error} after a checkpoint. */
    private static <T> CompletionStage<T> failAfterCheckpoint(Throwable error) {
        return Async.checkpoint().thenCompose(v -> CompletableFuture.failedFuture(error));
    }

    /** The exception {@code future} completes with (raw, not wrapped), waiting at most 10 s. */
    private static @Nullable Throwable failureOf(CompletableFuture<?> future) throws Exception {
        return future.handle((v, e) -> e).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    /** Runs {@code body} on a new daemon thread; the future completes with its outcome. */
    private static <T> CompletableFuture<T> onNewThread(String name, Callable<T> body, List<Thread> threads) {
        CompletableFuture<T> outcome = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                outcome.complete(body.call());
            } catch (Throwable e) {
                outcome.completeExceptionally(e);
            }
        }, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
        return outcome;
    }

    private static void joinAll(List<Thread> threads) throws InterruptedException {
        for (Thread t : threads) {
            t.join(WAIT.toMillis());
            assertThat(t.isAlive()).as("thread %s still alive", t.getName()).isFalse();
        }
    }

    /**
     * Blocks the portal's loop thread (inside a portal task) until the returned latch is counted
     * down, or 10 s have passed, so that work submitted meanwhile cannot start.
     */
    private static CountDownLatch blockLoop(BlockingPortal portal) throws InterruptedException {
        CountDownLatch blocked = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        portal.startTaskSoon("loop-blocker", () -> {
            blocked.countDown();
            release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            return CompletableFuture.completedFuture(null);
        });
        assertThat(blocked.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        return release;
    }

    private static void busySpinNanos(long nanos) {
        long end = System.nanoTime() + nanos;
        while (System.nanoTime() - end < 0) {
            Thread.onSpinWait();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // call and callSync

    @Nested
    class Calls {

        @Test
        void callReturnsTheValueOfTheAsyncFunction() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                Integer sum = portal.call(() -> asyncAdd(1, 2));
                assertThat(sum).isEqualTo(3);
            }
        }

        @Test
        void callSyncReturnsTheValueOfThePlainFunction() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                Integer sum = portal.callSync(() -> 1 + 2);
                assertThat(sum).isEqualTo(3);
            }
        }

        @Test
        void callSyncRunsAnActionOnTheLoopThreadAndRethrowsItsException() throws Exception {
            IllegalStateException thrown = new IllegalStateException("thrown by the action");
            AtomicReference<Thread> ranOn = new AtomicReference<>();
            try (BlockingPortal portal = startPortal()) {
                portal.callSync(() -> ranOn.set(Thread.currentThread()));
                assertThat(ranOn.get()).isNotSameAs(Thread.currentThread());
                assertThat(ranOn.get().getName()).isEqualTo(portal.eventLoop().name());
                Runnable failing = () -> {
                    throw thrown;
                };
                assertThatThrownBy(() -> portal.callSync(failing)).isSameAs(thrown);
            }
        }

        @Test
        void callRethrowsTheSameExceptionObject() throws Exception {
            IOException thrown = new IOException("thrown by the function");
            IOException failed = new IOException("failed the stage");
            try (BlockingPortal portal = startPortal()) {
                assertThatThrownBy(() -> portal.call(() -> {
                    throw thrown;
                })).isSameAs(thrown);
                assertThatThrownBy(() -> portal.call(() -> failAfterCheckpoint(failed))).isSameAs(failed);
            }
        }

        @Test
        void callSyncRethrowsTheSameExceptionObject() throws Exception {
            IllegalArgumentException thrown = new IllegalArgumentException("unsupported operand");
            try (BlockingPortal portal = startPortal()) {
                assertThatThrownBy(() -> portal.callSync(() -> {
                    throw thrown;
                })).isSameAs(thrown);
            }
        }

        @Test
        void callRethrowsAnErrorAndThePortalStillClosesCleanly() throws Exception {
            Error fatal = new Error("fatal error");
            BlockingPortal portal = startPortal();
            assertThatThrownBy(() -> portal.call(() -> {
                throw fatal;
            })).isSameAs(fatal);
            assertThatThrownBy(() -> portal.call(() -> failAfterCheckpoint(fatal))).isSameAs(fatal);
            portal.close();
            assertThat(portal.eventLoop().isTerminated()).isTrue();
        }

        @Test
        void callRunsTheFunctionOnTheLoopThreadNotTheCaller() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                Thread viaCall = portal.call(() -> Async.checkpoint().thenApply(v -> Thread.currentThread()));
                Thread viaCallSync = portal.callSync(Thread::currentThread);
                assertThat(viaCall).isNotSameAs(Thread.currentThread()).isSameAs(viaCallSync);
                assertThat(portal.<Boolean>callSync(() -> portal.eventLoop().inEventLoop())).isTrue();
            }
        }

        @Test
        void callsFromTheEventLoopThreadFailAndSayWhatToDoInstead() throws Exception {
            AsyncResource<String> resource = new RecordingResource();
            try (BlockingPortal portal = startPortal()) {
                List<Throwable> errors = portal.callSync(() -> Arrays.asList(
                        catchThrowable(() -> portal.call(Async::checkpoint)),
                        catchThrowable(() -> portal.callSync(() -> 1)),
                        catchThrowable(() -> portal.startTaskSoon(Async::checkpoint)),
                        catchThrowable(() -> portal.startTask(status -> {
                            status.started();
                            return Async.checkpoint();
                        })),
                        catchThrowable(() -> portal.wrapAsyncResource(resource)),
                        catchThrowable(() -> portal.withAsyncResource(resource, value -> value))));
                assertThat(errors).hasSize(6).allSatisfy(e -> assertThat(e)
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("cannot be called from the event loop thread")
                        .hasMessageContaining("call the function directly"));
                Throwable close = portal.callSync(() -> catchThrowable(portal::close));
                assertThat(close).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("cannot be called from the event loop thread")
                        .hasMessageContaining("stop(false)");
                // the portal is unharmed
                Integer sum = portal.call(() -> asyncAdd(1, 2));
                assertThat(sum).isEqualTo(3);
            }
        }

        @Test
        void callFromTheLoopThreadOfAnOpenedPortalFails() throws Exception {
            Throwable error = EventLoop.run(() -> BlockingPortal.open(portal ->
                    CompletableFuture.completedFuture(catchThrowable(() -> portal.call(() -> asyncAdd(1, 2))))));
            assertThat(error).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("cannot be called from the event loop thread");
        }

        @Test
        void interruptingAThreadBlockedInCallCancelsTheTaskAndThrowsInterruptedException() throws Exception {
            List<Thread> threads = new ArrayList<>();
            CountDownLatch sleeping = new CountDownLatch(1);
            CompletableFuture<Throwable> seenByTask = new CompletableFuture<>();
            AtomicReference<Boolean> flagAfterwards = new AtomicReference<>();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Object> caller = onNewThread("caller", () -> {
                    try {
                        return portal.call(() -> {
                            CompletionStage<Void> sleep = Async.sleep(LONG);
                            sleeping.countDown();
                            return sleep.whenComplete((v, e) -> seenByTask.complete(e));
                        });
                    } finally {
                        flagAfterwards.set(Thread.currentThread().isInterrupted());
                    }
                }, threads);
                assertThat(sleeping.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                threads.get(0).interrupt();

                assertThat(failureOf(caller)).isInstanceOf(InterruptedException.class);
                assertThat(flagAfterwards.get()).as("interrupt flag after InterruptedException").isFalse();
                assertThat(seenByTask.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
                assertThat(portal.statistics().cancelled()).isEqualTo(1);
            }
            joinAll(threads);
        }

        @Test
        void aCallSyncInterruptedBeforeItsTaskStartsNeverRunsTheFunction() throws Exception {
            List<Thread> threads = new ArrayList<>();
            AtomicBoolean ran = new AtomicBoolean();
            AtomicReference<Boolean> flagAfterwards = new AtomicReference<>();
            try (BlockingPortal portal = startPortal()) {
                CountDownLatch release = blockLoop(portal);
                CompletableFuture<Object> caller = onNewThread("caller", () -> {
                    try {
                        return portal.callSync(() -> {
                            ran.set(true);
                            return "ran";
                        });
                    } finally {
                        flagAfterwards.set(Thread.currentThread().isInterrupted());
                    }
                }, threads);
                Thread callerThread = threads.get(0);
                await().atMost(WAIT).until(() -> callerThread.getState() == Thread.State.WAITING);
                callerThread.interrupt();
                assertThat(failureOf(caller)).isInstanceOf(InterruptedException.class);
                assertThat(flagAfterwards.get()).isFalse();

                release.countDown();
                await().atMost(WAIT).until(() -> portal.statistics().cancelled() == 1
                        && portal.statistics().tasks() == 0);
                assertThat(ran).as("the function of a callSync cancelled before it started").isFalse();
            }
            joinAll(threads);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Owning a portal: open() inside a running loop, start() on its own thread

    @Nested
    class Lifecycle {

        @Test
        void aFailingOwnerBodyCancelsTheTasksOfExternalCallers() throws Exception {
            IllegalStateException boom = new IllegalStateException("the owner's body failed");
            List<Thread> threads = new ArrayList<>();
            List<CompletableFuture<Object>> callers = new ArrayList<>();
            AtomicInteger running = new AtomicInteger();
            Throwable thrown = catchThrowable(() -> EventLoop.run(() -> BlockingPortal.open(portal -> {
                Event bothRunning = new Event();
                for (int i = 0; i < 2; i++) {
                    callers.add(onNewThread("external-" + i, () -> portal.call(() -> {
                        if (running.incrementAndGet() == 2) {
                            bothRunning.set();
                        }
                        return Async.sleep(LONG);
                    }), threads));
                }
                return bothRunning.await().thenApply(v -> {
                    throw boom;
                });
            })));
            assertThat(thrown).isSameAs(boom);
            for (CompletableFuture<Object> caller : callers) {
                assertThat(failureOf(caller)).isInstanceOf(CancellationException.class);
            }
            joinAll(threads);
        }

        @Test
        void aNormalOwnerExitWaitsForTheTasksOfExternalCallers() throws Exception {
            List<Thread> threads = new ArrayList<>();
            List<CompletableFuture<Object>> callers = new ArrayList<>();
            AtomicInteger running = new AtomicInteger();
            AtomicInteger finished = new AtomicInteger();
            String result = EventLoop.run(() -> BlockingPortal.open(portal -> {
                Event bothRunning = new Event();
                for (int i = 0; i < 2; i++) {
                    callers.add(onNewThread("external-" + i, () -> portal.call(() -> {
                        if (running.incrementAndGet() == 2) {
                            bothRunning.set();
                        }
                        return Async.sleep(Duration.ofMillis(200)).thenApply(v -> {
                            finished.incrementAndGet();
                            return "slept";
                        });
                    }), threads));
                }
                return bothRunning.await().thenApply(v -> "body done");
            }));
            assertThat(result).isEqualTo("body done");
            assertThat(finished).as("tasks finished when the owner returned").hasValue(2);
            for (CompletableFuture<Object> caller : callers) {
                assertThat(caller.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("slept");
            }
            joinAll(threads);
        }

        @Test
        void openOffTheLoopFailsAndSaysWhereToCallIt() {
            assertThatThrownBy(() -> BlockingPortal.open(portal -> portal.sleepUntilStopped()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("BlockingPortal.open must be called from async code on an event loop thread");
        }

        @Test
        void startRunsTheLoopOnANamedDaemonThreadThatCloseJoins() throws Exception {
            Thread loopThread;
            try (BlockingPortal portal = startPortal()) {
                loopThread = portal.callSync(Thread::currentThread);
                assertThat(loopThread).isNotSameAs(Thread.currentThread());
                assertThat(loopThread.getName()).startsWith("portal-loop-").isEqualTo(portal.eventLoop().name());
                assertThat(loopThread.isDaemon()).isTrue();
                assertThat(loopThread.isAlive()).isTrue();
            }
            assertThat(loopThread.isAlive()).as("loop thread alive right after close()").isFalse();
        }

        @Test
        void closeJoinsTheLoopThreadEveryTime() throws Exception {
            for (int i = 0; i < 30; i++) {
                BlockingPortal portal = startPortal();
                Thread loopThread = portal.callSync(Thread::currentThread);
                portal.close();
                assertThat(loopThread.isAlive()).as("loop thread alive right after close(), iteration %d", i).isFalse();
            }
        }

        @Test
        void startUsesTheGivenLoopSettings() throws Exception {
            try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("orders-loop").daemon(true))) {
                String name = portal.callSync(() -> Thread.currentThread().getName());
                assertThat(name).isEqualTo("orders-loop");
                String worker = portal.call(() -> ToThread.runSync(() -> Thread.currentThread().getName()));
                assertThat(worker).startsWith("orders-loop-worker-");
            }
        }

        @Test
        void startCanBeUsedFromInsideARunningLoop() throws Exception {
            String value = EventLoop.run(() -> {
                try (BlockingPortal inner = BlockingPortal.start()) {
                    return CompletableFuture.completedFuture(inner.call(() -> Async.checkpoint().thenApply(v -> "inner")));
                }
            });
            assertThat(value).isEqualTo("inner");
        }

        @Test
        void everyCallOnAClosedPortalFailsWithNotRunning() throws Exception {
            BlockingPortal portal = startPortal();
            portal.close();
            assertThat(portal.isRunning()).isFalse();
            AsyncResource<String> resource = new RecordingResource();
            List<Throwable> errors = Arrays.asList(
                    catchThrowable(() -> portal.call(Async::checkpoint)),
                    catchThrowable(() -> portal.callSync(() -> 1)),
                    catchThrowable(() -> portal.startTaskSoon(Async::checkpoint)),
                    catchThrowable(() -> portal.startTask(status -> {
                        status.started();
                        return Async.checkpoint();
                    })),
                    catchThrowable(() -> portal.wrapAsyncResource(resource)),
                    catchThrowable(() -> portal.withAsyncResource(resource, value -> value)));
            assertThat(errors).hasSize(6).allSatisfy(e -> assertThat(e)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("This portal is not running"));
            assertThat(portal.statistics().rejected()).isEqualTo(6);
        }

        @Test
        void callOnAnOpenedPortalAfterItsOwnerReturnedFailsWithNotRunning() throws Exception {
            AtomicReference<BlockingPortal> escaped = new AtomicReference<>();
            EventLoop.run(() -> BlockingPortal.open(portal -> {
                escaped.set(portal);
                return Async.checkpoint();
            }));
            assertThatThrownBy(() -> escaped.get().call(Async::checkpoint))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("This portal is not running");
        }

        @Test
        void stopRejectsNewCallsAtOnceWhileRunningTasksFinish() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                CountDownLatch started = new CountDownLatch(1);
                CompletableFuture<String> slow = portal.startTaskSoon(() -> {
                    started.countDown();
                    return Async.sleep(Duration.ofSeconds(1)).thenApply(v -> "finished");
                });
                assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

                CompletableFuture<Void> stopped = portal.stop(false);
                assertThat(portal.isRunning()).isFalse();
                assertThat(portal.statistics().running()).isFalse();
                assertThatThrownBy(() -> portal.call(Async::checkpoint))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("This portal is not running");
                assertThat(stopped).isNotDone();

                assertThat(slow.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("finished");
                stopped.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                // stop is idempotent
                portal.stop(false).get(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
        }

        @Test
        void stopWithCancelRemainingCancelsRunningTasksAndBlockedCallersGetCancellationException()
                throws Exception {
            List<Thread> threads = new ArrayList<>();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Void> sleeper = portal.startTaskSoon(() -> Async.sleep(LONG));
                List<CompletableFuture<Object>> callers = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    callers.add(onNewThread("external-" + i, () -> portal.call(() -> Async.sleep(LONG)), threads));
                }
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 3);

                portal.stop(true).get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(sleeper).isCancelled();
                for (CompletableFuture<Object> caller : callers) {
                    assertThat(failureOf(caller)).isInstanceOf(CancellationException.class);
                }
                assertThat(portal.statistics().cancelled()).isEqualTo(3);
            }
            joinAll(threads);
        }

        @Test
        void closeWaitsForRunningTasks() throws Exception {
            AtomicBoolean finished = new AtomicBoolean();
            BlockingPortal portal = startPortal();
            CompletableFuture<String> slow = portal.startTaskSoon(() -> Async.sleep(Duration.ofMillis(300)).thenApply(v -> {
                finished.set(true);
                return "done";
            }));
            portal.close();
            assertThat(finished).isTrue();
            assertThat(slow).isCompletedWithValue("done");
        }

        @Test
        void closeRunsAndWaitsForEveryTaskSubmittedBeforeIt() throws Exception {
            for (int i = 0; i < 20; i++) {
                BlockingPortal portal = startPortal();
                CompletableFuture<Integer> first = portal.startTaskSoon(() -> Async.checkpoint().thenApply(v -> 1));
                CompletableFuture<Integer> second = portal.startTaskSoon(() ->
                        Async.sleep(Duration.ofMillis(20)).thenApply(v -> 2));
                portal.close();
                assertThat(first).as("iteration %d", i).isCompletedWithValue(1);
                assertThat(second).as("iteration %d", i).isCompletedWithValue(2);
            }
        }

        @Test
        void sleepUntilStoppedCompletesAfterStop() throws Exception {
            List<Thread> threads = new ArrayList<>();
            List<CompletableFuture<Integer>> externals = new ArrayList<>();
            String result = EventLoop.run(() -> BlockingPortal.open(portal -> {
                externals.add(onNewThread("external", () -> {
                    Integer sum = portal.call(() -> asyncAdd(1, 2));
                    portal.stop(false);
                    return sum;
                }, threads));
                return portal.sleepUntilStopped().thenApply(v -> "stopped");
            }));
            assertThat(result).isEqualTo("stopped");
            assertThat(externals.get(0).get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(3);
            joinAll(threads);
        }

        @Test
        void aCallWaitingInSleepUntilStoppedReturnsOnceThePortalStops() throws Exception {
            List<Thread> threads = new ArrayList<>();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Object> waiter = onNewThread("waiter", () -> portal.call(portal::sleepUntilStopped),
                        threads);
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 1);
                assertThat(waiter).isNotDone();
                portal.stop(false);
                assertThat(waiter.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isNull();
            }
            joinAll(threads);
        }

        @Test
        void sleepUntilStoppedOffTheLoopFails() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                assertThatThrownBy(portal::sleepUntilStopped)
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("must be called on the thread of event loop");
            }
        }

        @Test
        void closeIsIdempotent() {
            BlockingPortal portal = startPortal();
            portal.close();
            portal.close();
            assertThat(portal.isRunning()).isFalse();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // startTaskSoon and its futures

    @Nested
    class StartTaskSoon {

        @Test
        void startTaskSoonRunsTheTaskAndEventsAreReachedThroughCallSync() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                Event event1 = portal.callSync(Event::new);
                Event event2 = portal.callSync(Event::new);
                CompletableFuture<String> future = portal.startTaskSoon(() -> event1.await().thenApply(v -> {
                    event2.set();
                    return "test";
                }));
                portal.callSync(event1::set);
                portal.call(event2::await);
                assertThat(future.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("test");
            }
        }

        @Test
        void theFuturesDependentsRunOnTheLoopOutsideTheEndedTask() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                Event go = portal.callSync(Event::new);
                CompletableFuture<String> future = portal.startTaskSoon("ending", go::await).thenApply(v -> "done");
                CompletableFuture<String> seen = future.thenApply(v -> {
                    try {
                        return "in task " + Async.currentTask().name();
                    } catch (IllegalStateException outsideAnyTask) {
                        return "outside any task, on the loop: " + portal.eventLoop().inEventLoop();
                    }
                });
                portal.callSync(go::set);
                assertThat(seen.get(WAIT.toSeconds(), TimeUnit.SECONDS))
                        .isEqualTo("outside any task, on the loop: true");
            }
        }

        @Test
        void aTaskThatReturnsACompletedStageEndsAtOnceWithItsValue() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                for (int i = 0; i < 1_000; i++) {
                    int n = i;
                    assertThat(portal.startTaskSoon(() -> CompletableFuture.completedFuture(n)).get(WAIT.toSeconds(),
                            TimeUnit.SECONDS)).isEqualTo(n);
                }
                assertThat(portal.statistics().tasks()).isZero();
                assertThat(portal.tasks()).isEmpty();
            }
        }

        @Test
        void cancellingTheFutureLaterCancelsTheRunningTask() throws Exception {
            CountDownLatch sleeping = new CountDownLatch(1);
            CompletableFuture<Throwable> seenByTask = new CompletableFuture<>();
            CompletableFuture<Void> future;
            long closedInNanos;
            BlockingPortal portal = startPortal();
            try {
                future = portal.startTaskSoon(() -> {
                    CompletionStage<Void> sleep = Async.sleep(LONG);
                    sleeping.countDown();
                    return sleep.whenComplete((v, e) -> seenByTask.complete(e));
                });
                assertThat(sleeping.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(future.cancel(true)).isTrue();
            } finally {
                long t0 = System.nanoTime();
                portal.close();
                closedInNanos = System.nanoTime() - t0;
            }
            assertThat(future).isCancelled();
            assertThat(seenByTask).isCompletedWithValueMatching(e -> e instanceof CancelledException);
            assertThat(Duration.ofNanos(closedInNanos)).isLessThan(WAIT);
            assertThat(portal.statistics().cancelled()).isEqualTo(1);
        }

        @Test
        void aTaskCancelledBeforeItStartsStillRunsAndSeesTheCancellationAtItsFirstCheckpoint() throws Exception {
            AtomicBoolean started = new AtomicBoolean();
            CompletableFuture<Throwable> seenByTask = new CompletableFuture<>();
            try (BlockingPortal portal = startPortal()) {
                CountDownLatch release = blockLoop(portal);
                CompletableFuture<Void> future = portal.startTaskSoon(() -> {
                    started.set(true);
                    return Async.checkpoint().whenComplete((v, e) -> seenByTask.complete(e));
                });
                assertThat(future.cancel(true)).isTrue();
                assertThat(started).as("started while the loop was blocked").isFalse();
                release.countDown();

                assertThat(seenByTask.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
                assertThat(started).isTrue();
                assertThat(future).isCancelled();
            }
        }

        @Test
        void cancellingTheFutureRightAfterStartTaskSoonCancelsTheTask() throws Exception {
            CompletableFuture<Throwable> seenByTask = new CompletableFuture<>();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Void> future = portal.startTaskSoon(() ->
                        Async.sleep(LONG).whenComplete((v, e) -> seenByTask.complete(e)));
                future.cancel(true);
                assertThat(seenByTask.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
                assertThat(future).isCancelled();
            }
        }

        @Test
        void theNameGivenToStartTaskSoonIsTheTasksName() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<String> future = portal.startTaskSoon("testname",
                        () -> Async.checkpoint().thenApply(v -> Async.currentTask().name()));
                assertThat(future.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("testname");
            }
        }

        @Test
        void cancellingAFutureAfterStopStillCancelsTheTask() throws Exception {
            CompletableFuture<Throwable> seenByTask = new CompletableFuture<>();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Void> future = portal.startTaskSoon(() ->
                        Async.sleep(LONG).whenComplete((v, e) -> seenByTask.complete(e)));
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 1);
                CompletableFuture<Void> stopped = portal.stop(false);
                assertThat(portal.isRunning()).isFalse();

                assertThat(future.cancel(true)).isTrue();
                assertThat(seenByTask.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
                stopped.get(WAIT.toSeconds(), TimeUnit.SECONDS);
                assertThat(portal.statistics().tasks()).isZero();
            }
        }

        @Test
        void aCancelRacingTheTaskStartNeverLeavesTheTaskRunning() throws Exception {
            int iterations = 400;
            Random random = new Random(1011);
            AtomicInteger cancelledInTask = new AtomicInteger();
            List<CompletableFuture<Void>> futures = new ArrayList<>();
            BlockingQueue<CompletableFuture<Void>> toCancel = new ArrayBlockingQueue<>(iterations);
            Thread canceller = new Thread(() -> {
                try {
                    for (int i = 0; i < iterations / 2; i++) {
                        toCancel.take().cancel(true);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "canceller");
            canceller.setDaemon(true);
            canceller.start();
            try (BlockingPortal portal = startPortal()) {
                for (int i = 0; i < iterations; i++) {
                    CompletableFuture<Void> future = portal.startTaskSoon(() -> Async.sleep(LONG).whenComplete((v, e) -> {
                        if (e instanceof CancelledException) {
                            cancelledInTask.incrementAndGet();
                        }
                    }));
                    futures.add(future);
                    if (i % 2 == 0) {
                        toCancel.add(future);
                    } else {
                        busySpinNanos(random.nextInt(4) * 5_000L);
                        future.cancel(true);
                    }
                }
                await().atMost(Duration.ofSeconds(20))
                        .untilAsserted(() -> assertThat(portal.statistics().tasks()).isZero());
                assertThat(futures).allMatch(CompletableFuture::isCancelled);
                assertThat(cancelledInTask).hasValue(iterations);
                assertThat(portal.statistics().cancelled()).isEqualTo(iterations);
            }
            canceller.join(WAIT.toMillis());
        }

        @Test
        void aCancelMadeDuringTheTasksFirstStepCancelsTheTaskWhenTheStepReturns() throws Exception {
            for (int i = 0; i < 20; i++) {
                AtomicReference<CompletableFuture<Void>> self = new AtomicReference<>();
                CompletableFuture<Throwable> seenByTask = new CompletableFuture<>();
                try (BlockingPortal portal = startPortal()) {
                    CountDownLatch release = blockLoop(portal);
                    CompletableFuture<Void> future = portal.startTaskSoon(() -> {
                        // On the loop thread, inside the task's first step.
                        assertThat(self.get().cancel(true)).isTrue();
                        return Async.sleep(LONG).whenComplete((v, e) -> seenByTask.complete(e));
                    });
                    self.set(future);
                    release.countDown();
                    assertThat(seenByTask.get(WAIT.toSeconds(), TimeUnit.SECONDS))
                            .as("what the task's sleep ended with").isInstanceOf(CancelledException.class);
                    await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
                    assertThat(future).isCancelled();
                    assertThat(portal.statistics().cancelled()).isEqualTo(1);
                }
            }
        }

        @Test
        void aTimedGetOnAPortalFutureTimesOutAndLeavesTheTaskRunning() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Void> future = portal.startTaskSoon(() -> Async.sleep(LONG));
                long t0 = System.nanoTime();
                assertThatThrownBy(() -> future.get(50, TimeUnit.MILLISECONDS)).isInstanceOf(TimeoutException.class);
                assertThat(Duration.ofNanos(System.nanoTime() - t0))
                        .isGreaterThanOrEqualTo(Duration.ofMillis(50)).isLessThan(WAIT);
                assertThatThrownBy(() -> future.get(0, TimeUnit.NANOSECONDS)).isInstanceOf(TimeoutException.class);
                for (int i = 0; i < 500; i++) {
                    assertThatThrownBy(() -> future.get(100, TimeUnit.MICROSECONDS))
                            .isInstanceOf(TimeoutException.class);
                }
                assertThat(future.getNumberOfDependents()).as("waiters left behind by timed-out gets").isZero();
                assertThat(future).isNotDone();
                assertThat(portal.statistics().tasks()).isEqualTo(1);
                future.cancel(true);
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
            }
        }

        @Test
        void aJoinOnAPortalFutureKeepsWaitingThroughAnInterruptAndKeepsTheFlag() throws Exception {
            List<Thread> threads = new ArrayList<>();
            AtomicBoolean flagAfterwards = new AtomicBoolean();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<String> release = new CompletableFuture<>();
                CompletableFuture<String> future = portal.startTaskSoon(() -> Async.await(release));
                CompletableFuture<String> joined = onNewThread("joiner", () -> {
                    try {
                        return future.join();
                    } finally {
                        flagAfterwards.set(Thread.currentThread().isInterrupted());
                    }
                }, threads);
                Thread joiner = threads.get(0);
                await().atMost(WAIT).until(() -> joiner.getState() == Thread.State.WAITING);
                joiner.interrupt();
                await().during(Duration.ofMillis(100)).atMost(WAIT).until(() -> !joined.isDone());
                release.complete("done");
                assertThat(joined.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("done");
                assertThat(flagAfterwards).as("the interrupt is kept for the caller").isTrue();
            }
            joinAll(threads);
        }

        @Test
        void aCancelFromAnotherThreadWakesAThreadBlockedOnTheFuture() throws Exception {
            List<Thread> threads = new ArrayList<>();
            try (BlockingPortal portal = startPortal()) {
                for (int i = 0; i < 50; i++) {
                    CompletableFuture<Void> future = portal.startTaskSoon(() -> Async.sleep(LONG));
                    CompletableFuture<Object> get = onNewThread("get-" + i, future::get, threads);
                    Thread getter = threads.get(threads.size() - 1);
                    await().atMost(WAIT).until(() -> getter.getState() == Thread.State.WAITING);
                    future.cancel(true);
                    assertThat(failureOf(get)).isInstanceOf(CancellationException.class);
                }
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
            }
            joinAll(threads);
        }

        @Test
        void aThreadWaitingForManyFuturesInTurnSeesEveryResult() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                for (int round = 0; round < 20; round++) {
                    int n = 5_000;
                    List<CompletableFuture<Integer>> futures = new ArrayList<>(n);
                    for (int i = 0; i < n; i++) {
                        int x = i;
                        futures.add(portal.startTaskSoon(() -> CompletableFuture.completedFuture(x)));
                    }
                    for (int i = 0; i < n; i++) {
                        assertThat(futures.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(i);
                    }
                }
            }
        }

        @Test
        void everyCallerAnsweredInOneLoopTurnReturnsWhileSomeOfThemGiveUp() throws Exception {
            // One event releases all the callers' tasks in one turn: the loop wakes the first
            // caller and the callers wake one another. Interrupted callers leave the tree early,
            // and the callers below them must still wake.
            Random random = new Random(7);
            try (BlockingPortal portal = startPortal()) {
                for (int round = 0; round < 15; round++) {
                    List<Thread> threads = new ArrayList<>();
                    Event release = new Event();
                    int n = 8 + random.nextInt(57);
                    List<CompletableFuture<Integer>> outcomes = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        int x = i;
                        outcomes.add(onNewThread("caller-" + i,
                                () -> portal.call(() -> release.await().thenApply(v -> x)), threads));
                    }
                    await().atMost(WAIT).until(() -> portal.statistics().tasks() == n
                            && threads.stream().allMatch(t -> t.getState() == Thread.State.WAITING));
                    List<Integer> interrupted = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        if (random.nextInt(4) == 0) {
                            interrupted.add(i);
                            threads.get(i).interrupt();
                        }
                    }
                    portal.callSync(() -> {
                        release.set();
                        return null;
                    });
                    for (int i = 0; i < n; i++) {
                        if (interrupted.contains(i)) {
                            // The interrupt and the release race: either outcome is right.
                            Throwable failure = failureOf(outcomes.get(i));
                            if (failure != null) {
                                assertThat(failure).isInstanceOf(InterruptedException.class);
                            }
                        } else {
                            assertThat(outcomes.get(i).get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo(i);
                        }
                    }
                    joinAll(threads);
                }
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
            }
        }

        @Test
        void manyCallersHammeringOneLoopAllGetTheirOwnResults() throws Exception {
            int callers = 64;
            int calls = 2_000;
            try (BlockingPortal portal = startPortal()) {
                for (int round = 0; round < 3; round++) {
                    List<Thread> threads = new ArrayList<>();
                    List<CompletableFuture<Long>> sums = new ArrayList<>();
                    for (int c = 0; c < callers; c++) {
                        int base = c * calls;
                        sums.add(onNewThread("caller-" + c, () -> {
                            long sum = 0;
                            for (int i = 0; i < calls; i++) {
                                int x = base + i;
                                sum += portal.call(() -> CompletableFuture.completedFuture(x));
                            }
                            return sum;
                        }, threads));
                    }
                    for (int c = 0; c < callers; c++) {
                        long base = (long) c * calls;
                        long expected = base * calls + (long) calls * (calls - 1) / 2;
                        assertThat(sums.get(c).get(WAIT.toSeconds() * 3, TimeUnit.SECONDS)).isEqualTo(expected);
                    }
                    joinAll(threads);
                }
            }
        }

        @Test
        void aFutureCancelledByStopWakesEveryWaiter() throws Exception {
            List<Thread> threads = new ArrayList<>();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Void> future = portal.startTaskSoon(() -> Async.sleep(LONG));
                CompletableFuture<Object> anyOf = CompletableFuture.anyOf(future);
                CompletableFuture<Void> allOf = CompletableFuture.allOf(future);
                CompletableFuture<Object> timedGet = onNewThread("timed-get",
                        () -> future.get(30, TimeUnit.SECONDS), threads);
                CompletableFuture<Object> get = onNewThread("get", future::get, threads);
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 1
                        && threads.get(0).getState() == Thread.State.TIMED_WAITING
                        && threads.get(1).getState() == Thread.State.WAITING);

                long t0 = System.nanoTime();
                portal.stop(true);
                assertThat(failureOf(timedGet)).isInstanceOf(CancellationException.class);
                assertThat(failureOf(get)).isInstanceOf(CancellationException.class);
                await().atMost(Duration.ofSeconds(5)).until(() -> anyOf.isDone() && allOf.isDone());
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
                assertThat(anyOf).isCompletedExceptionally();
                assertThat(allOf).isCompletedExceptionally();
                assertThat(future).isCancelled();
            }
            joinAll(threads);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // startTask, TaskStatus, StartedTask

    @Nested
    class StartTask {

        @Test
        void startTaskReturnsTheValueGivenToStarted() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                StartedTask<String, String> task = portal.startTask(status -> {
                    status.started("foo");
                    return Async.checkpoint().thenApply(v -> "result");
                });
                assertThat(task.startValue()).isEqualTo("foo");
                assertThat(task.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("result");
            }
        }

        @Test
        void startTaskWithoutAValueGivesNull() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                StartedTask<Object, Void> task = portal.startTask(status -> {
                    status.started();
                    return Async.checkpoint();
                });
                assertThat(task.startValue()).isNull();
                assertThat(task.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).isNull();
            }
        }

        @Test
        void startTaskReturnsAsSoonAsTheTaskIsReady() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                StartedTask<String, String> task = portal.startTask(status -> Async.checkpoint().thenCompose(v -> {
                    status.started("ready");
                    return Async.sleep(Duration.ofSeconds(1)).thenApply(w -> "done");
                }));
                assertThat(task.startValue()).isEqualTo("ready");
                assertThat(task.future()).isNotDone();
                assertThat(task.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("done");
            }
        }

        @Test
        void aCrashBeforeStartedIsThrownByStartTask() throws Exception {
            Exception thrown = new Exception("foo");
            Exception failed = new Exception("bar");
            try (BlockingPortal portal = startPortal()) {
                assertThatThrownBy(() -> portal.startTask(status -> {
                    throw thrown;
                })).isSameAs(thrown);
                assertThatThrownBy(() -> portal.<Object, Object>startTask(status -> failAfterCheckpoint(failed)))
                        .isSameAs(failed);
            }
        }

        @Test
        void aCrashAfterStartedFailsTheFuture() throws Exception {
            Exception failed = new Exception("foo");
            try (BlockingPortal portal = startPortal()) {
                StartedTask<Integer, Object> task = portal.startTask(status -> {
                    status.started(2);
                    return failAfterCheckpoint(failed);
                });
                assertThat(task.startValue()).isEqualTo(2);
                assertThat(failureOf(task.future())).isSameAs(failed);
            }
        }

        @Test
        void aTaskThatReturnsWithoutCallingStartedFailsStartTask() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                assertThatThrownBy(() -> portal.startTask(status -> Async.checkpoint()))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("returned without calling TaskStatus.started()");
            }
        }

        @Test
        void callingStartedTwiceFailsInTheTask() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                StartedTask<String, Throwable> task = portal.startTask(status -> {
                    status.started("first");
                    return CompletableFuture.completedFuture(catchThrowable(() -> status.started("second")));
                });
                assertThat(task.startValue()).isEqualTo("first");
                assertThat(task.future().get(WAIT.toSeconds(), TimeUnit.SECONDS))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("already called");
            }
        }

        @Test
        void theNameGivenToStartTaskIsTheTasksName() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                StartedTask<String, Void> task = portal.startTask("testname", status -> {
                    status.started(Async.currentTask().name());
                    return Async.checkpoint();
                });
                assertThat(task.startValue()).isEqualTo("testname");
            }
        }

        @Test
        void startTaskThrowsCancellationExceptionWhenTheTaskIsCancelledBeforeItIsReady() throws Exception {
            List<Thread> threads = new ArrayList<>();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Object> starter = onNewThread("starter", () -> portal.startTask(status ->
                        Async.sleep(LONG).thenApply(v -> {
                            status.started();
                            return "never";
                        })), threads);
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 1);
                portal.stop(true);
                assertThat(failureOf(starter)).isInstanceOf(CancellationException.class);
            }
            joinAll(threads);
        }

        @Test
        void interruptingAThreadBlockedInStartTaskCancelsTheTask() throws Exception {
            List<Thread> threads = new ArrayList<>();
            CompletableFuture<Throwable> seenByTask = new CompletableFuture<>();
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Object> starter = onNewThread("starter", () -> portal.startTask(status ->
                        Async.sleep(LONG).whenComplete((v, e) -> seenByTask.complete(e))), threads);
                await().atMost(WAIT).until(() -> portal.statistics().tasks() == 1);
                threads.get(0).interrupt();
                assertThat(failureOf(starter)).isInstanceOf(InterruptedException.class);
                assertThat(seenByTask.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
            }
            joinAll(threads);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Async resources

    /** Records what the portal does with it; enter gives "test". */
    static final class RecordingResource implements AsyncResource<String> {
        final List<String> log = Collections.synchronizedList(new ArrayList<>());
        final AtomicLong enterTask = new AtomicLong(-1);
        final AtomicLong exitTask = new AtomicLong(-1);
        final AtomicBoolean exitCalled = new AtomicBoolean();
        final AtomicReference<@Nullable Throwable> exitError = new AtomicReference<>();
        @Nullable Exception enterFailure;
        @Nullable Exception exitFailure;
        boolean suppress;

        @Override
        public CompletionStage<String> enter() {
            log.add("enter");
            enterTask.set(Async.currentTask().id());
            if (enterFailure != null) {
                return failAfterCheckpoint(enterFailure);
            }
            return Async.checkpoint().thenApply(v -> "test");
        }

        @Override
        public CompletionStage<Boolean> exit(@Nullable Throwable error) {
            log.add("exit");
            exitCalled.set(true);
            exitError.set(error);
            exitTask.set(Async.currentTask().id());
            if (exitFailure != null) {
                return failAfterCheckpoint(exitFailure);
            }
            return Async.checkpoint().thenApply(v -> suppress);
        }
    }

    @Nested
    class AsyncResources {

        @Test
        void wrapAsyncResourceGivesTheValueFromEnterAndCloseExitsWithNoError() throws Exception {
            RecordingResource resource = new RecordingResource();
            try (BlockingPortal portal = startPortal()) {
                try (PortalResource<String> handle = portal.wrapAsyncResource(resource)) {
                    assertThat(handle.get()).isEqualTo("test");
                    assertThat(resource.exitCalled).isFalse();
                }
                assertThat(resource.log).containsExactly("enter", "exit");
                assertThat(resource.exitError.get()).isNull();
                assertThat(portal.statistics().resourcesWrapped()).isEqualTo(1);
            }
        }

        @Test
        void exitSeesTheBodysErrorAndLetsItPropagate() throws Exception {
            Exception bodyError = new Exception("should NOT be ignored");
            RecordingResource resource = new RecordingResource();
            try (BlockingPortal portal = startPortal()) {
                assertThatThrownBy(() -> portal.withAsyncResource(resource, value -> {
                    throw bodyError;
                })).isSameAs(bodyError);
                assertThat(resource.exitError.get()).isSameAs(bodyError);
            }
        }

        @Test
        void exitWithTheBodysErrorReportsWhetherItWasSuppressed() throws Exception {
            Exception bodyError = new Exception("body failed");
            RecordingResource propagating = new RecordingResource();
            RecordingResource suppressing = new RecordingResource();
            suppressing.suppress = true;
            try (BlockingPortal portal = startPortal()) {
                PortalResource<String> first = portal.wrapAsyncResource(propagating);
                assertThat(first.exit(bodyError)).isFalse();
                assertThat(propagating.exitError.get()).isSameAs(bodyError);

                PortalResource<String> second = portal.wrapAsyncResource(suppressing);
                assertThat(second.exit(bodyError)).isTrue();
                assertThat(suppressing.exitError.get()).isSameAs(bodyError);
            }
        }

        @Test
        void exitMaySuppressTheBodysError() throws Exception {
            RecordingResource resource = new RecordingResource();
            resource.suppress = true;
            try (BlockingPortal portal = startPortal()) {
                String result = portal.withAsyncResource(resource, value -> {
                    throw new Exception("should be ignored");
                });
                assertThat(result).isNull();
                assertThat(resource.exitError.get()).hasMessage("should be ignored");
            }
        }

        @Test
        void withAsyncResourceReturnsTheBodysResult() throws Exception {
            RecordingResource resource = new RecordingResource();
            try (BlockingPortal portal = startPortal()) {
                Integer length = portal.withAsyncResource(resource, String::length);
                assertThat(length).isEqualTo(4);
                assertThat(resource.log).containsExactly("enter", "exit");
                assertThat(resource.exitError.get()).isNull();
            }
        }

        @Test
        void exitsOwnExceptionPropagatesWithTheBodysErrorSuppressed() throws Exception {
            Exception bodyError = new Exception("body failed");
            Exception exitFailure = new IOException("exit failed");
            RecordingResource resource = new RecordingResource();
            resource.exitFailure = exitFailure;
            try (BlockingPortal portal = startPortal()) {
                Throwable thrown = catchThrowable(() -> portal.withAsyncResource(resource, value -> {
                    throw bodyError;
                }));
                assertThat(thrown).isSameAs(exitFailure);
                assertThat(thrown.getSuppressed()).containsExactly(bodyError);
                assertThat(resource.exitError.get()).isSameAs(bodyError);
            }
        }

        @Test
        void exitsOwnExceptionPropagatesFromClose() throws Exception {
            Exception exitFailure = new IOException("exit failed");
            RecordingResource resource = new RecordingResource();
            resource.exitFailure = exitFailure;
            try (BlockingPortal portal = startPortal()) {
                PortalResource<String> handle = portal.wrapAsyncResource(resource);
                Throwable thrown = catchThrowable(handle::close);
                assertThat(thrown).isSameAs(exitFailure);
                assertThat(thrown.getSuppressed()).isEmpty();
            }
        }

        @Test
        void anEnterFailureIsRethrownAndExitIsNotCalled() throws Exception {
            Exception enterFailure = new IOException("cannot connect");
            RecordingResource resource = new RecordingResource();
            resource.enterFailure = enterFailure;
            try (BlockingPortal portal = startPortal()) {
                assertThatThrownBy(() -> portal.wrapAsyncResource(resource)).isSameAs(enterFailure);
                assertThatThrownBy(() -> portal.withAsyncResource(resource, value -> value)).isSameAs(enterFailure);
                assertThat(resource.exitCalled).isFalse();
                assertThat(resource.log).containsExactly("enter", "enter");
            }
        }

        @Test
        void anEnterThatThrowsIsRethrownAndExitIsNotCalled() throws Exception {
            IllegalStateException enterFailure = new IllegalStateException("thrown by enter");
            AtomicBoolean exitCalled = new AtomicBoolean();
            AsyncResource<String> resource = new AsyncResource<>() {
                @Override
                public CompletionStage<String> enter() {
                    throw enterFailure;
                }

                @Override
                public CompletionStage<Boolean> exit(@Nullable Throwable error) {
                    exitCalled.set(true);
                    return CompletableFuture.completedFuture(false);
                }
            };
            try (BlockingPortal portal = startPortal()) {
                assertThatThrownBy(() -> portal.wrapAsyncResource(resource)).isSameAs(enterFailure);
                assertThat(exitCalled).isFalse();
            }
        }

        @Test
        void enterAndExitRunInTheSameTask() throws Exception {
            RecordingResource resource = new RecordingResource();
            try (BlockingPortal portal = startPortal()) {
                portal.withAsyncResource(resource, value -> value);
                long otherTask = portal.callSync(() -> Async.currentTask().id());
                assertThat(resource.enterTask.get()).isPositive().isEqualTo(resource.exitTask.get())
                        .isNotEqualTo(otherTask);
            }
        }

        @Test
        void aResourceMayHoldATaskGroupBetweenEnterAndExit() throws Exception {
            TaskGroupResource resource = new TaskGroupResource(null);
            try (BlockingPortal portal = startPortal()) {
                try (PortalResource<TaskGroupResource> handle = portal.wrapAsyncResource(resource)) {
                    await().atMost(WAIT).until(() -> resource.childRuns.get() >= 3);
                }
                assertThat(resource.groupOutcome.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("group done");
            }
        }

        @Test
        void aFailureInTheResourcesTaskGroupComesOutOfExit() throws Exception {
            ArithmeticException childFailure = new ArithmeticException("/ by zero");
            TaskGroupResource resource = new TaskGroupResource(childFailure);
            try (BlockingPortal portal = startPortal()) {
                PortalResource<TaskGroupResource> handle = portal.wrapAsyncResource(resource);
                await().atMost(WAIT).until(() -> resource.groupOutcome.isDone());
                assertThatThrownBy(handle::close).isSameAs(childFailure);
                // the portal is unharmed
                Integer sum = portal.call(() -> asyncAdd(1, 2));
                assertThat(sum).isEqualTo(3);
            }
        }

        @Test
        void closingThePortalWhileAResourceIsOpenExitsItAndDoesNotHang() throws Exception {
            List<Thread> threads = new ArrayList<>();
            RecordingResource resource = new RecordingResource();
            BlockingPortal portal = startPortal();
            PortalResource<String> handle = portal.wrapAsyncResource(resource);
            CompletableFuture<Object> closing = onNewThread("closer", () -> {
                portal.close();
                return "closed";
            }, threads);
            assertThat(closing.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("closed");
            assertThat(resource.exitCalled).isTrue();
            assertThat(resource.exitError.get()).isNull();
            // a later close does nothing
            handle.close();
            assertThat(resource.log).containsExactly("enter", "exit");
            joinAll(threads);
        }

        @Test
        void anOpenedPortalWhoseOwnerReturnsExitsResourcesThatAreStillOpen() throws Exception {
            List<Thread> threads = new ArrayList<>();
            RecordingResource resource = new RecordingResource();
            List<CompletableFuture<PortalResource<String>>> handles = new ArrayList<>();
            EventLoop.run(() -> BlockingPortal.open(portal -> {
                handles.add(onNewThread("external", () -> {
                    PortalResource<String> handle = portal.wrapAsyncResource(resource);
                    portal.stop(false);
                    return handle;
                }, threads));
                return portal.sleepUntilStopped();
            }));
            assertThat(resource.exitCalled).isTrue();
            handles.get(0).get(WAIT.toSeconds(), TimeUnit.SECONDS).close();
            assertThat(resource.log).containsExactly("enter", "exit");
            joinAll(threads);
        }

        @Test
        void exitingAResourceFromTheLoopThreadFails() throws Exception {
            RecordingResource resource = new RecordingResource();
            try (BlockingPortal portal = startPortal()) {
                PortalResource<String> handle = portal.wrapAsyncResource(resource);
                Throwable error = portal.callSync(() -> catchThrowable(handle::close));
                assertThat(error).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("cannot be called from the event loop thread");
                assertThat(resource.exitCalled).isFalse();
                handle.close();
                assertThat(resource.exitCalled).isTrue();
            }
        }
    }

    /**
     * A resource that opens a task group in enter, runs a child task in it while it is open, and
     * closes the group in exit.
     */
    static final class TaskGroupResource implements AsyncResource<TaskGroupResource> {
        final AtomicInteger childRuns = new AtomicInteger();
        final CompletableFuture<Object> groupOutcome = new CompletableFuture<>();
        private final @Nullable RuntimeException childFailure;
        private @Nullable Event exitSignal;
        private @Nullable CompletionStage<String> group;

        TaskGroupResource(@Nullable RuntimeException childFailure) {
            this.childFailure = childFailure;
        }

        @Override
        public CompletionStage<TaskGroupResource> enter() {
            Event signal = new Event();
            exitSignal = signal;
            group = TaskGroup.open(tg -> {
                tg.startSoon("child", this::child);
                return signal.await().thenApply(v -> "group done");
            });
            group.whenComplete((v, e) -> {
                if (e == null) {
                    groupOutcome.complete(v);
                } else {
                    groupOutcome.completeExceptionally(e);
                }
            });
            return Async.checkpoint().thenApply(v -> this);
        }

        private CompletionStage<Void> child() {
            childRuns.incrementAndGet();
            if (childFailure != null) {
                return Async.checkpoint().thenApply(v -> {
                    throw childFailure;
                });
            }
            if (exitSignal.isSet()) {
                return Async.checkpoint();
            }
            return Async.sleep(Duration.ofMillis(5)).thenCompose(v -> child());
        }

        @Override
        public CompletionStage<Boolean> exit(@Nullable Throwable error) {
            exitSignal.set();
            return group.thenApply(v -> false);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Context

    @Nested
    class Context {

        @Test
        void taskLocalsOfTheCallingThreadAreCopiedIntoTheTaskAndNeverBack() throws Exception {
            List<Thread> threads = new ArrayList<>();
            REQUEST_ID.set("r-6");
            try (BlockingPortal portal = startPortal()) {
                assertThat(portal.<String>callSync(REQUEST_ID::get)).isEqualTo("r-6");
                assertThat(portal.<String>call(() -> Async.checkpoint().thenApply(v -> REQUEST_ID.get()))).isEqualTo("r-6");
                assertThat(portal.startTaskSoon(() -> Async.checkpoint().thenApply(v -> REQUEST_ID.get()))
                        .get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("r-6");

                String inTask = portal.call(() -> {
                    REQUEST_ID.set("changed in the task");
                    return Async.checkpoint().thenApply(v -> REQUEST_ID.get());
                });
                assertThat(inTask).isEqualTo("changed in the task");
                assertThat(REQUEST_ID.get()).isEqualTo("r-6");

                REQUEST_ID.set("r-7");
                assertThat(portal.<String>callSync(REQUEST_ID::get)).as("copied at each call").isEqualTo("r-7");

                CompletableFuture<String> otherCaller = onNewThread("other-caller",
                        () -> portal.callSync(REQUEST_ID::get), threads);
                assertThat(otherCaller.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isNull();
            } finally {
                REQUEST_ID.remove();
            }
            joinAll(threads);
        }

        @Test
        void theMdcOfTheCallingThreadIsCopiedIntoTheTaskAndNeverBack() throws Exception {
            List<Thread> threads = new ArrayList<>();
            MDC.put("requestId", "r-42");
            try (BlockingPortal portal = startPortal()) {
                assertThat(portal.<String>callSync(() -> MDC.get("requestId"))).isEqualTo("r-42");
                assertThat(portal.<String>call(() -> Async.checkpoint().thenApply(v -> MDC.get("requestId"))))
                        .isEqualTo("r-42");

                String inTask = portal.callSync(() -> {
                    MDC.put("requestId", "changed in the task");
                    MDC.put("leak", "from the task");
                    return MDC.get("requestId");
                });
                assertThat(inTask).isEqualTo("changed in the task");
                assertThat(MDC.get("requestId")).isEqualTo("r-42");
                assertThat(MDC.get("leak")).isNull();

                CompletableFuture<String> otherCaller = onNewThread("other-caller",
                        () -> portal.callSync(() -> MDC.get("requestId") + "/" + MDC.get("leak")), threads);
                assertThat(otherCaller.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("null/null");
            } finally {
                MDC.clear();
            }
            joinAll(threads);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Observability

    @Nested
    class Observability {

        @Test
        void statisticsCountCallsAndTheirOutcomes() throws Exception {
            BlockingPortal portal = startPortal();
            try {
                portal.call(() -> asyncAdd(1, 2));
                catchThrowable(() -> portal.callSync(() -> {
                    throw new IOException("failed");
                }));
                CompletableFuture<Void> cancelled = portal.startTaskSoon(() -> Async.sleep(LONG));
                cancelled.cancel(true);
                portal.startTask(status -> {
                    status.started();
                    return Async.checkpoint();
                }).future().get(WAIT.toSeconds(), TimeUnit.SECONDS);
                portal.withAsyncResource(new RecordingResource(), value -> value);

                await().atMost(WAIT).untilAsserted(() -> assertThat(portal.statistics())
                        .isEqualTo(new PortalStatistics(true, 0, 2, 2, 1, 3, 1, 1, 0)));
            } finally {
                portal.close();
            }
            catchThrowable(() -> portal.call(Async::checkpoint));
            assertThat(portal.statistics()).isEqualTo(new PortalStatistics(false, 0, 2, 2, 1, 3, 1, 1, 1));
        }

        @Test
        void tasksListsTheRunningTasksWithTheirNames() throws Exception {
            try (BlockingPortal portal = startPortal()) {
                CompletableFuture<Void> alpha = portal.startTaskSoon("alpha", () -> Async.sleep(LONG));
                await().atMost(WAIT).until(() -> portal.tasks().size() == 1);
                CompletableFuture<Void> beta = portal.startTaskSoon("beta", () -> Async.sleep(LONG));
                await().atMost(WAIT).until(() -> portal.tasks().size() == 2);

                List<TaskInfo> tasks = portal.tasks();
                assertThat(tasks).extracting(TaskInfo::name).containsExactly("alpha", "beta");
                assertThat(tasks).allSatisfy(t -> assertThat(t.age().isNegative()).isFalse());
                assertThat(portal.statistics().tasks()).isEqualTo(2);
                assertThat(portal.toString()).contains("running").contains("2 tasks");
                assertThat(portal.eventLoop().tasks()).extracting(TaskInfo::name).contains("alpha", "beta");

                alpha.cancel(true);
                beta.cancel(true);
                await().atMost(WAIT).until(() -> portal.tasks().isEmpty());
            }
        }

        @Test
        void tasksListsTasksOldestFirstEvenWhenTheyStartedMomentsApart() throws Exception {
            int count = 200;
            try (BlockingPortal portal = startPortal()) {
                List<CompletableFuture<Void>> futures = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    futures.add(portal.startTaskSoon(String.format("t-%03d", i), () -> Async.sleep(LONG)));
                }
                await().atMost(WAIT).until(() -> portal.tasks().size() == count);
                List<String> expected = IntStream.range(0, count).mapToObj(i -> String.format("t-%03d", i))
                        .collect(Collectors.toList());
                try {
                    for (int round = 0; round < 20; round++) {
                        assertThat(portal.tasks()).extracting(TaskInfo::name).containsExactlyElementsOf(expected);
                    }
                } finally {
                    futures.forEach(f -> f.cancel(true));
                }
            }
        }
    }
}
