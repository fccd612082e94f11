package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

import org.junit.jupiter.api.Test;

/**
 * Randomised stress for a bounded time: many external threads and loop tasks mix portal calls,
 * {@code startTaskSoon}, {@code ToThread.runSync} in every cancel mode, {@code FromThread},
 * {@code checkCancelled}, random cancellations and interrupts, deadlines and limiter resizes; a
 * second test churns portals and a provider, a third hammers the async acquire with cancelled
 * waiters. Invariants are checked while it runs (never more running calls than tokens) and at the
 * end (every outcome delivered exactly once, tokens and waiters back to zero, threads gone,
 * statistics consistent).
 *
 * <p>The CI run lasts about 16 s in all. For a soak run, {@code -Dportal.soak.seconds=600} sets
 * the total time (see docs/reliability.md).
 */
class StressTest {

    /** Total seconds for the three tests: 60 % mixed workload, 20 % churn, 20 % async acquire. */
    static final int SECONDS = Integer.getInteger("portal.soak.seconds", 16);

    static Duration share(double fraction) {
        return Duration.ofMillis((long) (SECONDS * 1000L * fraction));
    }

    static void report(String line) {
        System.out.println("[reliability] " + line);
    }

    // ---------------------------------------------------------------------------------------------
    // Token accounting shared by the worker functions and the resizer

    /**
     * Checks, under the limiter's own lock (so no grant or release can happen meanwhile), that the
     * functions running now all hold a token and that no more tokens are out than the limiter may
     * grant: its total, or what was already out when the total was lowered (lowering evicts nobody).
     */
    static final class TokenAccounting {
        final CapacityLimiter limiter;
        final AtomicInteger running = new AtomicInteger();
        final AtomicInteger maxRunning = new AtomicInteger();
        final AtomicInteger maxBorrowed = new AtomicInteger();
        final Queue<String> violations = new ConcurrentLinkedQueue<>();
        final LongAdder checks = new LongAdder();
        private int allowed;

        TokenAccounting(CapacityLimiter limiter) {
            this.limiter = limiter;
            this.allowed = limiter.totalTokens();
        }

        void check(String where) {
            synchronized (limiter) {
                checks.increment();
                int borrowed = limiter.borrowedTokens();
                int r = running.get();
                maxBorrowed.accumulateAndGet(borrowed, Math::max);
                if (r > borrowed) {
                    violations.add(where + ": " + r + " functions running but only " + borrowed + " tokens out");
                }
                if (borrowed > allowed) {
                    violations.add(where + ": " + borrowed + " tokens out, more than the " + allowed + " allowed ("
                            + limiter + ")");
                }
                allowed = Math.max(limiter.totalTokens(), borrowed);
            }
        }

        void resize(int total) {
            synchronized (limiter) {
                limiter.setTotalTokens(total);
                allowed = Math.max(total, limiter.borrowedTokens());
            }
        }

        int enter(String where) {
            int now = running.incrementAndGet();
            maxRunning.accumulateAndGet(now, Math::max);
            check(where);
            return now;
        }

        void exit() {
            running.decrementAndGet();
        }
    }

