package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;

import org.awaitility.core.ConditionFactory;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * {@link EventLoop#shutdownGracefully} and {@link BlockingPortal#stop(Duration)}: new work is
 * refused at once, work in flight (and its continuations) finishes within the grace period, what is
 * left is cancelled in the mode asked for, and no thread of the loop outlives the call except
 * workers stuck in a function that ignores interrupts, which the report names.
 */
class GracefulShutdownTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration LONG_GRACE = Duration.ofSeconds(10);
    private static final Duration SHORT_GRACE = Duration.ofMillis(30);
    private static final AtomicInteger LOOP_IDS = new AtomicInteger();

    // ---------------------------------------------------------------------------------------------
    // Work in flight finishes within the grace period

    @RepeatedTest(20)
    void portalCallsInFlightFromForeignThreadsGetTheirAnswersWithinTheGrace() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("inflight"));
        EventLoop loop = portal.eventLoop();
        int calls = 4;
        CountDownLatch running = new CountDownLatch(calls);
        CountDownLatch release = new CountDownLatch(1);
        List<CompletableFuture<Object>> answers = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            int n = i;
            answers.add(onNewThread(() -> portal.call(() -> ToThread.runSync(() -> {
                running.countDown();
                release.await();
                return "answer-" + n;
            }))));
        }
        assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();

        CompletableFuture<ShutdownReport> stop = onNewThread(() -> loop.shutdownGracefully(LONG_GRACE,
                CancelMode.INTERRUPT));
        awaitDraining(loop);
        assertThatThrownBy(() -> portal.call(() -> LoopStage.completedFuture("late")))
                .isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("event loop " + loop.name() + " is shutting down gracefully");
        release.countDown();

        for (int i = 0; i < calls; i++) {
            assertThat(answers.get(i).get(10, TimeUnit.SECONDS)).isEqualTo("answer-" + i);
        }
        ShutdownReport report = stop.get(10, TimeUnit.SECONDS);
        assertThat(report.loopName()).isEqualTo(loop.name());
        assertThat(report.finishedWithinGrace()).isTrue();
        // The four calls and the portal's own task, which ends once its calls have.
        assertThat(report.tasksFinished()).isEqualTo(calls + 1);
        assertThat(report.tasksCancelled()).isEmpty();
        assertThat(report.offloadsCancelled() + report.offloadsInterrupted() + report.offloadsAbandoned()
                + report.offloadsShielded()).isZero();
        assertThat(report.abandonedCalls()).isEmpty();
        assertThat(report.duration()).isLessThan(LONG_GRACE);
        assertThat(report.toString()).startsWith("ShutdownReport[" + loop.name() + " finished within the grace "
                + "period, stopped in ").contains(": 5 tasks finished]");
        assertThat(loop.isTerminated()).isTrue();
        assertNoThreadOf(loop);
    }

    @RepeatedTest(20)
    void callsQueuedForLimiterTokensAllRunWithinTheGrace() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("queued").defaultThreadLimit(2));
        EventLoop loop = portal.eventLoop();
        CountDownLatch gate = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        CompletableFuture<Object> offloads = portal.startTaskSoon("ten-offloads", tenOffloads(gate, ran));
        waitUpTo().until(() -> loop.defaultThreadLimiter().statistics().tasksWaiting() == 8);

        CompletableFuture<ShutdownReport> stop = onNewThread(() -> loop.shutdownGracefully(LONG_GRACE,
                CancelMode.INTERRUPT));
        awaitDraining(loop);
        gate.countDown();

        ShutdownReport report = stop.get(10, TimeUnit.SECONDS);
        assertThat(ran).hasValue(10);
        assertThat(offloads.get(10, TimeUnit.SECONDS)).isNull();
        assertThat(report.finishedWithinGrace()).isTrue();
        assertThat(report.offloadsCancelled()).isZero();
        assertThat(report.tasksCancelled()).isEmpty();
        // ten offload tasks, their task group's task, the portal's task
        assertThat(report.tasksFinished()).isEqualTo(12);
        assertNoThreadOf(loop);
    }

    @RepeatedTest(20)
    void callsQueuedForLimiterTokensAfterTheGraceNeverRunAndTheRunningOnesAreInterrupted() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("queued-late").defaultThreadLimit(2));
        EventLoop loop = portal.eventLoop();
        CountDownLatch gate = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        CompletableFuture<Object> offloads = portal.startTaskSoon("ten-offloads", tenOffloads(gate, ran));
        waitUpTo().until(() -> loop.defaultThreadLimiter().statistics().tasksWaiting() == 8
                && ran.get() == 2);

        ShutdownReport report = loop.shutdownGracefully(SHORT_GRACE, CancelMode.INTERRUPT);

        assertThat(ran).hasValue(2);
        assertThat(report.finishedWithinGrace()).isFalse();
        assertThat(report.offloadsCancelled()).isEqualTo(8);
        assertThat(report.offloadsInterrupted()).isEqualTo(2);
        assertThat(report.tasksCancelled()).extracting(TaskInfo::name).contains("ten-offloads");
        assertThat(report.abandonedCalls()).isEmpty();
        assertThat(report.duration()).isGreaterThanOrEqualTo(SHORT_GRACE);
        assertThat(offloads).isDone();
        assertThat(loop.defaultThreadLimiter().borrowedTokens()).isZero();
        assertNoThreadOf(loop);
    }

    @RepeatedTest(20)
    void continuationsOfWorkInFlightAreAcceptedWhileNewWorkIsRefused() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("continuations"));
        EventLoop loop = portal.eventLoop();
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch drainBegan = new CountDownLatch(1);
        // An offload that, once the stop has begun, calls back into the loop from its worker, then
        // sleeps on the loop (a timer), then starts a child task, then executes a callback there.
        CompletableFuture<String> call = onNewThread(() -> portal.call(() -> ToThread.runSync(() -> {
            started.countDown();
            drainBegan.await();
            return FromThread.runSync(() -> "from-worker");
        }).thenCompose(v -> Async.sleep(Duration.ofMillis(5)).thenApply(x -> v + "+timer"))
                .thenCompose(v -> TaskGroup.open(tg -> tg.startSoon("child", () -> LoopStage.completedFuture(v
                        + "+child"))))
                .thenCompose(v -> {
                    CompletableFuture<String> viaExecute = new CompletableFuture<>();
                    EventLoop.current().execute(() -> viaExecute.complete(v + "+execute"));
                    return Async.await(viaExecute);
                })));
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

        CompletableFuture<ShutdownReport> stop = onNewThread(() -> loop.shutdownGracefully(LONG_GRACE,
                CancelMode.INTERRUPT));
        awaitDraining(loop);
        assertThatThrownBy(() -> loop.execute(() -> { }))
                .isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("event loop " + loop.name() + " is shutting down gracefully")
                .hasMessageContaining("EventLoop.execute from thread " + Thread.currentThread().getName());
        drainBegan.countDown();

        assertThat(call.get(10, TimeUnit.SECONDS)).isEqualTo("from-worker+timer+child+execute");
        assertThat(stop.get(10, TimeUnit.SECONDS).finishedWithinGrace()).isTrue();
        assertNoThreadOf(loop);
    }

    @RepeatedTest(20)
    void portalsOpenedOnARunningLoopAndABoundProviderLetTheirCallsFinish() throws Exception {
        EventLoop loop = builder("app-loop").start();
        BlockingPortal openedOn = BlockingPortal.openOn(loop);
        BlockingPortal opened = openPortal(loop);
        BlockingPortalProvider provider = new BlockingPortalProvider(loop);
        CountDownLatch running = new CountDownLatch(3);
        CountDownLatch release = new CountDownLatch(1);
        AsyncCallable<Object> work = () -> ToThread.runSync(() -> {
            running.countDown();
            release.await();
            return "ok";
        });
        CompletableFuture<Object> a = onNewThread(() -> openedOn.call(work));
        CompletableFuture<Object> b = onNewThread(() -> opened.call(work));
        CompletableFuture<Object> c = onNewThread(() -> {
            try (BlockingPortalProvider.PortalLease lease = provider.lease()) {
                return lease.portal().call(work);
            }
        });
        assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();

        CompletableFuture<ShutdownReport> stop = onNewThread(() -> loop.shutdownGracefully(LONG_GRACE,
                CancelMode.INTERRUPT));
        awaitDraining(loop);
        for (BlockingPortal p : List.of(openedOn, opened)) {
            assertThatThrownBy(() -> p.call(() -> LoopStage.completedFuture(1)))
                    .isInstanceOf(RejectedExecutionException.class).hasMessageContaining(loop.name());
        }
        release.countDown();

        assertThat(a.get(10, TimeUnit.SECONDS)).isEqualTo("ok");
        assertThat(b.get(10, TimeUnit.SECONDS)).isEqualTo("ok");
        assertThat(c.get(10, TimeUnit.SECONDS)).isEqualTo("ok");
        ShutdownReport report = stop.get(10, TimeUnit.SECONDS);
        assertThat(report.finishedWithinGrace()).isTrue();
        assertThat(report.tasksCancelled()).isEmpty();
        assertThat(openedOn.isRunning()).isFalse();
        provider.close();
        assertNoThreadOf(loop);
    }

    @Test
    void everyPortalCallIsRefusedAtOnceNamingTheLoop() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("refused").blockedLoopThreshold(Duration.ZERO));
        EventLoop loop = portal.eventLoop();
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Object> inFlight = portal.startTaskSoon("in-flight", () -> ToThread.runSync(() -> {
            release.await();
            return "done";
        }));
        // Keep the loop thread busy, so it cannot take up the stop: the refusals below come from the
        // callers' side, at once.
        CountDownLatch loopBlocked = new CountDownLatch(1);
        CountDownLatch unblockLoop = new CountDownLatch(1);
        loop.execute(() -> {
            loopBlocked.countDown();
            try {
                unblockLoop.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(loopBlocked.await(10, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<ShutdownReport> stop = onNewThread(() -> loop.shutdownGracefully(LONG_GRACE,
                CancelMode.INTERRUPT));
        waitUpTo().until(loop::isShutdown);

        String message = "event loop " + loop.name() + " is shutting down gracefully: it accepts no new work (";
        assertThatThrownBy(() -> portal.call(() -> LoopStage.completedFuture(1)))
                .isInstanceOf(RejectedExecutionException.class).hasMessageContaining(message + "BlockingPortal.call ");
        assertThatThrownBy(() -> portal.callSync(() -> 1))
                .isInstanceOf(RejectedExecutionException.class).hasMessageContaining(message + "BlockingPortal.callSync ");
        assertThatThrownBy(() -> portal.startTaskSoon(() -> LoopStage.completedFuture(1)))
                .isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining(message + "BlockingPortal.startTaskSoon ");
        assertThatThrownBy(() -> portal.startTask(status -> LoopStage.completedFuture(1)))
                .isInstanceOf(RejectedExecutionException.class).hasMessageContaining(message + "BlockingPortal.startTask ");
        assertThatThrownBy(() -> portal.wrapAsyncResource(new CountingResource(new AtomicInteger())))
                .isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining(message + "BlockingPortal.wrapAsyncResource ");
        assertThatThrownBy(() -> loop.execute(() -> { }))
                .isInstanceOf(RejectedExecutionException.class).hasMessageContaining(message + "EventLoop.execute ");
        assertThat(loop.toString()).contains(", running,"); // the loop has not seen the stop yet
        assertThat(portal.statistics().rejected()).isEqualTo(5);
        unblockLoop.countDown();
        awaitDraining(loop);
        assertThat(stop).isNotDone();

        release.countDown();
        assertThat(inFlight.get(10, TimeUnit.SECONDS)).isEqualTo("done");
        assertThat(stop.get(10, TimeUnit.SECONDS).finishedWithinGrace()).isTrue();
        assertThatThrownBy(() -> loop.execute(() -> { }))
                .isInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("event loop " + loop.name() + " is stopped");
        assertNoThreadOf(loop);
    }

    // ---------------------------------------------------------------------------------------------
    // After the grace period: INTERRUPT, ABANDON, SHIELD

    @RepeatedTest(20)
    void jdbcLikeWaitsAreInterruptedAfterTheGraceAndTheirThreadsEnd() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("interrupt"));
        EventLoop loop = portal.eventLoop();
        Waits waits = new Waits();
        // Shielded calls (the default): the stop's mode, not the call's, decides after the grace.
        List<CompletableFuture<Object>> tasks = waits.start(portal, RunSyncOptions.defaults());
        waits.awaitBlocked();

        ShutdownReport report = loop.shutdownGracefully(SHORT_GRACE, CancelMode.INTERRUPT);

        assertThat(report.finishedWithinGrace()).isFalse();
        assertThat(report.tasksCancelled()).extracting(TaskInfo::name)
                .contains("take", "lock", "sleep");
        assertThat(report.offloadsInterrupted()).isEqualTo(3);
        assertThat(report.offloadsAbandoned()).isZero();
        assertThat(report.abandonedCalls()).isEmpty();
        assertThat(report.toString()).contains("cancelled work after the grace period").contains("3 interrupted");
        for (CompletableFuture<Object> task : tasks) {
            assertThat(task).isCancelled();
        }
        assertThat(waits.interrupted).hasValue(3);
        assertNoThreadOf(loop);
        waits.lock.unlock();
    }

    @RepeatedTest(20)
    void jdbcLikeWaitsAreAbandonedAfterTheGraceAndReportedByName() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("abandon"));
        EventLoop loop = portal.eventLoop();
        Waits waits = new Waits();
        List<CompletableFuture<Object>> tasks = waits.start(portal, RunSyncOptions.defaults());
        waits.awaitBlocked();

        ShutdownReport report = loop.shutdownGracefully(SHORT_GRACE, CancelMode.ABANDON);

        assertThat(report.finishedWithinGrace()).isFalse();
        assertThat(report.offloadsAbandoned()).isEqualTo(3);
        assertThat(report.offloadsInterrupted()).isZero();
        assertThat(report.abandonedCalls()).extracting(ShutdownReport.AbandonedCall::function)
                .containsExactlyInAnyOrder("take", "lock", "sleep");
        assertThat(report.abandonedCalls()).allSatisfy(call ->
                assertThat(call.threadName()).startsWith(loop.name() + "-worker-"));
        assertThat(threadsOf(loop)).containsExactlyInAnyOrderElementsOf(report.abandonedCalls().stream()
                .map(ShutdownReport.AbandonedCall::threadName).collect(Collectors.toList()));
        assertThat(report.toString()).contains("3 abandoned").contains("still running: ");
        for (CompletableFuture<Object> task : tasks) {
            assertThat(task).isCancelled();
        }
        assertThat(waits.interrupted).hasValue(0);

        waits.release();
        assertNoThreadOf(loop);
    }

    @RepeatedTest(20)
    void jdbcLikeWaitsAreWaitedForWhenShielded() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("shield"));
        EventLoop loop = portal.eventLoop();
        Waits waits = new Waits();
        // Calls that would be interrupted on their own: the stop's SHIELD waits for them instead.
        List<CompletableFuture<Object>> tasks = waits.start(portal,
                RunSyncOptions.defaults().withCancelMode(CancelMode.INTERRUPT));
        waits.awaitBlocked();

        CompletableFuture<ShutdownReport> stop = onNewThread(() -> loop.shutdownGracefully(SHORT_GRACE,
                CancelMode.SHIELD));
        waitUpTo().until(() -> loop.statistics().offloads().shielded() == 3);
        assertThat(stop).isNotDone();
        waits.release();

        ShutdownReport report = stop.get(10, TimeUnit.SECONDS);
        assertThat(report.finishedWithinGrace()).isFalse();
        assertThat(report.offloadsShielded()).isEqualTo(3);
        assertThat(report.offloadsInterrupted() + report.offloadsAbandoned()).isZero();
        assertThat(report.abandonedCalls()).isEmpty();
        assertThat(waits.interrupted).hasValue(0);
        assertThat(waits.returned).hasValue(3);
        // As a shielded call does: the function's value, and the cancellation at the next checkpoint
        // (these tasks have none left).
        assertThat(tasks.get(0).get(10, TimeUnit.SECONDS)).isEqualTo("row");
        assertThat(tasks.get(1).get(10, TimeUnit.SECONDS)).isEqualTo("locked");
        assertThat(tasks.get(2).get(10, TimeUnit.SECONDS)).isEqualTo("slept");
        assertNoThreadOf(loop);
    }

    @RepeatedTest(20)
    void aFunctionThatIgnoresInterruptsIsReportedByNameAndItsThreadIsTheOnlyOneLeft() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("stubborn").shutdownTimeout(Duration.ofMillis(100)));
        EventLoop loop = portal.eventLoop();
        Stubborn stubborn = new Stubborn();
        CountDownLatch otherRan = new CountDownLatch(1);
        CompletableFuture<Object> task = portal.startTaskSoon("stubborn-task", () -> ToThread.runSync(stubborn));
        portal.call(() -> ToThread.runSync(() -> {
            otherRan.countDown();
            return null;
        }));
        assertThat(stubborn.entered.await(10, TimeUnit.SECONDS)).isTrue();

        ShutdownReport report = loop.shutdownGracefully(SHORT_GRACE, CancelMode.INTERRUPT);

        assertThat(report.offloadsInterrupted()).isEqualTo(1);
        assertThat(report.abandonedCalls()).hasSize(1);
        ShutdownReport.AbandonedCall left = report.abandonedCalls().get(0);
        assertThat(left.function()).isEqualTo("legacy-export");
        assertThat(left.threadName()).startsWith(loop.name() + "-worker-");
        assertThat(left).hasToString(left.threadName() + " in legacy-export");
        assertThat(stubborn.interrupts.get()).isPositive();
        assertThat(threadsOf(loop)).containsExactly(left.threadName());
        assertThat(report.toString()).contains("still running: " + left.threadName() + " in legacy-export");
        assertThat(task).isCancelled();

        stubborn.release();
        assertNoThreadOf(loop);
    }

    // ---------------------------------------------------------------------------------------------
    // Repeats, concurrency with shutdown()/close(), loops run on the caller's thread

    @RepeatedTest(20)
    void concurrentCallsShareOneStopAndCloseDuringTheGraceEndsItAtOnce() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("concurrent"));
        EventLoop loop = portal.eventLoop();
        CompletableFuture<Void> endless = portal.startTaskSoon("endless", () -> new Event().await());
        CyclicBarrier go = new CyclicBarrier(3);
        CompletableFuture<ShutdownReport> first = onNewThread(() -> {
            Races.await(go);
            return loop.shutdownGracefully(Duration.ofSeconds(30), CancelMode.INTERRUPT);
        });
        CompletableFuture<ShutdownReport> second = onNewThread(() -> {
            Races.await(go);
            return loop.shutdownGracefully(Duration.ofSeconds(60), CancelMode.ABANDON);
        });
        Races.await(go);
        awaitDraining(loop);
        loop.close(); // cuts the grace short and waits

        assertThat(loop.isTerminated()).isTrue();
        ShutdownReport a = first.get(10, TimeUnit.SECONDS);
        ShutdownReport b = second.get(10, TimeUnit.SECONDS);
        assertThat(a).isSameAs(b);
        assertThat(a.duration()).isLessThan(Duration.ofSeconds(30));
        assertThat(a.finishedWithinGrace()).isFalse();
        assertThat(a.tasksCancelled()).extracting(TaskInfo::name).contains("endless");
        assertThat(endless).isCancelled();
        assertThat(loop.shutdownGracefully(Duration.ZERO, CancelMode.SHIELD)).isSameAs(a);
        loop.shutdown(); // still harmless
        assertNoThreadOf(loop);
    }

    @Test
    void afterAStopWithoutGraceItReturnsThatStopsReport() throws Exception {
        EventLoop loop = builder("plain").start();
        loop.close();
        ShutdownReport report = loop.shutdownGracefully(Duration.ofSeconds(1), CancelMode.INTERRUPT);
        assertThat(report.loopName()).isEqualTo(loop.name());
        assertThat(report.finishedWithinGrace()).isTrue();
        assertThat(report.tasksFinished()).isZero();
        assertThat(report.tasksCancelled()).isEmpty();
        assertNoThreadOf(loop);
    }

    @RepeatedTest(20)
    void aLoopRunOnTheCallersThreadStopsGracefullyAndRunReturnsMainsValue() throws Exception {
        String name = "gs-run-" + LOOP_IDS.incrementAndGet();
        AtomicReference<EventLoop> running = new AtomicReference<>();
        CountDownLatch inOffload = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Object> main = onNewThread(() -> EventLoop.builder().name(name).run(() -> {
            running.set(EventLoop.current());
            return ToThread.runSync(() -> {
                inOffload.countDown();
                release.await();
                return "main-done";
            });
        }));
        assertThat(inOffload.await(10, TimeUnit.SECONDS)).isTrue();
        EventLoop loop = running.get();
        CompletableFuture<ShutdownReport> stop = onNewThread(() -> loop.shutdownGracefully(LONG_GRACE,
                CancelMode.INTERRUPT));
        awaitDraining(loop);
        release.countDown();
        assertThat(main.get(10, TimeUnit.SECONDS)).isEqualTo("main-done");
        // main's end stops the loop at once, with nothing left to cancel
        ShutdownReport report = stop.get(10, TimeUnit.SECONDS);
        assertThat(report.tasksCancelled()).isEmpty();
        assertThat(report.abandonedCalls()).isEmpty();
        assertNoThreadOf(loop);
    }

    @Test
    void zeroGraceCancelsAtOnceInTheModeAskedFor() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("zero"));
        EventLoop loop = portal.eventLoop();
        Waits waits = new Waits();
        waits.start(portal, RunSyncOptions.defaults());
        waits.awaitBlocked();
        ShutdownReport report = loop.shutdownGracefully(Duration.ZERO, CancelMode.INTERRUPT);
        assertThat(report.finishedWithinGrace()).isFalse();
        assertThat(report.offloadsInterrupted()).isEqualTo(3);
        assertNoThreadOf(loop);
        waits.lock.unlock();
    }

    @RepeatedTest(20)
    void anOffloadAbandonedBeforeTheStopIsWaitedForThenInterrupted() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("abandoned-earlier"));
        EventLoop loop = portal.eventLoop();
        CountDownLatch entered = new CountDownLatch(1);
        AtomicBoolean interrupted = new AtomicBoolean();
        // The caller gives up once the function runs; it runs on with no task behind it.
        CancelScope callerScope = CancelScope.create();
        CompletableFuture<Object> call = onNewThread(() -> portal.call(() -> callerScope.run(() -> ToThread.runSync(
                () -> {
                    entered.countDown();
                    try {
                        new CountDownLatch(1).await();
                    } catch (InterruptedException e) {
                        interrupted.set(true);
                    }
                    return null;
                }, CancelMode.ABANDON))));
        assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
        callerScope.cancel();
        assertThat(call.get(10, TimeUnit.SECONDS)).isNull();
        assertThat(callerScope.cancelledCaught()).isTrue();

        ShutdownReport report = loop.shutdownGracefully(SHORT_GRACE, CancelMode.INTERRUPT);

        assertThat(report.finishedWithinGrace()).isFalse();
        assertThat(report.duration()).isGreaterThanOrEqualTo(SHORT_GRACE);
        assertThat(report.tasksCancelled()).isEmpty();
        assertThat(report.offloadsInterrupted()).isEqualTo(1);
        assertThat(interrupted).isTrue();
        assertNoThreadOf(loop);
    }

    // ---------------------------------------------------------------------------------------------
    // The portal's graceful stop

    @RepeatedTest(20)
    void portalStopLetsCallsFinishWithinTheGraceAndKeepsTheLoopRunning() throws Exception {
        EventLoop loop = builder("portal-stop").start();
        try {
            BlockingPortal portal = BlockingPortal.openOn(loop);
            CountDownLatch running = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<Object> call = onNewThread(() -> portal.call(() -> ToThread.runSync(() -> {
                running.countDown();
                release.await();
                return "answer";
            })));
            assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();

            CompletableFuture<List<TaskInfo>> stopped = portal.stop(LONG_GRACE);
            assertThat(portal.isRunning()).isFalse();
            assertThatThrownBy(() -> portal.call(() -> LoopStage.completedFuture(1)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("This portal is not running");
            assertThat(stopped).isNotDone();
            release.countDown();

            assertThat(call.get(10, TimeUnit.SECONDS)).isEqualTo("answer");
            assertThat(stopped.get(10, TimeUnit.SECONDS)).isEmpty();
            assertThat(loop.isShutdown()).isFalse();
            assertThat(BlockingPortal.openOn(loop).call(() -> LoopStage.completedFuture("still running")))
                    .isEqualTo("still running");
        } finally {
            loop.close();
        }
        assertNoThreadOf(loop);
    }

    @RepeatedTest(20)
    void portalStopCancelsWhatIsLeftAfterTheGraceAndReportsIt() throws Exception {
        EventLoop loop = builder("portal-cancel").start();
        try {
            BlockingPortal portal = BlockingPortal.openOn(loop);
            CompletableFuture<Void> endless = portal.startTaskSoon("endless", () -> new Event().await());
            long start = System.nanoTime();

            List<TaskInfo> cancelled = portal.stop(SHORT_GRACE).get(10, TimeUnit.SECONDS);

            assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(SHORT_GRACE);
            assertThat(cancelled).extracting(TaskInfo::name).containsExactly("endless");
            assertThat(endless).isCancelled();
            assertThat(portal.statistics().cancelled()).isEqualTo(1);
            assertThat(loop.isShutdown()).isFalse();
        } finally {
            loop.close();
        }
    }

    @Test
    void portalStopOfAPortalThatOwnsItsLoopStopsTheLoop() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("owned"));
        EventLoop loop = portal.eventLoop();
        CompletableFuture<Void> endless = portal.startTaskSoon("endless", () -> new Event().await());
        assertThat(portal.stop(SHORT_GRACE).get(10, TimeUnit.SECONDS)).extracting(TaskInfo::name)
                .containsExactly("endless");
        assertThat(endless).isCancelled();
        assertThat(loop.isTerminated()).isTrue();
        assertNoThreadOf(loop);
    }

    @Test
    void aWrappedResourceStaysOpenDuringThePortalsGraceForItsHolderToExit() throws Exception {
        EventLoop loop = builder("resource").start();
        try {
            BlockingPortal portal = openPortal(loop);
            AtomicInteger exits = new AtomicInteger();
            PortalResource<String> resource = portal.wrapAsyncResource(new CountingResource(exits));
            CompletableFuture<List<TaskInfo>> stopped = portal.stop(LONG_GRACE);
            assertThat(resource.get()).isEqualTo("session");
            assertThat(exits).hasValue(0);
            assertThat(stopped).isNotDone();
            resource.close();
            assertThat(stopped.get(10, TimeUnit.SECONDS)).isEmpty();
            assertThat(exits).hasValue(1);
        } finally {
            loop.close();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Bad input

    @Test
    void badInputGivesClearMessages() throws Exception {
        BlockingPortal portal = BlockingPortal.start(builder("bad"));
        EventLoop loop = portal.eventLoop();
        try {
            assertThatNullPointerException().isThrownBy(() -> loop.shutdownGracefully(null, CancelMode.INTERRUPT))
                    .withMessage("gracePeriod must not be null");
            assertThatNullPointerException().isThrownBy(() -> loop.shutdownGracefully(Duration.ZERO, null))
                    .withMessage("afterGrace must not be null");
            assertThatThrownBy(() -> loop.shutdownGracefully(Duration.ofSeconds(-1), CancelMode.INTERRUPT))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("gracePeriod must be >= 0 (was PT-1S)");
            assertThatThrownBy(() -> portal.stop((Duration) null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("gracePeriod must not be null");
            assertThatThrownBy(() -> portal.stop(Duration.ofMillis(-5))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("gracePeriod must be >= 0 (was PT-0.005S)");

            Throwable onLoop = portal.callSync(() -> catchIt(() -> loop.shutdownGracefully(Duration.ZERO,
                    CancelMode.INTERRUPT)));
            assertThat(onLoop).isInstanceOf(IllegalStateException.class)
                    .hasMessage("shutdownGracefully cannot be called on the loop's own thread (" + loop.name() + "): it "
                            + "waits for the loop's work, which needs this thread. From async code call shutdown() to "
                            + "stop at once, or call shutdownGracefully from a thread that is not the loop's");
            Throwable onWorker = portal.call(() -> ToThread.runSync(() -> catchIt(() -> loop.shutdownGracefully(
                    Duration.ZERO, CancelMode.INTERRUPT))));
            assertThat(onWorker).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("shutdownGracefully cannot be called on a worker thread of event loop "
                            + loop.name() + " (" + loop.name() + "-worker-");
            assertThat(loop.isShutdown()).isFalse(); // none of these started a stop
        } finally {
            portal.close();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers

    private static EventLoop.Builder builder(String tag) {
        return EventLoop.builder().name("gs-" + tag + "-" + LOOP_IDS.incrementAndGet()).daemon(true)
                .shutdownTimeout(Duration.ofSeconds(5));
    }

    /** Ten offloads in one task group, each waiting for {@code gate}. */
    private static AsyncCallable<Object> tenOffloads(CountDownLatch gate, AtomicInteger ran) {
        return () -> TaskGroup.open(tg -> {
            for (int i = 0; i < 10; i++) {
                tg.startSoon("offload-" + i, () -> ToThread.runSync(() -> {
                    ran.incrementAndGet();
                    gate.await();
                    return null;
                }));
            }
            return LoopStage.completedFuture(null);
        });
    }

    /** A portal opened on {@code loop} with {@link BlockingPortal#open}, from a thread that is not the loop's. */
    private static BlockingPortal openPortal(EventLoop loop) throws Exception {
        CompletableFuture<BlockingPortal> opened = new CompletableFuture<>();
        loop.execute(() -> BlockingPortal.open(p -> {
            opened.complete(p);
            return p.sleepUntilStopped();
        }));
        return opened.get(10, TimeUnit.SECONDS);
    }

    private static Throwable catchIt(Callable<?> call) {
        try {
            call.call();
            return new AssertionError("no exception");
        } catch (Throwable t) {
            return t;
        }
    }

    private static <T> CompletableFuture<T> onNewThread(Callable<T> body) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                result.complete(body.call());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        }, "gs-test-caller");
        t.setDaemon(true);
        t.start();
        return result;
    }

    /** The names of the live threads of {@code loop}: its own and its workers'. */
    private static List<String> threadsOf(EventLoop loop) {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.equals(loop.name()) || n.startsWith(loop.name() + "-"))
                .sorted().collect(Collectors.toList());
    }

    /** A bounded wait that polls often: the conditions here turn true within milliseconds. */
    private static ConditionFactory waitUpTo() {
        return await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(2));
    }

    /** Until the loop has taken up the graceful stop (it refuses new work from the call on). */
    private static void awaitDraining(EventLoop loop) {
        waitUpTo().until(() -> loop.toString().contains(", shutting down gracefully,"));
    }

    private static void assertNoThreadOf(EventLoop loop) {
        waitUpTo().untilAsserted(() -> assertThat(threadsOf(loop)).isEmpty());
    }

    /**
     * Three offloads blocked the way JDBC drivers block: on a queue, on a lock, in a sleep. Each is
     * a portal task named after its wait; each function is named the same way.
     */
    private static final class Waits {
        final BlockingQueue<String> queue = new ArrayBlockingQueue<>(1);
        final ReentrantLock lock = new ReentrantLock();
        final AtomicBoolean woken = new AtomicBoolean();
        final AtomicInteger interrupted = new AtomicInteger();
        final AtomicInteger returned = new AtomicInteger();
        private final List<Thread> waiting = new CopyOnWriteArrayList<>();

        Waits() {
            lock.lock(); // held by the test thread, as a row lock held by another transaction
        }

        List<CompletableFuture<Object>> start(BlockingPortal portal, RunSyncOptions options) {
            List<CompletableFuture<Object>> tasks = new ArrayList<>();
            tasks.add(task(portal, options, "take", () -> queue.take()));
            tasks.add(task(portal, options, "lock", () -> {
                lock.lockInterruptibly();
                lock.unlock();
                return "locked";
            }));
            tasks.add(task(portal, options, "sleep", () -> {
                while (!woken.get()) {
                    Thread.sleep(10); // a driver polling its socket
                }
                return "slept";
            }));
            return tasks;
        }

        private CompletableFuture<Object> task(BlockingPortal portal, RunSyncOptions options, String name,
                Callable<Object> wait) {
            return portal.startTaskSoon(name, () -> ToThread.runSync(() -> {
                waiting.add(Thread.currentThread());
                try {
                    Object v = wait.call();
                    returned.incrementAndGet();
                    return v;
                } catch (InterruptedException e) {
                    interrupted.incrementAndGet();
                    throw e;
                }
            }, options.withName(name)));
        }

        /** Until each of the three functions is inside its wait, not just about to enter it. */
        void awaitBlocked() {
            waitUpTo().until(() -> waiting.size() == 3 && waiting.stream().allMatch(t ->
                    t.getState() == Thread.State.WAITING || t.getState() == Thread.State.TIMED_WAITING));
        }

        void release() throws InterruptedException {
            queue.put("row");
            lock.unlock();
            woken.set(true);
        }
    }

    /** A resource whose enter gives "session" and whose exit counts. */
    private static final class CountingResource implements AsyncResource<String> {
        private final AtomicInteger exits;

        CountingResource(AtomicInteger exits) {
            this.exits = exits;
        }

        @Override
        public CompletionStage<String> enter() {
            return LoopStage.completedFuture("session");
        }

        @Override
        public CompletionStage<Boolean> exit(Throwable error) {
            exits.incrementAndGet();
            return LoopStage.completedFuture(false);
        }
    }

    /** A function that ignores interrupts until released; named by its toString, as a legacy SDK call. */
    private static final class Stubborn implements Callable<Object> {
        final CountDownLatch entered = new CountDownLatch(1);
        final AtomicInteger interrupts = new AtomicInteger();
        private final CountDownLatch released = new CountDownLatch(1);

        @Override
        public Object call() {
            entered.countDown();
            while (true) {
                try {
                    released.await();
                    return "released";
                } catch (InterruptedException e) {
                    interrupts.incrementAndGet(); // swallowed, as careless code does
                }
            }
        }

        void release() {
            released.countDown();
        }

        @Override
        public String toString() {
            return "legacy-export";
        }
    }
}
