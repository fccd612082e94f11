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
 * <p>The CI run lasts about 20 s in all. For a soak run, {@code -Dportal.soak.seconds=600} sets
 * the total time (see docs/reliability.md).
 */
class StressTest {

    /** Total seconds for the three tests: 60 % mixed workload, 20 % churn, 20 % async acquire. */
    static final int SECONDS = Integer.getInteger("portal.soak.seconds", 20);

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
                            tasksStarted.increment();
                            CompletableFuture<String> f = portal.startTaskSoon("stress-task-" + c.id,
                                    offload.apply(c));
                            AtomicInteger completions = new AtomicInteger();
                            f.whenComplete((v, e) -> completions.incrementAndGet());
                            futures.add(new Tracked(f, completions));
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
            while (System.nanoTime() < deadline) {
                tokens.check("sampler");
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

        long issued = 0;
        long fnStarted = 0;
        long succeeded = 0;
        long abandonModeCancelledWhileRunning = 0;
        long shieldModeCalls = 0;
        for (Call c : calls) {
            assertThat(c.fnRuns.get()).as("function runs of call %d", c.id).isLessThanOrEqualTo(1);
            if (c.issued) {
                issued++;
                assertThat(c.stageCompletions.get()).as("stage completions of call %d", c.id).isEqualTo(1);
            } else {
                assertThat(c.fnRuns.get()).as("function runs of call %d, never offloaded", c.id).isZero();
            }
            if (c.fnRuns.get() == 1) {
                fnStarted++;
                assertThat(c.fnReturned).as("function of call %d returned", c.id).isTrue();
            }
            if (("ok-" + c.id).equals(c.outcome)) {
                succeeded++;
                assertThat(c.fnRuns.get()).as("call %d succeeded so its function ran", c.id).isEqualTo(1);
            }
            if (c.mode != CancelMode.SHIELD && c.fnRuns.get() == 1 && c.outcome instanceof CancelledException) {
                abandonModeCancelledWhileRunning++;
            }
            if (c.mode == CancelMode.SHIELD) {
                shieldModeCalls++;
            }
        }
        for (Tracked t : futures) {
            assertThat(t.future()).isDone();
            assertThat(t.completions().get()).as("completion callbacks of a portal future").isEqualTo(1);
        }
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
                + "functions ran, %d succeeded), %d blocking portal calls, %d portal tasks (%d futures cancelled), "
                + "%d deadlines hit, %d interrupts delivered (%d calls interrupted), %d limiter resizes, "
                + "%d token checks; max running functions %d, max tokens out %d; %s; workers created %d",
                runFor.toMillis() / 1000.0, callerCount, issued, fnStarted, succeeded,
                portalCalls.sum(), tasksStarted.sum(), futuresCancelled.sum(), deadlineHits.sum(),
                interruptsDelivered.sum(), interruptedCalls.sum(), resizes.sum(), tokens.checks.sum(),
                tokens.maxRunning.get(), tokens.maxBorrowed.get(), off, stats.workers().created()));
        report("mixed workload: shielded-mode calls " + shieldModeCalls + ", abandoned observed by callers "
                + observedAbandoned.sum());
    }

    static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