    static List<String> liveThreadsNamed(String prefix) {
        List<String> names = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && t.getName().startsWith(prefix)) {
                names.add(t.getName());
            }
        }
        return names;
    }

    static Thread start(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    static void joinAll(List<Thread> threads, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Thread t : threads) {
            TimeUnit.NANOSECONDS.timedJoin(t, Math.max(1, deadline - System.nanoTime()));
            assertThat(t.isAlive()).as("stress thread %s still running", t.getName()).isFalse();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 1. Mixed workload on one portal

    enum Work { SLEEP, POLL_CANCELLED, HOP_TO_LOOP, SPIN }

    /** One runSync call and everything observed about it. */
    static final class Call {
        final long id;
        final CancelMode mode;
        final Work work;
        final AtomicInteger fnRuns = new AtomicInteger();
        final AtomicInteger stageCompletions = new AtomicInteger();
        volatile boolean issued;
        volatile boolean fnReturned;
        volatile Object outcome;

        Call(long id, CancelMode mode, Work work) {
            this.id = id;
            this.mode = mode;
            this.work = work;
        }
    }

    /** A portal future and how often its completion callback ran. */
    record Tracked(CompletableFuture<?> future, AtomicInteger completions) {
    }

    /**
     * Checks finished calls and futures and folds them into counters, so a long soak does not keep
     * millions of records: the sampler reaps finished ones while the test runs, the end reaps all.
     */
    static final class Totals {
        final Queue<String> violations;
        long issued;
        long fnStarted;
        long succeeded;
        long abandonModeCancelledWhileRunning;
        long shieldModeCalls;
        long futuresChecked;

        Totals(Queue<String> violations) {
            this.violations = violations;
        }

        synchronized void reap(Queue<Call> calls, Queue<Tracked> futures, AtomicInteger callCount,
                AtomicInteger futureCount, boolean all) {
            for (java.util.Iterator<Call> it = calls.iterator(); it.hasNext();) {
                Call c = it.next();
                boolean finished = c.issued && c.stageCompletions.get() > 0 && (c.fnRuns.get() == 0 || c.fnReturned);
                if (!all && !finished) {
                    continue;
                }
                it.remove();
                callCount.decrementAndGet();
                check(c);
            }
            for (java.util.Iterator<Tracked> it = futures.iterator(); it.hasNext();) {
                Tracked t = it.next();
                if (!all && !(t.future().isDone() && t.completions().get() > 0)) {
                    continue;
                }
                it.remove();
                futureCount.decrementAndGet();
                futuresChecked++;
                if (!t.future().isDone() || t.completions().get() != 1) {
                    violations.add("a portal future completed " + t.completions().get() + " times (done: "
                            + t.future().isDone() + ")");
                }
            }
        }

        private void check(Call c) {
            if (c.fnRuns.get() > 1) {
                violations.add("the function of call " + c.id + " ran " + c.fnRuns.get() + " times");
            }
            if (c.issued) {
                issued++;
                if (c.stageCompletions.get() != 1) {
                    violations.add("the stage of call " + c.id + " completed " + c.stageCompletions.get() + " times");
                }
            } else if (c.fnRuns.get() != 0) {
                violations.add("the function of call " + c.id + " ran though the call was never offloaded");
            }
            if (c.fnRuns.get() == 1) {
                fnStarted++;
                if (!c.fnReturned) {
                    violations.add("the function of call " + c.id + " never returned");
                }
            }
            if (("ok-" + c.id).equals(c.outcome)) {
                succeeded++;
                if (c.fnRuns.get() != 1) {
                    violations.add("call " + c.id + " succeeded though its function did not run once");
                }
            }
            if (c.mode != CancelMode.SHIELD && c.fnRuns.get() == 1 && c.outcome instanceof CancelledException) {
                abandonModeCancelledWhileRunning++;
            }
            if (c.mode == CancelMode.SHIELD) {
                shieldModeCalls++;
            }
        }
    }

    @Test
    void mixedWorkloadKeepsEveryInvariant() throws Exception {
        Duration runFor = share(0.6);
        Queue<Throwable> uncaught = new ConcurrentLinkedQueue<>();
        EventLoopListener listener = new EventLoopListener() {
            @Override
            public void onUncaughtException(EventLoop loop, Throwable error) {
                uncaught.add(error);
            }

            @Override
            public void onBlockedLoop(BlockedLoopEvent event) {
                // a shared CI machine may stall the loop; not an invariant
            }
        };
        BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("stress-mixed").daemon(true)
                .defaultThreadLimit(6).listener(listener).workerIdleTimeout(Duration.ofSeconds(2)));
        EventLoop loop = portal.eventLoop();
        CapacityLimiter limiter = new CapacityLimiter(8);
        TokenAccounting tokens = new TokenAccounting(limiter);
        Queue<Call> calls = new ConcurrentLinkedQueue<>();
        Queue<Tracked> futures = new ConcurrentLinkedQueue<>();
        Queue<String> violations = tokens.violations;
        Totals totals = new Totals(violations);
        AtomicInteger callCount = new AtomicInteger();
        AtomicInteger futureCount = new AtomicInteger();
        AtomicLong ids = new AtomicLong();
        LongAdder portalCalls = new LongAdder();
        LongAdder tasksStarted = new LongAdder();
        LongAdder futuresCancelled = new LongAdder();
        LongAdder interruptsDelivered = new LongAdder();
        LongAdder interruptedCalls = new LongAdder();
        LongAdder deadlineHits = new LongAdder();
        LongAdder observedAbandoned = new LongAdder();
        LongAdder resizes = new LongAdder();
        LongAdder defaultLimiterCalls = new LongAdder();
        long deadline = System.nanoTime() + runFor.toNanos();

        // The worker function of a call: counts itself in and out and checks the tokens at start.
        java.util.function.Function<Call, java.util.concurrent.Callable<String>> fnOf = c -> () -> {
            c.fnRuns.incrementAndGet();
            if (Thread.currentThread().isInterrupted()) {
                // Only this call's own INTERRUPT cancellation may have set the flag already.
                boolean ownCancellation = false;
                if (c.mode == CancelMode.INTERRUPT) {
                    try {
                        FromThread.checkCancelled();
                    } catch (CancelledException e) {
                        ownCancellation = true;
                    }
                }
                if (!ownCancellation) {
                    violations.add("call " + c.id + " (" + c.mode + ") started on a worker whose interrupt flag "
                            + "was still set by an earlier call");
                }
            }
            tokens.enter("start of call " + c.id);
            try {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                switch (c.work) {
                    case SLEEP -> Thread.sleep(r.nextInt(4));
                    case POLL_CANCELLED -> {
                        for (int i = 0; i < 5; i++) {
                            FromThread.checkCancelled();
                            Thread.sleep(1);
                        }
                    }
                    case HOP_TO_LOOP -> {
                        String hop = FromThread.run(() -> Async.sleep(Duration.ofMillis(1)).thenApply(v -> "hop"));
                        Integer sync = FromThread.runSync(() -> 1);
                        if (!"hop".equals(hop) || sync != 1) {
                            violations.add("call " + c.id + " got " + hop + "/" + sync + " from the loop");
                        }
                    }
                    case SPIN -> {
                        long until = System.nanoTime() + 300_000;
                        while (System.nanoTime() < until) {
                            Thread.onSpinWait();
                        }
                    }
                }
                return "ok-" + c.id;
            } finally {
                c.fnReturned = true;
                tokens.exit();
            }
        };

        // The loop side of a call: a runSync under the stress limiter, possibly under a deadline.
        java.util.function.Function<Call, AsyncCallable<String>> offload = c -> () -> {
            c.issued = true;
            CompletionStage<String> stage = ToThread.runSync(fnOf.apply(c), RunSyncOptions.defaults()
                    .withCancelMode(c.mode).withLimiter(limiter).withName("stress-" + c.id));
            stage.whenComplete((v, e) -> {
                c.stageCompletions.incrementAndGet();
                Throwable cause = CancelScope.unwrap(e);
                c.outcome = cause != null ? cause : v;
                if (v != null && !v.equals("ok-" + c.id)) {
                    violations.add("call " + c.id + " completed with another call's value " + v);
                }
                if (cause instanceof CancelledException && c.fnRuns.get() > 0 && !c.fnReturned) {
                    observedAbandoned.increment();
                }
            });
            return stage;
        };

        List<Thread> threads = new ArrayList<>();
        List<Thread> callers = new ArrayList<>();
        List<java.util.concurrent.atomic.AtomicBoolean> inCall = new ArrayList<>();
        int callerCount = 12;
        for (int n = 0; n < callerCount; n++) {
            java.util.concurrent.atomic.AtomicBoolean flag = new java.util.concurrent.atomic.AtomicBoolean();
            inCall.add(flag);
            Thread t = start("stress-caller-" + n, () -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                while (System.nanoTime() < deadline) {
                    Call c = new Call(ids.incrementAndGet(), CancelMode.values()[r.nextInt(3)],
                            Work.values()[r.nextInt(Work.values().length)]);
                    int op = r.nextInt(10);
                    try {
                        flag.set(true);
                        if (op < 4) {
                            calls.add(c);
                            callCount.incrementAndGet();
                            portalCalls.increment();
                            if (r.nextBoolean()) {
                                Duration timeout = Duration.ofMillis(r.nextInt(4));
                                String v = portal.call(() -> CancelScope.moveOnAfter(timeout, offload.apply(c)));
                                if (v == null) {
                                    deadlineHits.increment();
                                }
                            } else {
                                portal.call(offload.apply(c));
                            }
                        } else if (op < 7) {
                            calls.add(c);
                            callCount.incrementAndGet();
                            tasksStarted.increment();
                            CompletableFuture<String> f = portal.startTaskSoon("stress-task-" + c.id,
                                    offload.apply(c));
                            AtomicInteger completions = new AtomicInteger();
                            f.whenComplete((v, e) -> completions.incrementAndGet());
                            futures.add(new Tracked(f, completions));
                            futureCount.incrementAndGet();
                            if (r.nextInt(3) == 0) {
                                if (r.nextBoolean()) {
                                    Thread.sleep(r.nextInt(3));
                                }
                                f.cancel(true);
                                futuresCancelled.increment();
                            }
                        } else if (op < 8) {
                            portalCalls.increment();
                            defaultLimiterCalls.increment();
                            Integer v = portal.call(() -> ToThread.runSync(() -> 7, CancelMode.values()[r.nextInt(3)]));
                            if (v == null || v != 7) {
                                violations.add("default-limiter call returned " + v);
                            }
                        } else if (op < 9) {
                            portalCalls.increment();
                            Long v = portal.callSync(() -> c.id);
                            if (v == null || v != c.id) {
                                violations.add("callSync returned " + v + " instead of " + c.id);
                            }
                        } else {
                            tasksStarted.increment();
                            CompletableFuture<Void> f = portal.startTaskSoon(() -> Async.sleep(
                                    Duration.ofMillis(r.nextInt(3))));
                            AtomicInteger completions = new AtomicInteger();
                            f.whenComplete((v, e) -> completions.incrementAndGet());
                            futures.add(new Tracked(f, completions));
                            futureCount.incrementAndGet();
                            if (r.nextBoolean()) {
                                f.cancel(true);
                                futuresCancelled.increment();
                            }
                        }
                    } catch (InterruptedException e) {
                        interruptedCalls.increment();
                    } catch (CancellationException e) {
                        // a cancelled call: its outcome is checked through its Call record
                    } catch (Exception e) {
                        violations.add("portal call failed unexpectedly: " + e);
                    } finally {
                        flag.set(false);
                    }
                }
                Thread.interrupted();
            });
            threads.add(t);
            callers.add(t);
        }
        threads.add(start("stress-resizer", () -> {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            while (System.nanoTime() < deadline) {
                tokens.resize(1 + r.nextInt(12));
                resizes.increment();
                sleepQuietly(r.nextInt(1, 4));
            }
            tokens.resize(8);
        }));
        threads.add(start("stress-interrupter", () -> {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            while (System.nanoTime() < deadline) {
                int i = r.nextInt(callerCount);
                if (inCall.get(i).get()) {
                    callers.get(i).interrupt();
                    interruptsDelivered.increment();
                }
                sleepQuietly(r.nextInt(2, 8));
            }
        }));
        threads.add(start("stress-sampler", () -> {
            long nextReap = System.nanoTime();
            while (System.nanoTime() < deadline) {
                tokens.check("sampler");
                if (System.nanoTime() - nextReap > 0) {
                    nextReap = System.nanoTime() + 500_000_000L;
                    if (callCount.get() > 100_000 || futureCount.get() > 100_000) {
                        totals.reap(calls, futures, callCount, futureCount, false);
                    }
                }
                sleepQuietly(1);
            }
        }));

        joinAll(threads, runFor.plusSeconds(30));

        // Every future and stage completes exactly once; the pool and limiters drain.
        await().atMost(Duration.ofSeconds(30)).until(() -> futures.stream().allMatch(t -> t.future().isDone()));
        await().atMost(Duration.ofSeconds(30)).until(() -> calls.stream()
                .allMatch(c -> !c.issued || c.stageCompletions.get() > 0));
        await().atMost(Duration.ofSeconds(30)).until(() -> loop.statistics().workers().busy() == 0
                && limiter.borrowedTokens() == 0 && loop.defaultThreadLimiter().borrowedTokens() == 0);
        EventLoopStatistics stats = loop.statistics();
        OffloadStatistics off = stats.offloads();

        totals.reap(calls, futures, callCount, futureCount, true);
        long issued = totals.issued;
        long fnStarted = totals.fnStarted;
        long succeeded = totals.succeeded;
        long abandonModeCancelledWhileRunning = totals.abandonModeCancelledWhileRunning;
        long shieldModeCalls = totals.shieldModeCalls;
        assertThat(calls).as("calls left unchecked").isEmpty();
        assertThat(futures).as("futures left unchecked").isEmpty();
        assertThat(violations).as("invariant violations").isEmpty();
        assertThat(uncaught).as("uncaught loop errors").isEmpty();
        assertThat(limiter.statistics().tasksWaiting()).isZero();
        assertThat(limiter.statistics().borrowedTokens()).isZero();
        assertThat(stats.defaultLimiter().borrowedTokens()).isZero();
        assertThat(stats.defaultLimiter().tasksWaiting()).isZero();
        assertThat(stats.workers().abandonedRunning()).isZero();
        assertThat(portal.tasks()).as("portal tasks left").isEmpty();
        assertThat(loop.tasks()).as("loop tasks left").extracting(TaskInfo::name).containsOnly("portal");
        // Statistics agree with what the functions saw: every started function is counted once,
        // each ended with success or failure, and the abandoned ones are all counted.
        long defaultCalls = defaultLimiterCalls.sum();
        assertThat(off.started()).isBetween(fnStarted, fnStarted + defaultCalls);
        assertThat(off.succeeded() + off.failed()).isEqualTo(off.started());
        assertThat(off.started() + off.cancelledBeforeStart()).isBetween(issued, issued + defaultCalls);
        assertThat(off.abandoned() + off.interrupted()).isGreaterThanOrEqualTo(observedAbandoned.sum());
        assertThat(off.abandoned() + off.interrupted()).isLessThanOrEqualTo(abandonModeCancelledWhileRunning
                + defaultCalls);
        assertThat(succeeded).isPositive();

        portal.close();
        assertThat(loop.isTerminated()).isTrue();
        await().atMost(Duration.ofSeconds(30)).until(() -> liveThreadsNamed("stress-mixed").isEmpty());

        report(String.format("mixed workload: %.1f s, %d callers, %d runSync calls on the stress limiter (%d "
                + "functions ran, %d succeeded), %d blocking portal calls, %d portal tasks (%d futures checked, %d "
                + "cancelled), "
                + "%d deadlines hit, %d interrupts delivered (%d calls interrupted), %d limiter resizes, "
                + "%d token checks; max running functions %d, max tokens out %d; %s; workers created %d",
                runFor.toMillis() / 1000.0, callerCount, issued, fnStarted, succeeded,
                portalCalls.sum(), tasksStarted.sum(), totals.futuresChecked, futuresCancelled.sum(),
                deadlineHits.sum(),
                interruptsDelivered.sum(), interruptedCalls.sum(), resizes.sum(), tokens.checks.sum(),
                tokens.maxRunning.get(), tokens.maxBorrowed.get(), off, stats.workers().created()));
        report("mixed workload: shielded-mode calls " + shieldModeCalls + ", abandoned observed by callers "
                + observedAbandoned.sum());
    }

    // ---------------------------------------------------------------------------------------------
    // 2. Portal stops and provider churn

    @Test
    void portalStopsAndProviderChurnLeaveNothingBehind() throws Exception {
        Duration runFor = share(0.2);
        AtomicInteger portalIds = new AtomicInteger();
        Queue<BlockingPortal> providerPortals = new ConcurrentLinkedQueue<>();
        BlockingPortalProvider provider = new BlockingPortalProvider(() -> {
            BlockingPortal p = BlockingPortal.start(EventLoop.builder().daemon(true)
                    .name("stress-churn-" + portalIds.incrementAndGet()).workerIdleTimeout(Duration.ofSeconds(1)));
            providerPortals.add(p);
            return p;
        });
        Queue<String> violations = new ConcurrentLinkedQueue<>();
        FutureCounter futures = new FutureCounter();
        LongAdder leases = new LongAdder();
        LongAdder leasedCalls = new LongAdder();
        LongAdder rogueStops = new LongAdder();
        LongAdder ownPortals = new LongAdder();
        LongAdder stoppedWithCallsInFlight = new LongAdder();
        LongAdder rejectedAfterStop = new LongAdder();
        long deadline = System.nanoTime() + runFor.toNanos();
        List<Thread> threads = new ArrayList<>();
        for (int n = 0; n < 8; n++) {
            threads.add(start("stress-churner-" + n, () -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                while (System.nanoTime() < deadline) {
                    try {
                        if (r.nextInt(40) == 0) {
                            ownPortalStoppedUnderLoad(r, futures, violations, stoppedWithCallsInFlight,
                                    rejectedAfterStop);
                            ownPortals.increment();
                            continue;
                        }
                        try (BlockingPortalProvider.PortalLease lease = provider.lease()) {
                            leases.increment();
                            BlockingPortal portal = lease.portal();
                            for (int i = r.nextInt(1, 4); i > 0; i--) {
                                leasedCalls.increment();
                                leasedCall(portal, r, futures, violations, rejectedAfterStop);
                            }
                            if (r.nextInt(2000) == 0) {
                                // Someone stops the shared portal: sharers see "not running" until the
                                // last lease is closed and the next lease starts a new portal.
                                portal.stop(r.nextBoolean());
                                rogueStops.increment();
                            }
                        }
                        if (r.nextInt(4) == 0) {
                            sleepQuietly(1);
                        }
                    } catch (Exception e) {
                        violations.add("churn failed: " + e);
                    }
                }
                Thread.interrupted();
            }));
        }
        joinAll(threads, runFor.plusSeconds(60));
        await().atMost(Duration.ofSeconds(30)).until(() -> futures.completed.sum() == futures.created.sum());
        report(String.format("portal churn: %.1f s, 8 threads, %d leases, %d provider portals started and stopped, "
                + "%d calls through leases, %d shared portals stopped by a user, %d own portals stopped under load "
                + "(%d with calls in flight), %d calls rejected as not running, %d futures",
                runFor.toMillis() / 1000.0, leases.sum(), provider.statistics().starts(), leasedCalls.sum(), rogueStops.sum(),
                ownPortals.sum(), stoppedWithCallsInFlight.sum(), rejectedAfterStop.sum(), futures.created.sum()));
        assertThat(violations).as("invariant violations").isEmpty();
        PortalProviderStatistics stats = provider.statistics();
        assertThat(stats.activeLeases()).isZero();
        assertThat(stats.portalRunning()).isFalse();
        assertThat(stats.starts()).isEqualTo(stats.stops()).isEqualTo(providerPortals.size());
        assertThat(stats.totalLeases()).isEqualTo(leases.sum());
        for (BlockingPortal p : providerPortals) {
            assertThat(p.isRunning()).isFalse();
            assertThat(p.eventLoop().isTerminated()).as("loop of %s", p).isTrue();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> liveThreadsNamed("stress-churn-").isEmpty()
                && liveThreadsNamed("stress-own-").isEmpty());
    }

    /** Counts portal futures made and completed, without keeping them. */
    static final class FutureCounter {
        final LongAdder created = new LongAdder();
        final LongAdder completed = new LongAdder();

        void track(CompletableFuture<?> f) {
            created.increment();
            f.whenComplete((v, e) -> completed.increment());
        }
    }

    private static void leasedCall(BlockingPortal portal, ThreadLocalRandom r, FutureCounter futures,
            Queue<String> violations, LongAdder rejected) throws Exception {
        try {
            switch (r.nextInt(3)) {
                case 0 -> {
                    Integer v = portal.call(() -> ToThread.runSync(() -> 1));
                    if (v == null || v != 1) {
                        violations.add("leased call returned " + v);
                    }
                }
                case 1 -> {
                    CompletableFuture<Void> f = portal.startTaskSoon(() -> Async.sleep(Duration.ofMillis(1)));
                    futures.track(f);
                    if (r.nextBoolean()) {
                        f.cancel(true);
                    }
                }
                default -> portal.call(() -> Async.sleep(Duration.ofMillis(r.nextInt(2))));
            }
        } catch (CancellationException cancelled) {
            if (portal.isRunning()) {
                violations.add("a call on a running portal was cancelled: " + cancelled);
            }
        } catch (IllegalStateException notRunning) {
            if (portal.isRunning()) {
                violations.add("a running portal rejected a call: " + notRunning);
            }
            rejected.increment();
        }
    }

    /** Starts a portal, floods it from several threads, stops it mid-flight and closes it. */
    private static void ownPortalStoppedUnderLoad(ThreadLocalRandom r, FutureCounter allFutures,
            Queue<String> violations, LongAdder inFlight, LongAdder rejected) throws Exception {
        BlockingPortal portal = BlockingPortal.start(EventLoop.builder().daemon(true)
                .name("stress-own-" + Thread.currentThread().getName()).workerIdleTimeout(Duration.ofSeconds(1)));
        List<CompletableFuture<?>> futures = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            CompletableFuture<Integer> f = portal.startTaskSoon(() -> Async.sleep(Duration.ofMillis(r.nextInt(5)))
                    .thenCompose(v -> ToThread.runSync(() -> {
                        Thread.sleep(1);
                        return 1;
                    }, CancelMode.values()[r.nextInt(3)])));
            allFutures.track(f);
            futures.add(f);
        }
        boolean cancelRemaining = r.nextBoolean();
        CompletableFuture<Void> stopped = portal.stop(cancelRemaining);
        if (futures.stream().anyMatch(f -> !f.isDone())) {
            inFlight.increment();
        }
        try {
            portal.call(() -> Async.sleep(Duration.ZERO));
            violations.add("a stopped portal accepted a call");
        } catch (IllegalStateException expected) {
            rejected.increment();
        }
        stopped.get(30, TimeUnit.SECONDS);
        portal.close();
        int failedByGracefulStop = 0;
        Throwable example = null;
        for (CompletableFuture<?> f : futures) {
            if (!f.isDone()) {
                violations.add("a task of a closed portal never completed");
            } else if (!cancelRemaining && f.isCompletedExceptionally()) {
                failedByGracefulStop++;
                example = f.handle((v, e) -> e).join();
            }
        }
        if (failedByGracefulStop > 0) {
            // stop(false) lets accepted tasks run on: none of them may fail or be cancelled.
            violations.add("a graceful stop failed " + failedByGracefulStop + " of 50 accepted tasks, e.g. with "
                    + example);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 3. Async acquire with cancelled waiters and resizes

    @Test
    void asyncAcquireWithCancelledWaitersNeverExceedsTheTokens() throws Exception {
        Duration runFor = share(0.2);
        CapacityLimiter limiter = new CapacityLimiter(3);
        TokenAccounting tokens = new TokenAccounting(limiter);
        java.util.concurrent.ConcurrentLinkedDeque<CancelScope> scopes = new java.util.concurrent.ConcurrentLinkedDeque<>();
        AtomicLong granted = new AtomicLong();
        AtomicLong cancelledWaits = new AtomicLong();
        AtomicLong timedOut = new AtomicLong();
        AtomicInteger maxWaiting = new AtomicInteger();
        LongAdder resizes = new LongAdder();
        LongAdder externalCancels = new LongAdder();
        long deadline = System.nanoTime() + runFor.toNanos();
        int tasks = 40;
        try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().daemon(true).name("stress-acquire"))) {
            List<Thread> threads = new ArrayList<>();
            threads.add(start("stress-acquire-resizer", () -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                while (System.nanoTime() < deadline) {
                    tokens.resize(r.nextInt(0, 6));
                    resizes.increment();
                    maxWaiting.accumulateAndGet(limiter.statistics().tasksWaiting(), Math::max);
                    sleepQuietly(r.nextInt(1, 3));
                }
                tokens.resize(3);
            }));
            threads.add(start("stress-acquire-canceller", () -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                while (System.nanoTime() < deadline) {
                    CancelScope s = scopes.pollLast();
                    scopes.clear();
                    if (s != null) {
                        s.cancel();
                        externalCancels.increment();
                    }
                    sleepQuietly(r.nextInt(0, 2));
                }
            }));
            portal.call(() -> TaskGroup.open(tg -> {
                for (int i = 0; i < tasks; i++) {
                    tg.startSoon("acquirer-" + i, () -> acquireLoop(limiter, tokens, scopes, deadline, granted,
                            cancelledWaits, timedOut));
                }
                return LoopStage.completedFuture(null);
            }));
            joinAll(threads, Duration.ofSeconds(30));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> liveThreadsNamed("stress-acquire").isEmpty());
        CapacityLimiterStatistics s = limiter.statistics();
        assertThat(tokens.violations).as("invariant violations").isEmpty();
        assertThat(s.borrowedTokens()).isZero();
        assertThat(s.tasksWaiting()).isZero();
        assertThat(s.acquisitions()).as("tokens granted by the limiter vs. acquires that completed")
                .isEqualTo(granted.get());
        assertThat(granted.get()).isPositive();
        report(String.format("async acquire: %.1f s, %d tasks, %d tokens granted (%d after waiting), %d waits "
                + "cancelled (%d in a scope with a deadline, the rest by another thread), %d external cancels, %d resizes between 0 and 5, max waiting %d, "
                + "max tokens out %d, %d token checks",
                runFor.toMillis() / 1000.0, tasks, s.acquisitions(), s.waitedAcquisitions(), cancelledWaits.get(),
                timedOut.get(), externalCancels.sum(), resizes.sum(), maxWaiting.get(), tokens.maxBorrowed.get(),
                tokens.checks.sum()));
    }

    /** One acquirer task: acquire under a random deadline or external cancel, hold briefly, release. */
    private static CompletionStage<Void> acquireLoop(CapacityLimiter limiter, TokenAccounting tokens,
            java.util.Deque<CancelScope> scopes, long deadline, AtomicLong granted, AtomicLong cancelledWaits,
            AtomicLong timedOut) {
        if (System.nanoTime() >= deadline) {
            return LoopStage.completedFuture(null);
        }
        ThreadLocalRandom r = ThreadLocalRandom.current();
        CancelScope scope = r.nextBoolean() ? CancelScope.withTimeout(Duration.ofMillis(r.nextInt(0, 4)))
                : CancelScope.create();
        scopes.add(scope);
        boolean[] acquired = new boolean[1];
        return scope.run(() -> limiter.acquire().thenCompose(v -> {
            acquired[0] = true;
            granted.incrementAndGet();
            tokens.enter("acquired by " + Async.currentTask().name());
            return Async.sleep(Duration.ofMillis(r.nextInt(0, 3))).whenComplete((x, e) -> {
                tokens.exit();
                limiter.release();
            });
        })).handle((v, e) -> {
            if (!acquired[0]) {
                cancelledWaits.incrementAndGet();
                if (scope.deadline() != Long.MAX_VALUE) {
                    timedOut.incrementAndGet();
                }
            }
            Throwable cause = CancelScope.unwrap(e);
            if (cause != null && !(cause instanceof CancelledException)) {
                tokens.violations.add("acquirer failed: " + cause);
            }
            return null;
        }).thenCompose(v -> acquireLoop(limiter, tokens, scopes, deadline, granted, cancelledWaits, timedOut));
    }

    static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
