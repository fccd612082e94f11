package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class EventLoopTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Duration FOREVER = Duration.ofDays(365);

    private final List<EventLoop> loops = new ArrayList<>();

    @AfterEach
    void closeLoops() {
        for (EventLoop loop : loops) {
            wake(loop);
            loop.close();
        }
    }

    private EventLoop started(EventLoop.Builder builder) {
        EventLoop loop = builder.start();
        loops.add(loop);
        return loop;
    }

    private EventLoop started(String name) {
        return started(EventLoop.builder().name(name));
    }

    /** Submits a no-op so a parked loop re-checks its state; ignores a stopped loop. */
    private static void wake(EventLoop loop) {
        try {
            loop.execute(() -> { });
        } catch (RejectedExecutionException stopped) {
            // already terminated
        }
    }

    /** Runs {@code fn} on the loop's thread and waits for its result. */
    private static <T> T onLoop(EventLoop loop, java.util.concurrent.Callable<T> fn) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        loop.execute(() -> {
            try {
                result.complete(fn.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    /** Starts {@code fn} as a task named {@code name} on a started loop; the future has its outcome. */
    private static <T> CompletableFuture<T> startTask(EventLoop loop, String name, AsyncCallable<T> fn) {
        CompletableFuture<T> outcome = new CompletableFuture<>();
        loop.execute(() -> TaskGroup.open(tg -> tg.startSoon(name, fn)).whenComplete((v, e) -> {
            if (e == null) {
                outcome.complete(v);
            } else {
                outcome.completeExceptionally(CancelScope.unwrap(e));
            }
        }));
        return outcome;
    }

    private static List<Thread> liveThreadsNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith(prefix))
                .collect(Collectors.toList());
    }

    /** The exception a task's future completed with, unwrapped. */
    private static Throwable failureOf(CompletableFuture<?> future) {
        Throwable thrown = catchThrowable(() -> future.get(WAIT.toSeconds(), TimeUnit.SECONDS));
        return future.isDone() ? Outcomes.failureOf(future) : thrown;
    }

    // ---------------------------------------------------------------------------------------------
    // Starting and stopping

    @Test
    void aStartedLoopRunsOnANewThreadNamedPortalLoopN() throws Exception {
        EventLoop loop = EventLoop.start();
        loops.add(loop);

        Thread loopThread = onLoop(loop, Thread::currentThread);

        assertThat(loopThread).isNotSameAs(Thread.currentThread());
        assertThat(loop.name()).matches("portal-loop-\\d+");
        assertThat(loopThread.getName()).isEqualTo(loop.name());
        assertThat(loop.isShutdown()).isFalse();
        assertThat(loop.isTerminated()).isFalse();
    }

    @Test
    void theBuildersNameNamesTheLoopThreadAndItsWorkers() throws Exception {
        EventLoop loop = started("orders-loop");

        Thread loopThread = onLoop(loop, Thread::currentThread);
        String worker = startTask(loop, "w", () -> ToThread.runSync(() -> Thread.currentThread().getName()))
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);

        assertThat(loopThread.getName()).isEqualTo("orders-loop");
        assertThat(worker).matches("orders-loop-worker-\\d+");
    }

    @Test
    void closeStopsTheLoopAndJoinsItsThread() throws Exception {
        EventLoop loop = started("closing-loop");
        Thread loopThread = onLoop(loop, Thread::currentThread);

        loop.close();

        assertThat(loop.isTerminated()).isTrue();
        assertThat(loop.isShutdown()).isTrue();
        assertThat(loopThread.isAlive()).as("close() returns after the loop thread has ended").isFalse();
    }

    @Test
    void closeReturnsOnlyAfterTheLoopThreadHasEndedEvenWhenTerminationCallbacksRunOnIt() throws Exception {
        EventLoop loop = started("slow-to-end-loop");
        Thread loopThread = onLoop(loop, Thread::currentThread);
        loop.terminationFuture().thenRun(() -> holdTheLoopThread(Duration.ofMillis(300)));

        loop.close();

        assertThat(loopThread.isAlive()).as("close() returns after the loop thread has ended").isFalse();
    }

    @Test
    void inEventLoopIsTrueOnlyOnTheLoopsOwnThread() throws Exception {
        EventLoop loop = started("in-loop");
        EventLoop other = started("other-loop");

        boolean onItsThread = onLoop(loop, loop::inEventLoop);
        boolean onOtherLoop = onLoop(other, loop::inEventLoop);
        boolean onWorker = startTask(loop, "w", () -> ToThread.runSync(loop::inEventLoop))
                .get(WAIT.toSeconds(), TimeUnit.SECONDS);

        assertThat(onItsThread).isTrue();
        assertThat(loop.inEventLoop()).isFalse();
        assertThat(onOtherLoop).isFalse();
        assertThat(onWorker).isFalse();
    }

    @Test
    void runRunsTheLoopOnTheCallingThreadAndReturnsMainsValue() throws Exception {
        Thread caller = Thread.currentThread();
        AtomicReference<EventLoop> loopRef = new AtomicReference<>();

        String value = EventLoop.run(() -> {
            loopRef.set(EventLoop.current());
            return CompletableFuture.completedFuture(Thread.currentThread() == caller ? "here" : "elsewhere");
        });

        assertThat(value).isEqualTo("here");
        assertThat(loopRef.get().isTerminated()).isTrue();
        assertThat(loopRef.get().inEventLoop()).as("not after the loop has stopped").isFalse();
        assertThat(EventLoop.current()).isNull();
    }

    // ---------------------------------------------------------------------------------------------
    // Submitting work

    @Test
    void executeFromManyThreadsRunsEveryCallbackOnceAndInEachThreadsOrder() throws Exception {
        int threads = 8;
        int perThread = 10_000;
        EventLoop loop = started("fan-in-loop");
        int[] lastSeen = new int[threads];
        java.util.Arrays.fill(lastSeen, -1);
        AtomicInteger outOfOrder = new AtomicInteger();
        int[] total = new int[1];
        CountDownLatch allRan = new CountDownLatch(1);
        CyclicBarrier go = new CyclicBarrier(threads);
        List<Thread> submitters = new ArrayList<>();

        for (int t = 0; t < threads; t++) {
            int thread = t;
            Thread submitter = new Thread(() -> {
                try {
                    go.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                for (int i = 0; i < perThread; i++) {
                    int seq = i;
                    loop.execute(() -> {   // runs on the loop thread only: plain fields suffice
                        if (lastSeen[thread] != seq - 1) {
                            outOfOrder.incrementAndGet();
                        }
                        lastSeen[thread] = seq;
                        if (++total[0] == threads * perThread) {
                            allRan.countDown();
                        }
                    });
                }
            }, "submitter-" + t);
            submitters.add(submitter);
            submitter.start();
        }
        for (Thread submitter : submitters) {
            submitter.join(WAIT.toMillis());
        }

        assertThat(allRan.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        int[] finalState = onLoop(loop, () -> new int[] {total[0], outOfOrder.get()});
        assertThat(finalState[0]).as("callbacks run").isEqualTo(threads * perThread);
        assertThat(finalState[1]).as("callbacks run out of their thread's order, twice or never").isZero();
        for (int t = 0; t < threads; t++) {
            assertThat(lastSeen[t]).isEqualTo(perThread - 1);
        }
    }

    @Test
    void executeOnTheLoopThreadRunsTheCallbackAfterTheCurrentOne() throws Exception {
        EventLoop loop = started("local-order-loop");
        List<String> order = new CopyOnWriteArrayList<>();
        CountDownLatch done = new CountDownLatch(1);

        loop.execute(() -> {
            loop.execute(() -> {
                order.add("submitted from the loop");
                done.countDown();
            });
            order.add("rest of the current callback");
        });

        assertThat(done.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(order).containsExactly("rest of the current callback", "submitted from the loop");
    }

    @Test
    void timersFireInDeadlineOrder() throws Exception {
        List<Integer> delays = new ArrayList<>();
        for (int i = 1; i <= 20; i++) {
            delays.add(100 + i * 10);
        }
        Collections.shuffle(delays, new java.util.Random(42));
        List<Integer> fired = new ArrayList<>();

        EventLoop.run(() -> {
            // Absolute deadlines, so the time the loop thread takes to schedule them all cannot reorder them.
            long origin = System.nanoTime();
            List<CompletableFuture<?>> scopes = new ArrayList<>();
            for (int delay : delays) {
                CancelScope deadline = CancelScope.withDeadline(origin + TimeUnit.MILLISECONDS.toNanos(delay));
                scopes.add(deadline.run(() -> Async.sleep(Duration.ofMinutes(1)))
                        .thenRun(() -> fired.add(delay)).toCompletableFuture());
            }
            return CompletableFuture.allOf(scopes.toArray(new CompletableFuture<?>[0]));
        });

        assertThat(fired).hasSize(20).isSorted();
    }

    @Test
    void aSleepDoesNotFireEarly() throws Exception {
        long start = System.nanoTime();

        EventLoop.run(() -> Async.sleep(Duration.ofMillis(100)));

        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(100);
    }

    // ---------------------------------------------------------------------------------------------
    // Idle, lag and statistics

    @Test
    void anIdleLoopUsesNoCpu() throws Exception {
        assertIdleLoopUsesNoCpu(started("idle-loop"));
    }

    @Test
    void anIdleLoopWithADistantTimerUsesNoCpu() throws Exception {
        EventLoop loop = started("idle-timer-loop");
        startTask(loop, "distant-timer", () -> Async.sleep(Duration.ofHours(1)));

        assertIdleLoopUsesNoCpu(loop);
    }

    private static void assertIdleLoopUsesNoCpu(EventLoop loop) throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        org.junit.jupiter.api.Assumptions.assumeTrue(mx.isThreadCpuTimeSupported(), "thread CPU time is measurable");
        if (!mx.isThreadCpuTimeEnabled()) {
            mx.setThreadCpuTimeEnabled(true);
        }
        @SuppressWarnings("deprecation")
        long id = onLoop(loop, () -> Thread.currentThread().getId());
        long before = mx.getThreadCpuTime(id);

        // The condition must hold over the whole 500 ms window, not just once.
        await().during(Duration.ofMillis(500)).atMost(WAIT)
                .until(() -> mx.getThreadCpuTime(id) - before < TimeUnit.MILLISECONDS.toNanos(50));

        assertThat(TimeUnit.NANOSECONDS.toMillis(mx.getThreadCpuTime(id) - before))
                .as("CPU ms used by the loop thread while idle").isLessThan(50);
    }

    @Test
    void measureLagCompletesWithASmallPositiveDuration() throws Exception {
        EventLoop loop = started("lag-loop");

        Duration lag = loop.measureLag().get(WAIT.toSeconds(), TimeUnit.SECONDS);

        assertThat(lag).isPositive().isLessThan(Duration.ofSeconds(1));
    }

    @Test
    void measureLagIncludesTheTimeTheLoopSpendsInABlockingCallback() throws Exception {
        EventLoop loop = started("lagging-loop");
        CountDownLatch blocking = new CountDownLatch(1);
        CountDownLatch measuring = new CountDownLatch(1);
        loop.execute(() -> {
            blocking.countDown();
            try {
                // the loop stays blocked for 300 ms after the measurement was asked for, however late that is
                measuring.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            holdTheLoopThread(Duration.ofMillis(300));
        });
        assertThat(blocking.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        CompletableFuture<Duration> measured = loop.measureLag();
        measuring.countDown();
        Duration lag = measured.get(WAIT.toSeconds(), TimeUnit.SECONDS);

        assertThat(lag).isGreaterThanOrEqualTo(Duration.ofMillis(300));
    }

    @Test
    void statisticsDescribeTheLoopItsWorkersAndItsOffloads() throws Exception {
        EventLoop loop = started("stats-loop");
        EventLoopStatistics fresh = loop.statistics();

        Thread worker = startTask(loop, "offload", () -> Async.sleep(Duration.ofMillis(20))
                .thenCompose(v -> ToThread.runSync(Thread::currentThread))).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        // A worker parked on the idle stack is woken for the next call; one still on its way there
        // may leave the call to a new thread, which the pool does not promise against.
        await().atMost(WAIT).until(() -> Workers.parkedIdle(worker));
        startTask(loop, "failing-offload", () -> ToThread.runSync(() -> {
            throw new IOException("expected");
        }).exceptionally(e -> null)).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        await().atMost(WAIT).until(() -> loop.statistics().tasks() == 0);
        EventLoopStatistics used = loop.statistics();
        loop.close();
        EventLoopStatistics closed = loop.statistics();

        assertThat(fresh.name()).isEqualTo("stats-loop");
        assertThat(fresh.running()).isTrue();
        assertThat(fresh.terminated()).isFalse();
        assertThat(fresh.tasks()).isZero();
        assertThat(fresh.callbackFailures()).isZero();
        assertThat(fresh.blockedEvents()).isZero();
        assertThat(fresh.workers().created()).isZero();
        assertThat(fresh.offloads().started()).isZero();
        assertThat(fresh.defaultLimiter().totalTokens()).isEqualTo(40);
        assertThat(fresh.defaultLimiter().borrowedTokens()).isZero();

        assertThat(used.callbacksRun()).isGreaterThan(fresh.callbacksRun());
        assertThat(used.callbackFailures()).isZero();
        assertThat(used.lastTimerLag()).isGreaterThanOrEqualTo(Duration.ZERO).isLessThan(Duration.ofSeconds(2));
        assertThat(used.maxTimerLag()).isGreaterThanOrEqualTo(used.lastTimerLag());
        assertThat(used.offloads().started()).isEqualTo(2);
        assertThat(used.offloads().succeeded()).isEqualTo(1);
        assertThat(used.offloads().failed()).isEqualTo(1);
        assertThat(used.workers().created()).as("the second call woke the parked worker").isEqualTo(1);
        assertThat(used.workers().live()).isEqualTo(1);
        assertThat(used.workers().busy()).isZero();
        assertThat(used.defaultLimiter().borrowedTokens()).isZero();
        assertThat(used.defaultLimiter().acquisitions()).isEqualTo(2);

        assertThat(closed.running()).isFalse();
        assertThat(closed.terminated()).isTrue();
        assertThat(closed.workers().live()).isZero();
    }

    @Test
    void toStringShowsTheNameAndTheState() throws Exception {
        EventLoop loop = started("shown-loop");

        assertThat(loop.toString()).contains("shown-loop").contains("running");
        loop.close();
        assertThat(loop.toString()).contains("shown-loop").contains("terminated");
    }

    @Test
    void tasksListsTheRunningTasksOldestFirstWithNamesAndAges() throws Exception {
        EventLoop loop = started("tasks-loop");
        startTask(loop, "alpha", () -> Async.sleep(FOREVER));
        await().atMost(WAIT).until(() -> loop.tasks().size() == 1);
        await().atMost(WAIT).until(() -> loop.tasks().get(0).age().compareTo(Duration.ofMillis(100)) >= 0);
        startTask(loop, "beta", () -> Async.sleep(FOREVER));
        await().atMost(WAIT).until(() -> loop.tasks().size() == 2);

        List<TaskInfo> tasks = loop.tasks();

        assertThat(tasks).extracting(TaskInfo::name).containsExactly("alpha", "beta");
        assertThat(tasks.get(0).age()).isGreaterThanOrEqualTo(Duration.ofMillis(100))
                .isGreaterThan(tasks.get(1).age());
        assertThat(tasks.get(1).age()).isGreaterThanOrEqualTo(Duration.ZERO);
        assertThat(tasks.get(0).id()).isNotEqualTo(tasks.get(1).id());
        assertThat(tasks.get(0).startedAt()).isBeforeOrEqualTo(tasks.get(1).startedAt());
        assertThat(loop.statistics().tasks()).isEqualTo(2);

        loop.close();
        assertThat(loop.tasks()).isEmpty();
    }

    // ---------------------------------------------------------------------------------------------
    // Failures and the listener

    @Test
    void aCallbackThatThrowsIsCountedAndReportedAndTheLoopGoesOn() throws Exception {
        List<Object[]> reported = new CopyOnWriteArrayList<>();
        EventLoop loop = started(EventLoop.builder().name("throwing-loop").listener(new EventLoopListener() {
            @Override
            public void onUncaughtException(EventLoop source, Throwable error) {
                reported.add(new Object[] {source, error});
            }
        }));
        IllegalStateException boom = new IllegalStateException("boom");

        loop.execute(() -> {
            throw boom;
        });
        String after = onLoop(loop, () -> "still running");

        assertThat(after).isEqualTo("still running");
        assertThat(loop.statistics().callbackFailures()).isEqualTo(1);
        assertThat(reported).hasSize(1);
        assertThat(reported.get(0)[0]).isSameAs(loop);
        assertThat(reported.get(0)[1]).isSameAs(boom);
    }

    @Test
    void aListenerThatThrowsDoesNotStopTheLoop() throws Exception {
        EventLoop loop = started(EventLoop.builder().name("bad-listener-loop").listener(new EventLoopListener() {
            @Override
            public void onUncaughtException(EventLoop source, Throwable error) {
                throw new IllegalStateException("listener failed too");
            }
        }));

        loop.execute(() -> {
            throw new IllegalStateException("expected: first failure");
        });
        String after = onLoop(loop, () -> "still running");

        assertThat(after).isEqualTo("still running");
        assertThat(loop.statistics().callbackFailures()).isEqualTo(1);
    }

    @Test
    void theBlockedLoopDetectorReportsACallbackThatBlocksWithTheLoopThreadsStack() throws Exception {
        List<BlockedLoopEvent> events = new CopyOnWriteArrayList<>();
        EventLoop loop = started(EventLoop.builder().name("blocked-loop").blockedLoopThreshold(Duration.ofMillis(200))
                .listener(new EventLoopListener() {
                    @Override
                    public void onBlockedLoop(BlockedLoopEvent event) {
                        events.add(event);
                    }
                }));
        CountDownLatch unblocked = new CountDownLatch(1);

        loop.execute(() -> {
            holdTheLoopThread(Duration.ofMillis(1_000));
            unblocked.countDown();
        });

        await().atMost(WAIT).until(() -> !events.isEmpty());
        assertThat(unblocked.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        onLoop(loop, () -> null);
        // A loop thread starved of CPU on a busy machine may be reported too; this stall is reported once.
        List<BlockedLoopEvent> inTheBlockingCallback = events.stream()
                .filter(e -> e.stackTrace().stream().anyMatch(EventLoopTest::isHoldTheLoopThread))
                .collect(Collectors.toList());
        assertThat(inTheBlockingCallback).as("one report per stall").hasSize(1);
        BlockedLoopEvent event = inTheBlockingCallback.get(0);
        assertThat(event.loopName()).isEqualTo("blocked-loop");
        assertThat(event.threadName()).isEqualTo("blocked-loop");
        assertThat(event.threshold()).isEqualTo(Duration.ofMillis(200));
        assertThat(event.blockedFor()).isGreaterThanOrEqualTo(Duration.ofMillis(200));
        assertThat(event.asThrowable().getStackTrace()).hasSameSizeAs(event.stackTrace().toArray());
        assertThat(event.toString()).contains("blocked-loop").contains("ToThread.runSync");
        // a report of a starved loop may be on its way to the listener while the count is read
        await().atMost(WAIT).untilAsserted(() -> assertThat(loop.statistics().blockedEvents())
                .as("counted as reported").isEqualTo(events.size()));
        assertThat(loop.statistics().longestBlock()).isGreaterThanOrEqualTo(Duration.ofMillis(200));
    }

    private static boolean isHoldTheLoopThread(StackTraceElement frame) {
        return frame.getClassName().equals(EventLoopTest.class.getName())
                && frame.getMethodName().equals("holdTheLoopThread");
    }

    @Test
    void anIdleLoopIsNotReportedAsBlocked() throws Exception {
        List<BlockedLoopEvent> events = new CopyOnWriteArrayList<>();
        EventLoop loop = started(EventLoop.builder().name("idle-watched-loop").blockedLoopThreshold(Duration.ofMillis(200))
                .listener(new EventLoopListener() {
                    @Override
                    public void onBlockedLoop(BlockedLoopEvent event) {
                        events.add(event);
                    }
                }));
        Thread loopThread = onLoop(loop, Thread::currentThread);
        // From the moment it parks: a loop thread starved of CPU inside a callback on a busy
        // machine may be reported, and rightly, but a parked one never is.
        await().atMost(WAIT).until(() -> loopThread.getState() == Thread.State.WAITING
                || loopThread.getState() == Thread.State.TIMED_WAITING);
        int before = events.size();

        // Parked for five times the threshold.
        await().during(Duration.ofMillis(1_000)).atMost(WAIT).until(() -> events.size() == before);

        assertThat(loop.statistics().blockedEvents()).isEqualTo(before);
    }

    static void holdTheLoopThread(Duration duration) {
        long end = System.nanoTime() + duration.toNanos();
        long left;
        while ((left = end - System.nanoTime()) > 0) {
            try {
                Thread.sleep(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Orderly stop

    @Test
    void shutdownCancelsTheRunningTasks() throws Exception {
        EventLoop loop = started("cancelling-loop");
        CompletableFuture<Void> sleeper = startTask(loop, "sleeper", () -> Async.sleep(FOREVER));
        await().atMost(WAIT).until(() -> loop.tasks().stream().anyMatch(t -> t.name().equals("sleeper")));

        loop.shutdown();

        assertThat(loop.isShutdown()).isTrue();
        assertThat(failureOf(sleeper)).isInstanceOf(CancelledException.class);
        assertThat(loop.awaitTermination(WAIT)).isTrue();
    }

    @Test
    void aStoppingLoopWaitsForItsCancelledTasksToFinish() throws Exception {
        EventLoop loop = started("patient-loop");
        AtomicBoolean cleanedUp = new AtomicBoolean();
        CountDownLatch sleeping = new CountDownLatch(1);
        startTask(loop, "cleaner", () -> {
            sleeping.countDown();
            return Async.sleep(FOREVER).handle((v, e) -> e)
                    .thenCompose(e -> CancelScope.shielded(() -> Async.sleep(Duration.ofMillis(200))))
                    .thenRun(() -> cleanedUp.set(true));
        });
        assertThat(sleeping.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        loop.close();

        assertThat(cleanedUp).as("the cancelled task finished its cleanup before the loop stopped").isTrue();
        assertThat(loop.isTerminated()).isTrue();
    }

    @Test
    void theShutdownTimeoutEndsTheStopOfATaskThatIgnoresCancellation() throws Exception {
        EventLoop loop = started(EventLoop.builder().name("stubborn-loop").shutdownTimeout(Duration.ofMillis(300)));
        CountDownLatch waiting = new CountDownLatch(1);
        startTask(loop, "stubborn", () -> CancelScope.shielded(() -> {
            waiting.countDown();
            return new Event().await();   // never set, and shielded from the loop's cancellation
        }));
        assertThat(waiting.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        long start = System.nanoTime();

        loop.shutdown();

        assertThat(loop.awaitTermination(Duration.ofSeconds(3)))
                .as("terminated within 3 s of a stop with a 300 ms shutdown timeout").isTrue();
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isGreaterThanOrEqualTo(250);
    }

    @Test
    void executeAfterTerminationIsRejectedNamingTheLoop() {
        EventLoop loop = started("finished-loop");
        loop.close();

        assertThatThrownBy(() -> loop.execute(() -> { }))
                .isExactlyInstanceOf(RejectedExecutionException.class)
                .hasMessageContaining("finished-loop");
    }

    @Test
    void closeIsIdempotent() {
        EventLoop loop = started("twice-closed-loop");

        loop.close();
        loop.close();
        loop.shutdown();

        assertThat(loop.isTerminated()).isTrue();
    }

    @Test
    void closeFromInsideTheLoopStopsIt() throws Exception {
        EventLoop loop = started("self-closing-loop");
        AtomicReference<String> after = new AtomicReference<>();

        loop.execute(() -> {
            loop.close();
            after.set("close returned on the loop thread");
        });

        assertThat(loop.awaitTermination(WAIT)).isTrue();
        assertThat(after.get()).isEqualTo("close returned on the loop thread");
    }

    @Test
    void awaitTerminationTellsWhetherTheLoopStoppedWithinTheTimeout() throws Exception {
        EventLoop loop = started("awaited-loop");

        boolean whileRunning = loop.awaitTermination(Duration.ofMillis(100));
        loop.shutdown();
        boolean afterShutdown = loop.awaitTermination(WAIT);

        assertThat(whileRunning).isFalse();
        assertThat(afterShutdown).isTrue();
        assertThat(loop.terminationFuture().toCompletableFuture()).isCompleted();
    }

    @Test
    void awaitTerminationOnTheLoopThreadFailsInsteadOfWaitingForItself() throws Exception {
        EventLoop loop = started("self-waiting-loop");

        Throwable thrown = onLoop(loop, () -> catchThrowable(() -> loop.awaitTermination(Duration.ofSeconds(1))));

        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessageContaining("self-waiting-loop")
                .hasMessageContaining("wait for itself");
    }

    // ---------------------------------------------------------------------------------------------
    // Nesting

    @Test
    void runOnAnEventLoopThreadFailsWithAClearMessage() throws Exception {
        AtomicBoolean nestedMainRan = new AtomicBoolean();
        AtomicReference<String> outerName = new AtomicReference<>();

        Throwable thrown = EventLoop.run(() -> {
            outerName.set(EventLoop.current().name());
            return CompletableFuture.completedFuture(catchThrowable(() -> EventLoop.run(() -> {
                nestedMainRan.set(true);
                return Async.checkpoint();
            })));
        });

        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessageContaining("EventLoop.run cannot be called on an event loop thread")
                .hasMessageContaining(outerName.get())
                .hasMessageContaining("return the stage");
        assertThat(nestedMainRan).isFalse();
    }

    @Test
    void runOnAStartedLoopsThreadFailsToo() throws Exception {
        EventLoop loop = started("host-loop");

        Throwable thrown = onLoop(loop, () -> catchThrowable(() -> EventLoop.builder().run(Async::checkpoint)));

        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class)
                .hasMessageContaining("EventLoop.run cannot be called on an event loop thread")
                .hasMessageContaining("host-loop");
        assertThat(onLoop(loop, () -> "still running")).isEqualTo("still running");
    }

    @Test
    void aWorkerThreadMayRunANestedLoop() throws Exception {
        AtomicReference<EventLoop> outer = new AtomicReference<>();
        AtomicReference<EventLoop> inner = new AtomicReference<>();
        AtomicReference<Thread> innerLoopThread = new AtomicReference<>();
        AtomicReference<Thread> workerThread = new AtomicReference<>();

        String result = EventLoop.run(() -> {
            outer.set(EventLoop.current());
            return ToThread.runSync(() -> {
                workerThread.set(Thread.currentThread());
                String nested = EventLoop.run(() -> {
                    inner.set(EventLoop.current());
                    innerLoopThread.set(Thread.currentThread());
                    return ToThread.runSync(() -> "nested");
                });
                return nested + " then " + FromThread.runSync(() -> "back on the outer loop");
            });
        });

        assertThat(result).isEqualTo("nested then back on the outer loop");
        assertThat(inner.get()).isNotNull().isNotSameAs(outer.get());
        assertThat(innerLoopThread.get()).isSameAs(workerThread.get());
        assertThat(inner.get().isTerminated()).isTrue();
    }

    // ---------------------------------------------------------------------------------------------
    // Main's outcome

    static Stream<Arguments> failures() {
        return Stream.of(
                Arguments.of("checked exception thrown by main", new IOException("checked"), Failing.THROWN),
                Arguments.of("checked exception failing main's stage", new IOException("checked"), Failing.STAGE),
                Arguments.of("RuntimeException thrown by main", new IllegalArgumentException("runtime"), Failing.THROWN),
                Arguments.of("RuntimeException failing main's stage", new IllegalArgumentException("runtime"),
                        Failing.STAGE),
                Arguments.of("RuntimeException thrown in a continuation", new IllegalArgumentException("runtime"),
                        Failing.CONTINUATION),
                Arguments.of("Error thrown by main", new AssertionError("error"), Failing.THROWN),
                Arguments.of("Error failing main's stage", new AssertionError("error"), Failing.STAGE),
                Arguments.of("Error thrown in a continuation", new AssertionError("error"), Failing.CONTINUATION));
    }

    enum Failing { THROWN, STAGE, CONTINUATION }

    @ParameterizedTest(name = "{0}")
    @MethodSource("failures")
    void runRethrowsMainsFailureAsTheSameObject(String description, Throwable failure, Failing how) {
        AsyncCallable<Object> main = switch (how) {
            case THROWN -> () -> {
                sneakyThrow(failure);
                return null;
            };
            case STAGE -> () -> Async.sleep(Duration.ofMillis(10))
                    .thenCompose(v -> CompletableFuture.failedFuture(failure));
            case CONTINUATION -> () -> Async.sleep(Duration.ofMillis(10)).thenApply(v -> {
                sneakyThrow(failure);
                return null;
            });
        };

        Throwable thrown = catchThrowable(() -> EventLoop.run(main));

        assertThat(thrown).isSameAs(failure);
    }

    @SuppressWarnings("unchecked")
    private static <E extends Throwable> void sneakyThrow(Throwable t) throws E {
        throw (E) t;
    }

    @Test
    void runOfAMainCancelledByShutdownThrowsCancelledException() throws Exception {
        AtomicReference<EventLoop> loopRef = new AtomicReference<>();
        CountDownLatch sleeping = new CountDownLatch(1);
        CompletableFuture<Throwable> thrown = new CompletableFuture<>();
        Thread runner = new Thread(() -> thrown.complete(catchThrowable(() -> EventLoop.run(() -> {
            loopRef.set(EventLoop.current());
            sleeping.countDown();
            return Async.sleep(FOREVER);
        }))), "run-then-shutdown");
        runner.start();
        assertThat(sleeping.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();

        loopRef.get().shutdown();

        assertThat(thrown.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isInstanceOf(CancelledException.class);
        runner.join(WAIT.toMillis());
    }

    // ---------------------------------------------------------------------------------------------
    // Worker threads after the stop

    @Test
    void workerThreadsAllExitAfterAStartedLoopStops() throws Exception {
        EventLoop loop = started("exiting-loop");
        String prefix = "exiting-loop-worker-";
        CyclicBarrier together = new CyclicBarrier(4);
        startTask(loop, "four-at-once", () -> {
            List<CompletableFuture<?>> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                calls.add(ToThread.runSync(() -> together.await(WAIT.toSeconds(), TimeUnit.SECONDS))
                        .toCompletableFuture());
            }
            return CompletableFuture.allOf(calls.toArray(new CompletableFuture<?>[0]));
        }).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        // four calls met, so four threads at least; a dispatch racing with a wake-up may start a fifth
        assertThat(liveThreadsNamed(prefix)).hasSizeGreaterThanOrEqualTo(4);

        loop.close();

        await().atMost(WAIT).until(() -> liveThreadsNamed(prefix).isEmpty());
    }

    @Test
    void workerThreadsAllExitAfterRunReturns() throws Exception {
        String prefix = "exiting-run-loop-worker-";

        EventLoop.builder().name("exiting-run-loop").run(() -> ToThread.runSync(() -> "done")
                .thenCompose(v -> ToThread.runSync(() -> "again")));

        await().atMost(WAIT).until(() -> liveThreadsNamed(prefix).isEmpty());
    }

    @Test
    void aWorkerStillRunningAnAbandonedCallExitsWhenTheCallReturns() throws Exception {
        String prefix = "abandoning-loop-worker-";
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch running = new CountDownLatch(1);

        CancelScope caller = CancelScope.create();

        EventLoop.builder().name("abandoning-loop").run(() -> caller.run(() ->
                ToThread.runSync(() -> {
                    running.countDown();
                    caller.cancel();
                    return release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                }, CancelMode.ABANDON)));
        assertThat(running.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(liveThreadsNamed(prefix)).as("the abandoned call still runs").hasSize(1);

        release.countDown();

        await().atMost(WAIT).until(() -> liveThreadsNamed(prefix).isEmpty());
    }

    @Test
    void changingTheBuilderAfterStartDoesNotReachTheRunningLoop() throws Exception {
        List<Throwable> first = new CopyOnWriteArrayList<>();
        List<Throwable> second = new CopyOnWriteArrayList<>();
        EventLoop.Builder builder = EventLoop.builder().name("builder-reuse").listener(new EventLoopListener() {
            @Override
            public void onUncaughtException(EventLoop loop, Throwable error) {
                first.add(error);
            }
        });
        try (EventLoop loop = builder.start()) {
            builder.name("renamed").listener(new EventLoopListener() {
                @Override
                public void onUncaughtException(EventLoop loop, Throwable error) {
                    second.add(error);
                }
            });
            loop.execute(() -> {
                throw new IllegalStateException("boom");
            });
            await().atMost(Duration.ofSeconds(10)).until(() -> first.size() == 1);
            assertThat(second).isEmpty();
            assertThat(loop.name()).isEqualTo("builder-reuse");
        }
    }
}
