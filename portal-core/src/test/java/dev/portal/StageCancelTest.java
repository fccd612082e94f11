package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Cancelling a returned stage: {@code cancel()} on a stage Portal hands out cancels what it stands
 * for, by the call's {@link CancelMode}, or refuses loudly. A {@code runSync} call cancelled before
 * it starts never runs and leaks no token; a running one is interrupted ({@code INTERRUPT}),
 * abandoned ({@code ABANDON}) or left to finish with {@code cancel} returning false ({@code SHIELD},
 * AnyIO's {@code abandon_on_cancel=False}). Every wait is bounded; the races run many iterations.
 */
class StageCancelTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final int BUSY = 40;

    private final Queue<OffloadEvent> offloads = new ConcurrentLinkedQueue<>();
    private final Queue<Throwable> uncaught = new ConcurrentLinkedQueue<>();
    private BlockingPortal portal;
    private EventLoop loop;

    @BeforeEach
    void startPortal() {
        portal = BlockingPortal.start(EventLoop.builder().name("stage-cancel-loop").daemon(true)
                .listener(new EventLoopListener() {
                    @Override
                    public void onOffload(OffloadEvent event) {
                        offloads.add(event);
                    }

                    @Override
                    public void onUncaughtException(EventLoop l, Throwable error) {
                        uncaught.add(error);
                    }
                }));
        loop = portal.eventLoop();
    }

    @AfterEach
    void closePortal() throws Exception {
        ForeignStageTest.bounded(Duration.ofSeconds(30), () -> {
            portal.close();
            return null;
        });
        assertThat(uncaught).isEmpty();
    }

    private CapacityLimiter limiter() {
        return loop.defaultThreadLimiter();
    }

    private List<OffloadOutcome> outcomesNamed(String prefix) {
        List<OffloadOutcome> out = new ArrayList<>();
        for (OffloadEvent e : offloads) {
            if (e.name() != null && e.name().startsWith(prefix)) {
                out.add(e.outcome());
            }
        }
        return out;
    }

    /** Starts {@code n} calls that hold a token each until {@code gate} opens; returns once all run. */
    private List<CompletableFuture<Object>> occupyWorkers(int n, CountDownLatch gate) throws Exception {
        CountDownLatch running = new CountDownLatch(n);
        List<CompletableFuture<Object>> busy = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            busy.add(portal.startTaskSoon(() -> ToThread.runSync(() -> {
                running.countDown();
                return gate.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            }, RunSyncOptions.defaults().withName("busy"))));
        }
        assertThat(running.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("busy workers running").isTrue();
        return busy;
    }

    /** Makes a call on the loop and keeps its stage, for the test to cancel on the loop later. */
    private <T> CompletableFuture<T> offload(java.util.concurrent.Callable<T> fn, RunSyncOptions options)
            throws Exception {
        return portal.callSync(() -> ToThread.runSync(fn, options).toCompletableFuture());
    }

    private boolean cancelOnLoop(CompletableFuture<?> stage) throws Exception {
        return portal.callSync(() -> stage.cancel(true));
    }

    // ---------------------------------------------------------------------------------------------
    // runSync: cancelled before it starts

    /**
     * The case: with every worker busy, a call cancelled through its stage while it waits
     * for a token never runs, in any mode, and leaves the limiter as the busy calls hold it.
     */
    @Test
    void aCallCancelledWhileWaitingForATokenNeverRunsInAnyMode() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        List<CompletableFuture<Object>> busy = occupyWorkers(BUSY, gate);
        AtomicInteger ran = new AtomicInteger();
        int iterations = 200;
        CancelMode[] modes = CancelMode.values();

        for (int i = 0; i < iterations; i++) {
            CancelMode mode = modes[i % modes.length];
            RunSyncOptions options = RunSyncOptions.defaults().withCancelMode(mode).withName("queued-" + i);
            // Cancelled in the loop callback that made it, and one made earlier and cancelled later.
            boolean[] seen = portal.callSync(() -> {
                CompletableFuture<Integer> f = ToThread.runSync(ran::incrementAndGet, options)
                        .toCompletableFuture();
                boolean cancelled = f.cancel(true);
                return new boolean[] {cancelled, f.isCancelled(), limiter().tasksWaiting() == 0};
            });
            assertThat(seen).as("cancel returned true, stage cancelled, nobody waiting (iteration " + i + ")")
                    .containsExactly(true, true, true);
            CompletableFuture<Integer> later = offload(ran::incrementAndGet, options.withName("later-" + i));
            assertThat(limiter().tasksWaiting()).isEqualTo(1);
            assertThat(cancelOnLoop(later)).isTrue();
            assertThat(later).isCancelled();
            assertThat(limiter().tasksWaiting()).isZero();
            assertThat(limiter().borrowedTokens()).isEqualTo(BUSY);
        }

        gate.countDown();
        for (CompletableFuture<Object> f : busy) {
            f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
        // Had a cancelled call run, it would have run by now, on a freed worker.
        assertThat(portal.<Object>call(() -> ToThread.runSync(() -> "after"))).isEqualTo("after");
        assertThat(ran.get()).isZero();
        assertThat(limiter().borrowedTokens()).isZero();
        assertThat(outcomesNamed("queued-")).hasSize(iterations).containsOnly(OffloadOutcome.CANCELLED_BEFORE_START);
        assertThat(outcomesNamed("later-")).hasSize(iterations).containsOnly(OffloadOutcome.CANCELLED_BEFORE_START);
        assertThat(loop.statistics().offloads().cancelledBeforeStart()).isEqualTo(2L * iterations);
    }

    // ---------------------------------------------------------------------------------------------
    // runSync: cancelled while it runs

    /** The case: cancel(true) on an INTERRUPT call interrupts its worker. */
    @Test
    void cancellingARunningInterruptCallInterruptsItsWorker() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        CompletableFuture<String> stage = offload(sleepUntilInterrupted(started, interrupted),
                RunSyncOptions.defaults().withCancelMode(CancelMode.INTERRUPT).withName("interrupt"));
        assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        boolean[] seen = portal.callSync(() -> new boolean[] {stage.cancel(true), stage.isCancelled()});

        assertThat(seen).containsExactly(true, true);
        assertThat(interrupted.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("worker interrupted").isTrue();
        assertThat(catchThrowable(stage::join)).isInstanceOf(CancellationException.class);
        await().atMost(WAIT).until(() -> limiter().borrowedTokens() == 0);
        await().atMost(WAIT).until(() -> outcomesNamed("interrupt").equals(List.of(OffloadOutcome.INTERRUPTED)));
        assertThat(loop.statistics().offloads().interrupted()).isEqualTo(1);
    }

    @Test
    void cancellingARunningAbandonCallCompletesTheStageAtOnceAndLeavesTheWorkerToFinish() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean sawInterrupt = new AtomicBoolean();
        AtomicBoolean finished = new AtomicBoolean();
        CompletableFuture<String> stage = offload(() -> {
            started.countDown();
            boolean released = release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            sawInterrupt.set(Thread.currentThread().isInterrupted());
            finished.set(released);
            return "dropped";
        }, RunSyncOptions.defaults().withCancelMode(CancelMode.ABANDON).withName("abandon"));
        assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        boolean[] seen = portal.callSync(() -> new boolean[] {stage.cancel(true), stage.isDone(), stage.isCancelled()});

        assertThat(seen).as("cancelled, done and cancelled at once").containsExactly(true, true, true);
        // The abandoned function keeps its token until it returns.
        assertThat(limiter().borrowedTokens()).isEqualTo(1);
        assertThat(loop.statistics().offloads().abandoned()).isEqualTo(1);
        release.countDown();
        await().atMost(WAIT).until(() -> limiter().borrowedTokens() == 0);
        assertThat(finished).isTrue();
        assertThat(sawInterrupt).isFalse();
        assertThat(stage).isCancelled();
        await().atMost(WAIT).until(() -> outcomesNamed("abandon").equals(List.of(OffloadOutcome.ABANDONED)));
    }

    /**
     * SHIELD is AnyIO's {@code abandon_on_cancel=False}: a call that holds its token cannot be
     * cancelled from outside. cancel returns false, nothing is interrupted, and the stage completes
     * with the function's value. (While it waits for a token it is cancelled: see above.)
     */
    @Test
    void cancellingARunningShieldedCallIsRefusedAndTheStageCompletesNormally() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean sawInterrupt = new AtomicBoolean();
        CompletableFuture<String> stage = offload(() -> {
            started.countDown();
            release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            sawInterrupt.set(Thread.currentThread().isInterrupted());
            return "kept";
        }, RunSyncOptions.defaults().withCancelMode(CancelMode.SHIELD).withName("shield"));
        assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        boolean[] seen = portal.callSync(() -> new boolean[] {stage.cancel(true), stage.cancel(false), stage.isDone()});

        assertThat(seen).as("refused twice, still running").containsExactly(false, false, false);
        release.countDown();
        assertThat(stage.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("kept");
        assertThat(sawInterrupt).isFalse();
        await().atMost(WAIT).until(() -> outcomesNamed("shield").equals(List.of(OffloadOutcome.SHIELDED)));
        assertThat(loop.statistics().offloads().shielded()).as("counted once").isEqualTo(1);
        assertThat(limiter().borrowedTokens()).isZero();
    }

    /**
     * Cancel against completion, 200 times a mode: exactly one outcome per call (cancelled, or the
     * value), cancel's answer agrees with the stage, one event per call, no token left.
     */
    @ParameterizedTest
    @EnumSource(CancelMode.class)
    void cancelRacingCompletionHasExactlyOneOutcome(CancelMode mode) throws Exception {
        int iterations = 200;
        Map<String, Boolean> answers = new ConcurrentHashMap<>();
        List<CompletableFuture<Integer>> stages = new ArrayList<>();
        for (int i = 0; i < iterations; i++) {
            int n = i;
            String name = "race-" + mode + "-" + i;
            long delayNanos = ThreadLocalRandom.current().nextLong(0, 50_000);
            stages.add(portal.callSync(() -> {
                CompletableFuture<Integer> f = ToThread.runSync(() -> n,
                        RunSyncOptions.defaults().withCancelMode(mode).withName(name)).toCompletableFuture();
                // The cancel runs in a later callback, racing the worker's completion to the loop.
                loop.execute(() -> {
                    long until = System.nanoTime() + delayNanos;
                    while (System.nanoTime() - until < 0) {
                        Thread.onSpinWait();
                    }
                    answers.put(name, f.cancel(true));
                });
                return f;
            }));
        }
        await().atMost(WAIT).until(() -> answers.size() == iterations);
        int cancelled = 0;
        for (int i = 0; i < iterations; i++) {
            CompletableFuture<Integer> f = stages.get(i);
            String name = "race-" + mode + "-" + i;
            Throwable thrown = catchThrowable(() -> f.get(WAIT.toSeconds(), TimeUnit.SECONDS));
            if (answers.get(name)) {
                assertThat(thrown).as(name).isInstanceOf(CancellationException.class);
                cancelled++;
            } else {
                assertThat(thrown).as(name).isNull();
                assertThat(f.join()).isEqualTo(i);
            }
        }
        System.out.println("cancel racing completion, " + mode + ": " + iterations + " calls, " + cancelled
                + " cancelled, " + (iterations - cancelled) + " completed");
        await().atMost(WAIT).until(() -> outcomesNamed("race-" + mode + "-").size() == iterations);
        assertThat(limiter().borrowedTokens()).isZero();
        assertThat(limiter().tasksWaiting()).isZero();
        List<OffloadOutcome> outcomes = outcomesNamed("race-" + mode + "-");
        long notValue = outcomes.stream().filter(o -> o != OffloadOutcome.VALUE && o != OffloadOutcome.SHIELDED).count();
        assertThat(notValue).as("calls reported cancelled").isEqualTo(cancelled);
        if (mode == CancelMode.SHIELD) {
            assertThat(outcomes).doesNotContain(OffloadOutcome.ABANDONED, OffloadOutcome.INTERRUPTED);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Refusals

    @Test
    void cancelOffTheLoopThreadIsRefusedWhilePendingAndAnsweredOnceDone() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<String> stage = offload(() -> {
            release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            return "v";
        }, RunSyncOptions.defaults().withCancelMode(CancelMode.INTERRUPT));

        Throwable thrown = catchThrowable(() -> stage.cancel(true));

        assertThat(thrown).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("must be called on that loop's thread")
                .hasMessageContaining("CancelScope.cancel()");
        assertThat(stage).isNotDone();
        release.countDown();
        assertThat(stage.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("v");
        assertThat(stage.cancel(true)).isFalse();
    }

    @Test
    void cancelOnTheStageOfAScopeBodyIsRefusedAndNamesTheScope() throws Exception {
        Throwable thrown = portal.call(() -> {
            CancelScope scope = CancelScope.create();
            CompletionStage<Void> body = scope.run(() -> Async.sleep(Duration.ofHours(1)));
            Throwable refusal = catchThrowable(() -> body.toCompletableFuture().cancel(true));
            scope.cancel();
            return body.thenApply(v -> refusal);
        });

        assertThat(thrown).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("cancel its cancel scope instead");
    }

    // ---------------------------------------------------------------------------------------------
    // Other loop stages

    /** A cancelled acquire leaves the queue: the token released later is not lost to it. */
    @Test
    void cancellingALimiterAcquireLeavesNoTokenBehind() throws Exception {
        CapacityLimiter one = new CapacityLimiter("one", 1);
        Object holder = new Object();
        Object waiter = new Object();
        CompletableFuture<Void> pending = portal.callSync(() -> {
            one.acquireOnBehalfOfNowait(holder);
            return one.acquireOnBehalfOf(waiter).toCompletableFuture();
        });

        assertThat(cancelOnLoop(pending)).isTrue();
        portal.callSync(() -> one.releaseOnBehalfOf(holder));

        assertThat(pending).isCancelled();
        assertThat(one.borrowedTokens()).as("tokens borrowed after the release").isZero();
        assertThat(one.tasksWaiting()).isZero();
    }

    @Test
    void cancellingAnEventWaitOrASleepEndsItAndFreesItsEntry() throws Exception {
        Event event = new Event();
        CompletableFuture<Void> waiting = portal.callSync(() -> event.await().toCompletableFuture());
        CompletableFuture<Void> sleeping = portal.callSync(() -> Async.sleep(Duration.ofHours(1)).toCompletableFuture());

        assertThat(cancelOnLoop(waiting)).isTrue();
        assertThat(cancelOnLoop(sleeping)).isTrue();

        assertThat(waiting).isCancelled();
        assertThat(sleeping).isCancelled();
        assertThat(portal.callSync(() -> event.statistics().tasksWaiting())).isZero();
    }

    /**
     * A TaskGroup task has no scope of its own (as in AnyIO, CancelScope.current() inside it is the
     * group's): cancel() on its stage is refused and names the fix, and the task runs on untouched.
     */
    @Test
    void cancellingATaskGroupTaskStageIsRefusedAndNamesTheScopesToCancel() throws Exception {
        Object result = ForeignStageTest.bounded(WAIT, () -> portal.call(() -> TaskGroup.open(tg -> {
            CompletableFuture<String> task = tg.startSoon(() -> Async.sleep(Duration.ofMillis(5))
                    .thenApply(v -> "task done")).toCompletableFuture();
            Throwable refusal = catchThrowable(() -> task.cancel(true));
            return task.thenApply(v -> v + " / " + refusal.getClass().getSimpleName() + ": " + refusal.getMessage());
        })));

        assertThat((String) result).startsWith("task done / UnsupportedOperationException")
                .contains("TaskGroup.cancelScope().cancel()")
                .contains("run the task's body in a CancelScope of its own");
    }

    /** The documented way to cancel one task of a group: its own scope, cancelled from its stage's owner. */
    @Test
    void oneTaskOfAGroupIsCancelledThroughAScopeOfItsOwn() throws Exception {
        AtomicInteger ran = new AtomicInteger();
        Object result = ForeignStageTest.bounded(WAIT, () -> portal.call(() -> TaskGroup.open(tg -> {
            CancelScope victimScope = CancelScope.create();
            CompletionStage<Object> victim = tg.startSoon(() -> victimScope.run(() -> Async.sleep(Duration.ofHours(1))
                    .thenCompose(v -> ToThread.runSync(ran::incrementAndGet))));
            CompletionStage<String> sibling = tg.startSoon(() -> Async.sleep(Duration.ofMillis(20))
                    .thenApply(v -> "sibling done"));
            victimScope.cancel();
            return victim.thenCombine(sibling, (v, s) -> s + ", victim " + v + ", caught "
                    + victimScope.cancelledCaught());
        })));

        assertThat(result).isEqualTo("sibling done, victim null, caught true");
        assertThat(ran.get()).isZero();
    }

    /** A function that signals {@code started}, then sleeps until interrupted, signalling {@code interrupted}. */
    private static Callable<String> sleepUntilInterrupted(CountDownLatch started, CountDownLatch interrupted) {
        return () -> {
            started.countDown();
            try {
                Thread.sleep(WAIT.toMillis());
                return "slept in full";
            } catch (InterruptedException e) {
                interrupted.countDown();
                throw e;
            }
        };
    }

    // ---------------------------------------------------------------------------------------------
    // Portal futures and FromThread

    @Test
    void cancellingAPortalFutureCancelsItsTaskAndInterruptsItsInterruptOffload() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        CompletableFuture<String> future = portal.startTaskSoon(
                () -> ToThread.runSync(sleepUntilInterrupted(started, interrupted), CancelMode.INTERRUPT));
        assertThat(started.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        assertThat(future.cancel(true)).isTrue();

        assertThat(future).isCancelled();
        assertThat(interrupted.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
    }

    @Test
    void cancellingAStartedTaskFutureCancelsTheTask() throws Exception {
        AtomicReference<Throwable> taskSaw = new AtomicReference<>();
        StartedTask<String, Void> started = portal.startTask(status -> {
            status.started("ready");
            return Async.sleep(Duration.ofHours(1)).whenComplete((v, e) -> taskSaw.set(e));
        });

        assertThat(started.future().cancel(true)).isTrue();

        await().atMost(WAIT).until(() -> taskSaw.get() != null);
        assertThat(taskSaw.get()).isInstanceOf(CancelledException.class);
        await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
    }

    /** A portal future cancelled before its task starts: the task starts cancelled; its offload never runs. */
    @Test
    void aPortalTaskCancelledBeforeItStartsNeverRunsItsOffload() throws Exception {
        AtomicInteger ran = new AtomicInteger();
        for (int i = 0; i < 200; i++) {
            CountDownLatch loopBlocked = new CountDownLatch(1);
            CountDownLatch unblock = new CountDownLatch(1);
            CompletableFuture<Void> blocker = portal.startTaskSoon(() -> {
                loopBlocked.countDown();
                unblock.await(WAIT.toSeconds(), TimeUnit.SECONDS); // holds the loop: the next task waits
                return CompletableFuture.completedFuture(null);
            });
            assertThat(loopBlocked.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            CompletableFuture<Integer> f = portal.startTaskSoon(() -> ToThread.runSync(ran::incrementAndGet));
            assertThat(f.cancel(true)).isTrue();
            unblock.countDown();
            blocker.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
        await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
        assertThat(ran.get()).isZero();
        assertThat(limiter().borrowedTokens()).isZero();
    }

    /** A worker in FromThread.run whose call is cancelled (INTERRUPT) through its stage gets out. */
    @Test
    void aWorkerWaitingInFromThreadRunIsReleasedWhenItsCallIsCancelledThroughTheStage() throws Exception {
        CountDownLatch inFromThread = new CountDownLatch(1);
        AtomicReference<Throwable> workerSaw = new AtomicReference<>();
        CountDownLatch workerDone = new CountDownLatch(1);
        CompletableFuture<Object> stage = offload(() -> {
            try {
                return FromThread.run(() -> {
                    inFromThread.countDown();
                    return Async.sleep(Duration.ofHours(1));
                });
            } catch (Exception e) {
                workerSaw.set(e);
                throw e;
            } finally {
                workerDone.countDown();
            }
        }, RunSyncOptions.defaults().withCancelMode(CancelMode.INTERRUPT));
        assertThat(inFromThread.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        assertThat(cancelOnLoop(stage)).isTrue();

        assertThat(workerDone.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(workerSaw.get()).isInstanceOf(InterruptedException.class);
        await().atMost(WAIT).until(() -> limiter().borrowedTokens() == 0);
    }
}
