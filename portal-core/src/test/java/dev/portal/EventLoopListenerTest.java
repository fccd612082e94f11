package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The events a loop reports to its {@link EventLoopListener}s, with real workers, real
 * cancellations, deadlines, interrupts and a really blocked loop: every kind and every outcome with
 * its fields and the thread it is reported on; listeners added and removed while the loop runs;
 * several listeners; a listener that throws; nothing made for a loop without listeners.
 */
class EventLoopListenerTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
    }

    /** Everything a listener is told, with the name of the thread that told it. */
    static final class Recorder implements EventLoopListener {
        final List<OffloadEvent> offloads = new CopyOnWriteArrayList<>();
        final List<PortalCallEvent> portalCalls = new CopyOnWriteArrayList<>();
        final List<CancellationEvent> cancellations = new CopyOnWriteArrayList<>();
        final List<BlockedLoopEvent> blocked = new CopyOnWriteArrayList<>();
        final List<BlockedLoopEvent> blockedEnded = new CopyOnWriteArrayList<>();
        final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        final Map<Object, String> threads = new java.util.concurrent.ConcurrentHashMap<>();

        private void seen(Object event) {
            threads.put(event, Thread.currentThread().getName());
        }

        @Override
        public void onOffload(OffloadEvent event) {
            seen(event);
            offloads.add(event);
        }

        @Override
        public void onPortalCall(PortalCallEvent event) {
            seen(event);
            portalCalls.add(event);
        }

        @Override
        public void onCancellation(CancellationEvent event) {
            seen(event);
            cancellations.add(event);
        }

        @Override
        public void onBlockedLoop(BlockedLoopEvent event) {
            seen(event);
            blocked.add(event);
        }

        @Override
        public void onBlockedLoopEnded(BlockedLoopEvent event) {
            seen(event);
            blockedEnded.add(event);
        }

        @Override
        public void onUncaughtException(EventLoop loop, Throwable error) {
            uncaught.add(error);
        }

        int total() {
            return offloads.size() + portalCalls.size() + cancellations.size() + blocked.size() + blockedEnded.size()
                    + uncaught.size();
        }

        OffloadEvent onlyOffload() {
            await().atMost(WAIT).until(() -> !offloads.isEmpty());
            assertThat(offloads).hasSize(1);
            return offloads.get(0);
        }
    }

    /** A listener whose every method throws. */
    static final class Throwing implements EventLoopListener {
        final AtomicInteger calls = new AtomicInteger();

        private void fail() {
            calls.incrementAndGet();
            throw new IllegalStateException("expected: this listener always throws");
        }

        @Override
        public void onOffload(OffloadEvent event) {
            fail();
        }

        @Override
        public void onPortalCall(PortalCallEvent event) {
            fail();
        }

        @Override
        public void onCancellation(CancellationEvent event) {
            fail();
        }

        @Override
        public void onBlockedLoop(BlockedLoopEvent event) {
            fail();
        }

        @Override
        public void onBlockedLoopEnded(BlockedLoopEvent event) {
            fail();
        }

        @Override
        public void onUncaughtException(EventLoop loop, Throwable error) {
            fail();
        }
    }

    private BlockingPortal portal(String name, EventLoopListener... listeners) {
        EventLoop.Builder b = EventLoop.builder().name(name).daemon(true);
        for (EventLoopListener l : listeners) {
            b.listener(l);
        }
        BlockingPortal p = BlockingPortal.start(b);
        toClose.add(p);
        return p;
    }

    private static void awaitLatch(CountDownLatch latch) throws InterruptedException {
        assertThat(latch.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("latch released in time").isTrue();
    }

    /**
     * Starts {@code runSync(fn, mode)} in a scope of its own as a portal task; the returned pair has
     * the scope, to cancel it, and the task's future.
     */
    private static <T> Running<T> inScope(BlockingPortal p, java.util.concurrent.Callable<T> fn, RunSyncOptions o) {
        CancelScope scope = CancelScope.create();
        CompletableFuture<T> future = p.startTaskSoon(() -> scope.run(() -> ToThread.runSync(fn, o)));
        return new Running<>(scope, future);
    }

    record Running<T>(CancelScope scope, CompletableFuture<T> future) {
    }

    // ---------------------------------------------------------------------------------------------
    // Offloads

    @Test
    void anOffloadThatReturnsIsReportedOnTheLoopWithItsNameModeAndRunTime() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-value", r);

        String value = p.call(() -> ToThread.runSync(() -> {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
            while (System.nanoTime() - end < 0) {
                Thread.sleep(5);
            }
            return "done";
        }, RunSyncOptions.defaults().withName("load-report")));

        assertThat(value).isEqualTo("done");
        OffloadEvent e = r.onlyOffload();
        assertThat(e.loopName()).isEqualTo("ev-value");
        assertThat(e.name()).isEqualTo("load-report");
        assertThat(e.cancelMode()).isEqualTo(CancelMode.SHIELD);
        assertThat(e.outcome()).isEqualTo(OffloadOutcome.VALUE);
        assertThat(e.run()).isGreaterThanOrEqualTo(Duration.ofMillis(50));
        assertThat(e.tokenWait()).isGreaterThanOrEqualTo(Duration.ZERO).isLessThan(WAIT);
        assertThat(e.error()).isNull();
        assertThat(r.threads.get(e)).as("reported on the loop thread").isEqualTo("ev-value");
    }

    @Test
    void anOffloadThatThrowsIsReportedWithTheSameException() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-exception", r);
        IOException boom = new IOException("expected: disk on fire");

        Throwable thrown = catchThrowable(() -> p.call(() -> ToThread.runSync(() -> {
            throw boom;
        }, CancelMode.ABANDON)));

        assertThat(thrown).isSameAs(boom);
        OffloadEvent e = r.onlyOffload();
        assertThat(e.outcome()).isEqualTo(OffloadOutcome.EXCEPTION);
        assertThat(e.error()).isSameAs(boom);
        assertThat(e.cancelMode()).isEqualTo(CancelMode.ABANDON);
        assertThat(e.name()).isNull();
        assertThat(e.limiterName()).as("the default limiter of a loop that made its own: unnamed").isNull();
    }

    @Test
    void aCallQueuedForATokenReportsHowLongItWaited() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-token-wait", r);
        CapacityLimiter one = new CapacityLimiter("jdbc", 1);
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        RunSyncOptions first = RunSyncOptions.defaults().withLimiter(one).withName("holder");
        RunSyncOptions second = RunSyncOptions.defaults().withLimiter(one).withName("queued");

        CompletableFuture<String> holder = p.startTaskSoon(() -> ToThread.runSync(() -> {
            holding.countDown();
            awaitLatch(release);
            return "held";
        }, first));
        awaitLatch(holding);
        CompletableFuture<String> queued = p.startTaskSoon(() -> ToThread.runSync(() -> "ran", second));
        await().atMost(WAIT).until(() -> one.tasksWaiting() == 1);
        long queuedSeen = System.nanoTime();
        Thread.sleep(30); // not a wait for anything: the queued call's wait is made measurable
        long released = System.nanoTime(); // before the release: neither call can pass it earlier
        release.countDown();
        assertThat(holder.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("held");
        assertThat(queued.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("ran");

        await().atMost(WAIT).until(() -> r.offloads.size() == 2);
        OffloadEvent h = r.offloads.stream().filter(e -> "holder".equals(e.name())).findFirst().orElseThrow();
        OffloadEvent q = r.offloads.stream().filter(e -> "queued".equals(e.name())).findFirst().orElseThrow();
        assertThat(q.outcome()).isEqualTo(OffloadOutcome.VALUE);
        assertThat(q.tokenWait()).isGreaterThanOrEqualTo(Duration.ofNanos(released - queuedSeen));
        assertThat(h.run()).isGreaterThanOrEqualTo(Duration.ofNanos(released - queuedSeen));
        assertThat(h.limiterName()).isEqualTo("jdbc");
        assertThat(q.limiterName()).isEqualTo("jdbc");
    }

    @Test
    void aCallInACancelledScopeIsReportedCancelledBeforeStartAndNeverRuns() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-precancelled", r);
        AtomicBoolean ran = new AtomicBoolean();

        Boolean result = p.call(() -> CancelScope.create().run(() -> {
            CancelScope.current().cancel();
            return ToThread.runSync(() -> ran.getAndSet(true), RunSyncOptions.defaults().withName("never"));
        }));

        assertThat(result).as("the scope caught its cancellation").isNull();
        OffloadEvent e = r.onlyOffload();
        assertThat(e.outcome()).isEqualTo(OffloadOutcome.CANCELLED_BEFORE_START);
        assertThat(e.name()).isEqualTo("never");
        assertThat(e.run()).isZero();
        assertThat(ran).isFalse();
        assertThat(r.cancellations).singleElement().satisfies(c -> {
            assertThat(c.kind()).isEqualTo(CancellationKind.SCOPE_CANCELLED);
            assertThat(c.cancelMode()).isNull();
        });
    }

    @Test
    void aCallCancelledWhileQueuedForATokenIsReportedCancelledBeforeStart() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-withdrawn", r);
        CapacityLimiter one = new CapacityLimiter(1);
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean ran = new AtomicBoolean();
        CompletableFuture<String> holder = p.startTaskSoon(() -> ToThread.runSync(() -> {
            holding.countDown();
            awaitLatch(release);
            return "held";
        }, one));
        awaitLatch(holding);

        Running<Boolean> queued = inScope(p, () -> ran.getAndSet(true),
                RunSyncOptions.defaults().withLimiter(one).withName("queued"));
        await().atMost(WAIT).until(() -> one.tasksWaiting() == 1);
        queued.scope().cancel();

        assertThat(queued.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("moveOn: the scope caught it").isNull();
        OffloadEvent e = r.onlyOffload();
        assertThat(e.outcome()).isEqualTo(OffloadOutcome.CANCELLED_BEFORE_START);
        assertThat(e.name()).isEqualTo("queued");
        assertThat(e.tokenWait()).isPositive();
        assertThat(e.run()).isZero();
        release.countDown();
        holder.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(ran).isFalse();
    }

    @Test
    void aShieldedCallCancelledWhileRunningIsReportedShieldedWhenItReturns() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-shielded", r);
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);

        Running<String> call = inScope(p, () -> {
            running.countDown();
            awaitLatch(release);
            return "finished anyway";
        }, RunSyncOptions.defaults().withName("shielded"));
        awaitLatch(running);
        call.scope().cancel();
        await().atMost(WAIT).until(() -> !r.cancellations.isEmpty());
        assertThat(r.offloads).as("not reported while the function runs").isEmpty();
        release.countDown();

        assertThat(call.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("finished anyway");
        OffloadEvent e = r.onlyOffload();
        assertThat(e.outcome()).isEqualTo(OffloadOutcome.SHIELDED);
        assertThat(e.cancelMode()).isEqualTo(CancelMode.SHIELD);
        assertThat(e.error()).isNull();
        assertThat(r.cancellations).singleElement().extracting(CancellationEvent::kind)
                .isEqualTo(CancellationKind.SCOPE_CANCELLED);
        assertThat(r.threads.get(r.cancellations.get(0))).isEqualTo("ev-shielded");
    }

    @Test
    void anAbandonedCallIsReportedWhenItsFunctionReallyReturnsWithItsWholeRunTime() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-abandoned", r);
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);

        Running<String> call = inScope(p, () -> {
            running.countDown();
            awaitLatch(release);
            return "too late";
        }, RunSyncOptions.defaults().withCancelMode(CancelMode.ABANDON).withName("abandoned"));
        awaitLatch(running);
        long cancelledAt = System.nanoTime();
        call.scope().cancel();
        assertThat(call.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).as("the caller left at once").isNull();
        assertThat(r.offloads).as("not reported while the function still runs").isEmpty();
        Thread.sleep(20); // not a wait for anything: the function runs measurably after the caller left
        // Read before the release: the function cannot return before it, and it started before
        // cancelledAt, so its run covers [cancelledAt, releasingAt] whatever the threads' timing.
        long releasingAt = System.nanoTime();
        release.countDown();

        OffloadEvent e = r.onlyOffload();
        assertThat(e.outcome()).isEqualTo(OffloadOutcome.ABANDONED);
        assertThat(e.cancelMode()).isEqualTo(CancelMode.ABANDON);
        assertThat(e.run()).isGreaterThanOrEqualTo(Duration.ofNanos(releasingAt - cancelledAt));
        assertThat(e.error()).isNull();
        assertThat(p.eventLoop().statistics().offloads().abandoned()).isEqualTo(1);
    }

    @Test
    void anInterruptedCallIsReportedWithTheInterruptItsFunctionThrew() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-interrupted", r);
        CountDownLatch running = new CountDownLatch(1);

        Running<String> call = inScope(p, () -> {
            running.countDown();
            Thread.sleep(TimeUnit.MINUTES.toMillis(5)); // interrupted long before
            return "slept";
        }, RunSyncOptions.defaults().withCancelMode(CancelMode.INTERRUPT).withName("sleeper"));
        awaitLatch(running);
        call.scope().cancel();

        assertThat(call.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).isNull();
        OffloadEvent e = r.onlyOffload();
        assertThat(e.outcome()).isEqualTo(OffloadOutcome.INTERRUPTED);
        assertThat(e.cancelMode()).isEqualTo(CancelMode.INTERRUPT);
        assertThat(e.error()).isInstanceOf(InterruptedException.class);
        assertThat(e.run()).isLessThan(Duration.ofMinutes(5));
        assertThat(p.eventLoop().statistics().offloads().interrupted()).isEqualTo(1);
    }

    @Test
    void checkCancelledRaisingIsReportedOnTheWorkerWithTheCallsModeAndName() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-check", r);
        CountDownLatch polling = new CountDownLatch(1);
        AtomicInteger polls = new AtomicInteger();

        Running<String> call = inScope(p, () -> {
            polling.countDown();
            long giveUp = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() - giveUp < 0) {
                polls.incrementAndGet();
                FromThread.checkCancelled();
                Thread.onSpinWait();
            }
            return "never cancelled";
        }, RunSyncOptions.defaults().withName("poller"));
        awaitLatch(polling);
        call.scope().cancel();

        assertThat(call.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).isNull();
        await().atMost(WAIT).until(() -> r.cancellations.size() == 2 && r.offloads.size() == 1);
        CancellationEvent raised = r.cancellations.stream().filter(c -> c.kind() == CancellationKind.CHECK_CANCELLED)
                .findFirst().orElseThrow();
        assertThat(raised.cancelMode()).isEqualTo(CancelMode.SHIELD);
        assertThat(raised.offloadName()).isEqualTo("poller");
        assertThat(raised.loopName()).isEqualTo("ev-check");
        assertThat(r.threads.get(raised)).as("reported on the worker").startsWith("ev-check-worker-");
        OffloadEvent e = r.offloads.get(0);
        assertThat(e.outcome()).isEqualTo(OffloadOutcome.SHIELDED);
        assertThat(e.error()).isInstanceOf(CancelledException.class);
        assertThat(p.eventLoop().statistics().offloads().checkCancelledRaised()).isEqualTo(1);
    }

    @Test
    void everyCallIsReportedExactlyOnceWithTheOutcomeTheStatisticsCount() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-exactly-once", r);
        CancelMode[] modes = CancelMode.values();
        int calls = 300;
        List<Running<Integer>> started = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            int spin = ThreadLocalRandom.current().nextInt(20_000);
            Running<Integer> call = inScope(p, () -> {
                long end = System.nanoTime() + ThreadLocalRandom.current().nextInt(50_000);
                while (System.nanoTime() - end < 0) {
                    Thread.onSpinWait();
                }
                return 1;
            }, RunSyncOptions.defaults().withCancelMode(modes[i % modes.length]));
            started.add(call);
            long end = System.nanoTime() + spin;
            while (System.nanoTime() - end < 0) {
                Thread.onSpinWait();
            }
            if (i % 2 == 0) {
                call.scope().cancel(); // races the grant, the start and the return
            }
        }
        for (Running<Integer> call : started) {
            call.future().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }

        await().atMost(WAIT).until(() -> r.offloads.size() >= calls);
        assertThat(r.offloads).hasSize(calls);
        Map<OffloadOutcome, Long> byOutcome = new EnumMap<>(OffloadOutcome.class);
        for (OffloadEvent e : r.offloads) {
            byOutcome.merge(e.outcome(), 1L, Long::sum);
        }
        OffloadStatistics stats = p.eventLoop().statistics().offloads();
        assertThat(byOutcome.getOrDefault(OffloadOutcome.CANCELLED_BEFORE_START, 0L))
                .isEqualTo(stats.cancelledBeforeStart());
        assertThat(byOutcome.getOrDefault(OffloadOutcome.SHIELDED, 0L)).isEqualTo(stats.shielded());
        assertThat(byOutcome.getOrDefault(OffloadOutcome.ABANDONED, 0L)).isEqualTo(stats.abandoned());
        assertThat(byOutcome.getOrDefault(OffloadOutcome.INTERRUPTED, 0L)).isEqualTo(stats.interrupted());
        assertThat(calls - stats.cancelledBeforeStart()).as("every call that started").isEqualTo(stats.started());
        // A scope cancelled after its call ended is not cancelled at all (it has exited).
        assertThat(r.cancellations).as("at most one per cancelled scope").hasSizeLessThanOrEqualTo(calls / 2)
                .allSatisfy(c -> assertThat(c.kind()).isEqualTo(CancellationKind.SCOPE_CANCELLED));
    }

    // ---------------------------------------------------------------------------------------------
    // Cancellations

    @Test
    void aScopeIsReportedOnceHoweverOftenItIsCancelledAndItsChildrenAreNot() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-scope-once", r);

        p.call(() -> CancelScope.create().run(() -> CancelScope.create().run(() -> {
            CancelScope inner = CancelScope.current();
            inner.cancel();
            inner.cancel();
            return Async.checkpoint();
        })));
        p.call(() -> {
            CancelScope parent = CancelScope.create();
            return parent.run(() -> CancelScope.create().run(() -> {
                parent.cancel();
                parent.cancel();
                return Async.checkpoint();
            }));
        });

        assertThat(r.cancellations).hasSize(2).allSatisfy(c -> {
            assertThat(c.kind()).isEqualTo(CancellationKind.SCOPE_CANCELLED);
            assertThat(c.loopName()).isEqualTo("ev-scope-once");
            assertThat(c.cancelMode()).isNull();
            assertThat(c.offloadName()).isNull();
        });
    }

    @Test
    void aDeadlineIsReportedAsADeadlineOnTheLoop() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-deadline", r);

        Object result = p.call(() -> CancelScope.moveOnAfter(Duration.ofMillis(30), () -> Async.sleep(WAIT)));
        Throwable timedOut = catchThrowable(() -> p.call(() -> CancelScope.failAfter(Duration.ofMillis(10),
                () -> Async.sleep(WAIT))));

        assertThat(result).isNull();
        assertThat(timedOut).isInstanceOf(java.util.concurrent.TimeoutException.class);
        assertThat(r.cancellations).hasSize(2).allSatisfy(c -> assertThat(c.kind()).isEqualTo(CancellationKind.DEADLINE));
        assertThat(r.threads.get(r.cancellations.get(0))).isEqualTo("ev-deadline");
        assertThat(r.cancellations.get(0).cancelMode()).isNull();
    }

    @Test
    void aScopeCancelledBeforeItIsEnteredIsReportedWhenEntered() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-early-cancel", r);
        CancelScope scope = CancelScope.create();
        scope.cancel();
        assertThat(r.cancellations).isEmpty();

        p.call(() -> scope.run(Async::checkpoint));

        assertThat(r.cancellations).singleElement().extracting(CancellationEvent::kind)
                .isEqualTo(CancellationKind.SCOPE_CANCELLED);
    }

    // ---------------------------------------------------------------------------------------------
    // Portal calls

    @Test
    void eachPortalMethodIsReportedWithItsOutcomeAndDuration() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-portal", r);
        IOException boom = new IOException("expected");

        String slept = p.call(() -> Async.sleep(Duration.ofMillis(20)).thenApply(v -> "slept"));
        assertThat(slept).isEqualTo("slept");
        assertThat(catchThrowable(() -> p.callSync(() -> {
            throw boom;
        }))).isSameAs(boom);
        CompletableFuture<Object> cancelled = p.startTaskSoon(() -> Async.sleep(WAIT).thenApply(v -> null));
        StartedTask<String, String> startedTask = p.startTask(status -> {
            status.started("ready");
            return Async.sleep(Duration.ofMillis(1)).thenApply(v -> "ended");
        });
        try (PortalResource<String> resource = p.wrapAsyncResource(new AsyncResource<String>() {
            @Override
            public java.util.concurrent.CompletionStage<String> enter() {
                return LoopStage.completedFuture("open");
            }

            @Override
            public java.util.concurrent.CompletionStage<Boolean> exit(@org.jspecify.annotations.Nullable Throwable error) {
                return LoopStage.completedFuture(false);
            }
        })) {
            assertThat(resource.get()).isEqualTo("open");
        }
        cancelled.cancel(true);
        assertThat(startedTask.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("ended");

        await().atMost(WAIT).until(() -> r.portalCalls.size() == 5);
        Map<PortalMethod, PortalCallEvent> byMethod = r.portalCalls.stream()
                .collect(Collectors.toMap(PortalCallEvent::method, e -> e));
        assertThat(byMethod.get(PortalMethod.CALL).outcome()).isEqualTo(PortalCallOutcome.SUCCESS);
        assertThat(byMethod.get(PortalMethod.CALL).duration()).isGreaterThanOrEqualTo(Duration.ofMillis(20));
        assertThat(byMethod.get(PortalMethod.CALL_SYNC).outcome()).isEqualTo(PortalCallOutcome.FAILURE);
        assertThat(byMethod.get(PortalMethod.CALL_SYNC).error()).isSameAs(boom);
        assertThat(byMethod.get(PortalMethod.START_TASK_SOON).outcome()).isEqualTo(PortalCallOutcome.CANCELLED);
        assertThat(byMethod.get(PortalMethod.START_TASK).outcome()).isEqualTo(PortalCallOutcome.SUCCESS);
        assertThat(byMethod.get(PortalMethod.WRAP_ASYNC_RESOURCE).outcome()).isEqualTo(PortalCallOutcome.SUCCESS);
        assertThat(r.portalCalls).allSatisfy(e -> {
            assertThat(e.loopName()).isEqualTo("ev-portal");
            assertThat(r.threads.get(e)).isEqualTo("ev-portal");
        });
        assertThat(PortalMethod.START_TASK_SOON.methodName()).isEqualTo("startTaskSoon");
    }

    @Test
    void callsRefusedByTheGuardsAreReportedRejectedOnTheCallingThread() throws Exception {
        Recorder r = new Recorder();
        BlockingPortal p = portal("ev-rejected", r);

        Throwable onLoop = p.call(() -> LoopStage.completedFuture(catchThrowable(() -> p.callSync(() -> "deadlock"))));
        p.stop(false).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        Throwable stopped = catchThrowable(() -> p.startTaskSoon(() -> LoopStage.completedFuture("late")));

        assertThat(onLoop).isInstanceOf(IllegalStateException.class).hasMessageContaining("event loop thread");
        assertThat(stopped).isInstanceOf(IllegalStateException.class).hasMessageContaining("not running");
        List<PortalCallEvent> rejected = r.portalCalls.stream()
                .filter(e -> e.outcome() == PortalCallOutcome.REJECTED).collect(Collectors.toList());
        assertThat(rejected).hasSize(2);
        assertThat(rejected.get(0).method()).isEqualTo(PortalMethod.CALL_SYNC);
        assertThat(rejected.get(0).error()).isSameAs(onLoop);
        assertThat(rejected.get(0).duration()).isZero();
        assertThat(rejected.get(1).method()).isEqualTo(PortalMethod.START_TASK_SOON);
        assertThat(rejected.get(1).error()).isSameAs(stopped);
        assertThat(r.threads.get(rejected.get(1))).isEqualTo(Thread.currentThread().getName());
        assertThat(p.statistics().rejected()).isEqualTo(2);
    }

    // ---------------------------------------------------------------------------------------------
    // The blocked loop

    @Test
    void aBlockedLoopIsReportedWhenItStallsAndWhenItMovesOnAndBlockedForReadsTheStall() throws Exception {
        Recorder r = new Recorder();
        EventLoop loop = EventLoop.builder().name("ev-blocked").daemon(true)
                .blockedLoopThreshold(Duration.ofMillis(100)).listener(r).start();
        toClose.add(loop);
        assertThat(loop.blockedFor()).as("healthy").isZero();
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch blocking = new CountDownLatch(1);

        loop.execute(() -> {
            blocking.countDown();
            try {
                release.await(WAIT.toSeconds(), TimeUnit.SECONDS); // blocks the loop on purpose
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        awaitLatch(blocking);
        // A loop thread starved of CPU on a busy machine may be reported too: find this stall by its stack.
        await().atMost(WAIT).until(() -> r.blocked.stream().anyMatch(EventLoopListenerTest::inThisTest));
        BlockedLoopEvent start = r.blocked.stream().filter(EventLoopListenerTest::inThisTest).findFirst().orElseThrow();
        Duration blockedNow = loop.blockedFor();
        assertThat(blockedNow).isGreaterThanOrEqualTo(Duration.ofMillis(100));
        assertThat(r.blockedEnded).as("still blocked").noneMatch(EventLoopListenerTest::inThisTest);
        release.countDown();
        await().atMost(WAIT).until(() -> r.blockedEnded.stream().anyMatch(EventLoopListenerTest::inThisTest));

        BlockedLoopEvent end = r.blockedEnded.stream().filter(EventLoopListenerTest::inThisTest).findFirst().orElseThrow();
        assertThat(r.threads.get(start)).isEqualTo("portal-loop-watchdog");
        assertThat(r.threads.get(end)).isEqualTo("portal-loop-watchdog");
        assertThat(end.loopName()).isEqualTo("ev-blocked");
        assertThat(end.blockedFor()).isGreaterThanOrEqualTo(start.blockedFor()).isGreaterThanOrEqualTo(blockedNow);
        assertThat(end.stackTrace()).isEqualTo(start.stackTrace());
        CompletableFuture<Duration> afterwards = new CompletableFuture<>();
        loop.execute(() -> afterwards.complete(Duration.ZERO));
        afterwards.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        await().atMost(WAIT).until(() -> loop.blockedFor().isZero());
    }

    private static boolean inThisTest(BlockedLoopEvent event) {
        return event.stackTrace().stream().anyMatch(f -> f.getClassName().startsWith(EventLoopListenerTest.class.getName()));
    }

    @Test
    void blockedForStaysZeroOnABusyButHealthyLoopAndWhenTheDetectorIsOff() throws Exception {
        EventLoop off = EventLoop.builder().name("ev-detector-off").daemon(true).blockedLoopThreshold(Duration.ZERO)
                .start();
        toClose.add(off);
        CountDownLatch release = new CountDownLatch(1);
        off.execute(() -> {
            try {
                release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            assertThat(off.blockedFor()).isZero();
        } finally {
            release.countDown();
        }
        // A threshold far above any CPU starvation on a loaded machine: short callbacks never count.
        EventLoop busy = EventLoop.builder().name("ev-busy").daemon(true).blockedLoopThreshold(Duration.ofSeconds(3))
                .start();
        toClose.add(busy);
        AtomicBoolean sawBlocked = new AtomicBoolean();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
        while (System.nanoTime() - end < 0) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            busy.execute(() -> done.complete(null));
            done.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            if (!busy.blockedFor().isZero()) {
                sawBlocked.set(true);
            }
        }
        assertThat(sawBlocked).isFalse();
    }

    // ---------------------------------------------------------------------------------------------
    // Registration

    @Test
    void listenersAddedAndRemovedAtRunTimeSeeExactlyTheEventsInBetween() throws Exception {
        Recorder fromBuilder = new Recorder();
        Recorder late = new Recorder();
        BlockingPortal p = portal("ev-add-remove", fromBuilder);
        EventLoop loop = p.eventLoop();

        p.call(() -> ToThread.runSync(() -> "before"));
        loop.addListener(late);
        p.call(() -> ToThread.runSync(() -> "during"));
        assertThat(loop.removeListener(late)).isTrue();
        assertThat(loop.removeListener(late)).as("already removed").isFalse();
        p.call(() -> ToThread.runSync(() -> "after"));
        await().atMost(WAIT).until(() -> fromBuilder.offloads.size() == 3 && fromBuilder.portalCalls.size() == 3);

        assertThat(late.offloads).hasSize(1);
        assertThat(late.portalCalls).as("the call made while it was registered").hasSize(1);
        int seen = late.total();
        p.call(() -> CancelScope.create().run(() -> {
            CancelScope.current().cancel();
            return ToThread.runSync(() -> "cancelled");
        }));
        assertThat(late.total()).as("nothing after removal").isEqualTo(seen);
    }

    @Test
    void everyListenerGetsEveryEventAndOneAddedTwiceGetsItTwice() throws Exception {
        Recorder a = new Recorder();
        Recorder b = new Recorder();
        BlockingPortal p = portal("ev-several", a, b);
        p.eventLoop().addListener(b);

        p.call(() -> ToThread.runSync(() -> "x"));

        await().atMost(WAIT).until(() -> b.offloads.size() == 2 && b.portalCalls.size() == 2);
        assertThat(a.offloads).hasSize(1);
        assertThat(a.portalCalls).hasSize(1);
        assertThat(p.eventLoop().removeListener(b)).isTrue();
        p.call(() -> ToThread.runSync(() -> "y"));
        await().atMost(WAIT).until(() -> a.offloads.size() == 2);
        assertThat(b.offloads).as("one registration left").hasSize(3);
    }

    @Test
    void addingAndRemovingFromManyThreadsWhileEventsFlowLosesNoRegistration() throws Exception {
        BlockingPortal p = portal("ev-concurrent-registration");
        EventLoop loop = p.eventLoop();
        CompletableFuture<Void> traffic = CompletableFuture.runAsync(() -> {
            for (int i = 0; i < 200; i++) {
                try {
                    p.call(() -> ToThread.runSync(() -> "x"));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        });
        List<Thread> threads = new ArrayList<>();
        List<Recorder> kept = new CopyOnWriteArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread th = new Thread(() -> {
                for (int i = 0; i < 500; i++) {
                    Recorder added = new Recorder();
                    loop.addListener(added);
                    if (i % 50 == 0) {
                        kept.add(added);
                    } else {
                        assertThat(loop.removeListener(added)).isTrue();
                    }
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join(WAIT.toMillis());
            assertThat(th.isAlive()).isFalse();
        }
        traffic.get(WAIT.toSeconds(), TimeUnit.SECONDS);

        assertThat(loop.listeners.size()).isEqualTo(kept.size()).isEqualTo(40);
        p.call(() -> ToThread.runSync(() -> "seen by all"));
        await().atMost(WAIT).until(() -> kept.stream().allMatch(k -> k.offloads.stream()
                .anyMatch(e -> e.outcome() == OffloadOutcome.VALUE)));
    }

    @Test
    void aListenerThatThrowsBreaksNeitherTheLoopNorTheWorkersNorTheOtherListeners() throws Exception {
        Throwing bad = new Throwing();
        Recorder good = new Recorder();
        BlockingPortal p = portal("ev-throwing", bad, good);
        CountDownLatch polling = new CountDownLatch(1);

        String value = p.call(() -> ToThread.runSync(() -> "value"));
        assertThat(value).isEqualTo("value");
        Running<String> call = inScope(p, () -> {
            polling.countDown();
            while (true) {
                FromThread.checkCancelled(); // its event's listener throws; the cancellation still does
                Thread.onSpinWait();
            }
        }, RunSyncOptions.defaults());
        awaitLatch(polling);
        call.scope().cancel();
        assertThat(call.future().get(WAIT.toSeconds(), TimeUnit.SECONDS)).isNull();
        p.eventLoop().execute(() -> {
            throw new IllegalStateException("expected: an uncaught callback failure");
        });
        String still = p.call(() -> ToThread.runSync(() -> "still working"));
        assertThat(still).isEqualTo("still working");

        await().atMost(WAIT).until(() -> good.offloads.size() == 3 && good.uncaught.size() == 1);
        assertThat(good.cancellations).extracting(CancellationEvent::kind)
                .containsExactlyInAnyOrder(CancellationKind.SCOPE_CANCELLED, CancellationKind.CHECK_CANCELLED);
        assertThat(bad.calls.get()).isGreaterThanOrEqualTo(good.total());
        assertThat(p.eventLoop().statistics().callbackFailures()).isEqualTo(1);
    }

    @Test
    void badRegistrationsAreRefusedWithAClearMessage() {
        EventLoop loop = EventLoop.builder().name("ev-bad-input").daemon(true).start();
        toClose.add(loop);

        assertThatThrownBy(() -> loop.addListener(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("listener must not be null");
        assertThatThrownBy(() -> loop.removeListener(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("listener must not be null");
        assertThat(loop.removeListener(new Recorder())).as("never added").isFalse();
    }

    @Test
    void aCallOnALoopWithoutListenersCarriesNoObservation() throws Exception {
        BlockingPortal p = portal("ev-unobserved");
        Recorder r = new Recorder();

        Object unobserved = p.call(() -> {
            Job<?> job = (Job<?>) ToThread.runSync(() -> "x");
            return job.thenApply(v -> job.observation());
        });
        p.eventLoop().addListener(r);
        Object observed = p.call(() -> {
            Job<?> job = (Job<?>) ToThread.runSync(() -> "x");
            return job.thenApply(v -> job.observation());
        });

        assertThat(unobserved).isNull();
        assertThat(observed).isInstanceOf(OffloadObservation.class);
        await().atMost(WAIT).until(() -> r.offloads.size() == 1);
    }

    @Test
    void aPortalCallOnALoopWithoutListenersCarriesNoMethodOrStartTime() throws Exception {
        BlockingPortal p = portal("ev-unobserved-portal");
        Recorder r = new Recorder();

        BlockingPortal.PortalFuture<String> unobserved =
                (BlockingPortal.PortalFuture<String>) p.startTaskSoon(() -> LoopStage.completedFuture("x"));
        p.eventLoop().addListener(r);
        BlockingPortal.PortalFuture<String> observed =
                (BlockingPortal.PortalFuture<String>) p.startTaskSoon(() -> LoopStage.completedFuture("y"));
        assertThat(unobserved.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("x");
        assertThat(observed.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo("y");

        assertThat(unobserved.observed()).isNull();
        BlockingPortal.PortalFuture.Observed<String> call = observed.observed();
        assertThat(call).isNotNull();
        assertThat(call.method).isEqualTo(PortalMethod.START_TASK_SOON);
        await().atMost(WAIT).until(() -> r.portalCalls.size() == 1);
    }

    @Test
    void eventRecordsRefuseMissingFields() {
        assertThatThrownBy(() -> new OffloadEvent(null, null, null, CancelMode.SHIELD, OffloadOutcome.VALUE,
                Duration.ZERO, Duration.ZERO, null)).isInstanceOf(NullPointerException.class)
                .hasMessage("loopName must not be null");
        assertThatThrownBy(() -> new PortalCallEvent("l", null, PortalCallOutcome.SUCCESS, Duration.ZERO, null))
                .isInstanceOf(NullPointerException.class).hasMessage("method must not be null");
        assertThatThrownBy(() -> new CancellationEvent("l", null, null, null))
                .isInstanceOf(NullPointerException.class).hasMessage("kind must not be null");
    }
}
