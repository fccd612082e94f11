package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import dev.portal.BlockingPortalProvider.PortalLease;

import org.junit.jupiter.api.Test;

/**
 * {@link BlockingPortalProvider}: AnyIO 4.8's {@code TestBlockingPortalProvider}, unbalanced
 * releases, statistics, and many threads sharing one provider.
 */
class BlockingPortalProviderTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    /** Live threads whose name starts with {@code prefix} (loop threads and their workers). */
    private static long liveThreadsNamed(String prefix) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith(prefix))
                .count();
    }

    /** The state of a provider and its loops, for failure messages. */
    private static String describe(BlockingPortalProvider provider, Set<EventLoop> loops) {
        StringBuilder sb = new StringBuilder(provider.statistics().toString());
        for (EventLoop loop : loops) {
            sb.append("\n  ").append(loop).append("\n    ").append(loop.statistics())
                    .append("\n    tasks ").append(loop.tasks());
        }
        return sb.toString();
    }

    private static Set<Object> identitySet() {
        return Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
    }

    @Test
    void sequentialLeasesRunOnDifferentLoopThreadsThatAreStoppedAfterEachRelease() throws Exception {
        BlockingPortalProvider provider = new BlockingPortalProvider(
                EventLoop.builder().name("sequential-loop").daemon(true));
        int baseline = Thread.activeCount();
        List<Thread> loopThreads = new ArrayList<>();
        List<BlockingPortal> portals = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            try (PortalLease lease = provider.lease()) {
                BlockingPortal portal = lease.portal();
                Thread loopThread = portal.callSync(Thread::currentThread);
                assertThat(loopThread).isNotSameAs(Thread.currentThread());
                loopThreads.add(loopThread);
                portals.add(portal);
            }
            assertThat(portals.get(i).isRunning()).as("portal of lease %d after release", i).isFalse();
        }
        assertThat(identitySet(loopThreads)).hasSize(3);
        assertThat(identitySet(portals)).hasSize(3);
        await().atMost(WAIT).pollInSameThread().untilAsserted(() -> {
            assertThat(liveThreadsNamed("sequential-loop")).isZero();
            assertThat(Thread.activeCount()).isLessThanOrEqualTo(baseline);
        });
        assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(false, 0, 3, 3, 3, null));
    }

    private static Set<Object> identitySet(List<?> items) {
        Set<Object> set = identitySet();
        set.addAll(items);
        return set;
    }

    @Test
    void noThreadOfThePortalOutlivesTheLastRelease() throws Exception {
        BlockingPortalProvider provider = new BlockingPortalProvider(
                EventLoop.builder().name("last-release-loop").daemon(true));
        try (PortalLease lease = provider.lease()) {
            Integer one = lease.portal().call(() -> ToThread.runSync(() -> 1));
            assertThat(one).isEqualTo(1);
        }
        // the loop thread, its workers and the blocked-loop watchdog, which has nothing left to watch
        await().atMost(WAIT).untilAsserted(() -> assertThat(Thread.getAllStackTraces().keySet())
                .filteredOn(Thread::isAlive)
                .extracting(Thread::getName)
                .noneMatch(name -> name.startsWith("last-release-loop") || name.equals("portal-loop-watchdog")));
    }

    @Test
    void nestedLeasesShareOnePortalAndOneLoopThread() throws Exception {
        BlockingPortalProvider provider = new BlockingPortalProvider();
        Thread outerThread;
        try (PortalLease outer = provider.lease()) {
            outerThread = outer.portal().callSync(Thread::currentThread);
            try (PortalLease inner = provider.lease()) {
                assertThat(inner.portal()).isSameAs(outer.portal());
                Thread innerThread = inner.portal().callSync(Thread::currentThread);
                assertThat(innerThread).isSameAs(outerThread);
                assertThat(provider.statistics().activeLeases()).isEqualTo(2);
            }
            assertThat(outer.portal().isRunning()).as("portal after the inner release").isTrue();
            Integer sum = outer.portal().call(() -> Async.checkpoint().thenApply(v -> 1 + 2));
            assertThat(sum).isEqualTo(3);
            assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(true, 1, 2, 1, 0,
                    outer.portal().statistics()));
        }
        assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(false, 0, 2, 1, 1, null));
        await().atMost(WAIT).until(() -> !outerThread.isAlive());
    }

    @Test
    void threadsEnteringAtOnceShareOnePortal() throws Exception {
        BlockingPortalProvider provider = new BlockingPortalProvider();
        int parties = 4; // three threads and this one, as in AnyIO's test
        CyclicBarrier start = new CyclicBarrier(parties);
        CountDownLatch allCalled = new CountDownLatch(parties);
        Set<Object> portals = identitySet();
        Set<Object> loopThreads = identitySet();
        Runnable user = () -> {
            try {
                start.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                try (PortalLease lease = provider.lease()) {
                    portals.add(lease.portal());
                    loopThreads.add(lease.portal().callSync(Thread::currentThread));
                    allCalled.countDown();
                    assertThat(allCalled.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                }
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        List<CompletableFuture<Void>> others = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < parties - 1; i++) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            Thread t = new Thread(() -> {
                try {
                    user.run();
                    done.complete(null);
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            }, "provider-user-" + i);
            threads.add(t);
            others.add(done);
            t.start();
        }
        user.run();
        for (CompletableFuture<Void> done : others) {
            done.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
        for (Thread t : threads) {
            t.join(WAIT.toMillis());
        }
        assertThat(portals).hasSize(1);
        assertThat(loopThreads).hasSize(1);
        assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(false, 0, parties, 1, 1, null));
    }

    @Test
    void releasingALeaseTwiceFailsWithAClearMessageAndLeavesOtherLeasesAlone() throws Exception {
        BlockingPortalProvider provider = new BlockingPortalProvider();
        try (PortalLease kept = provider.lease()) {
            PortalLease released = provider.lease();
            released.close();
            assertThatThrownBy(released::close)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already released")
                    .hasMessageContaining("exactly once");
            assertThat(provider.statistics().activeLeases()).isEqualTo(1);
            assertThat(kept.portal().isRunning()).isTrue();
            Integer sum = kept.portal().call(() -> Async.checkpoint().thenApply(v -> 1 + 2));
            assertThat(sum).isEqualTo(3);
        }
        assertThat(provider.statistics().activeLeases()).isZero();
    }

    @Test
    void releasingTheLastLeaseTwiceFails() {
        BlockingPortalProvider provider = new BlockingPortalProvider();
        PortalLease lease = provider.lease();
        lease.close();
        assertThatThrownBy(lease::close)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("this PortalLease was already released");
        assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(false, 0, 1, 1, 1, null));
    }

    @Test
    void statisticsFollowLeasesStartsAndStops() throws Exception {
        BlockingPortalProvider provider = new BlockingPortalProvider();
        assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(false, 0, 0, 0, 0, null));
        assertThat(provider.toString()).contains("0 leases").contains("no portal");

        PortalLease first = provider.lease();
        PortalLease second = provider.lease();
        first.portal().call(Async::checkpoint);
        PortalProviderStatistics during = provider.statistics();
        assertThat(during.portalRunning()).isTrue();
        assertThat(during.activeLeases()).isEqualTo(2);
        assertThat(during.totalLeases()).isEqualTo(2);
        assertThat(during.starts()).isEqualTo(1);
        assertThat(during.stops()).isZero();
        assertThat(during.portal()).isNotNull();
        assertThat(during.portal().calls()).isEqualTo(1);
        assertThat(provider.toString()).contains("2 leases").contains("portal running");

        second.close();
        first.close();
        assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(false, 0, 2, 1, 1, null));

        try (PortalLease third = provider.lease()) {
            assertThat(third.portal()).isNotSameAs(first.portal());
        }
        assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(false, 0, 3, 2, 2, null));
    }

    @Test
    void theLastReleaseWaitsForThePortalsTasks() throws Exception {
        BlockingPortalProvider provider = new BlockingPortalProvider();
        CompletableFuture<String> task;
        try (PortalLease lease = provider.lease()) {
            task = lease.portal().startTaskSoon(() -> Async.sleep(Duration.ofMillis(200)).thenApply(v -> "done"));
        }
        assertThat(task).isCompletedWithValue("done");
    }

    @Test
    void aProviderWithAFactoryUsesItsPortals() throws Exception {
        AtomicInteger made = new AtomicInteger();
        BlockingPortalProvider provider = new BlockingPortalProvider(() -> {
            made.incrementAndGet();
            return BlockingPortal.start(EventLoop.builder().name("factory-loop").daemon(true));
        });
        try (PortalLease lease = provider.lease()) {
            String name = lease.portal().callSync(() -> Thread.currentThread().getName());
            assertThat(name).isEqualTo("factory-loop");
        }
        assertThat(made).hasValue(1);
    }

    @Test
    void aFactoryThatReturnsNullFailsTheLease() {
        BlockingPortalProvider provider = new BlockingPortalProvider(() -> null);
        assertThatThrownBy(provider::lease)
                .isInstanceOf(NullPointerException.class)
                .hasMessageContaining("the portal factory returned null");
        assertThat(provider.statistics()).isEqualTo(new PortalProviderStatistics(false, 0, 0, 0, 0, null));
    }

    /**
     * 64 threads share one provider for thousands of calls: every lease calls through the portal
     * into a worker thread and starts a background task, and a random share of those tasks'
     * futures are cancelled (at once, a moment later, or after the lease was released). Every
     * future must complete exactly once, no limiter token may stay borrowed, and every loop and
     * worker thread must be gone at the end.
     */
    @Test
    void manyThreadsShareOneProviderAndEveryFutureCompletesExactlyOnce() throws Exception {
        int threadCount = 64;
        int leasesPerThread = 300;
        BlockingPortalProvider provider = new BlockingPortalProvider(
                EventLoop.builder().name("shared-loop").daemon(true));
        int baselineThreads = Thread.activeCount();

        Set<EventLoop> loops = ConcurrentHashMap.newKeySet();
        ConcurrentLinkedQueue<CompletableFuture<Integer>> futures = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<AtomicInteger> completionCounts = new ConcurrentLinkedQueue<>();
        ConcurrentLinkedQueue<Throwable> problems = new ConcurrentLinkedQueue<>();
        AtomicInteger calls = new AtomicInteger();
        AtomicInteger cancelRequests = new AtomicInteger();
        CyclicBarrier start = new CyclicBarrier(threadCount);

        List<Thread> threads = new ArrayList<>();
        for (int n = 0; n < threadCount; n++) {
            Thread t = new Thread(() -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                List<CompletableFuture<Integer>> cancelAfterRelease = new ArrayList<>();
                try {
                    start.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                    for (int i = 0; i < leasesPerThread; i++) {
                        int x = random.nextInt(1_000_000);
                        int sleepMillis = random.nextInt(3);
                        int cancelKind = random.nextInt(4);
                        try (PortalLease lease = provider.lease()) {
                            BlockingPortal portal = lease.portal();
                            loops.add(portal.eventLoop());
                            Integer echoed = portal.call(() -> ToThread.runSync(() -> x + 1));
                            calls.incrementAndGet();
                            if (echoed == null || echoed != x + 1) {
                                problems.add(new AssertionError("call returned " + echoed + " for " + x));
                            }
                            CompletableFuture<Integer> future = portal.startTaskSoon(() -> ToThread.runSync(() -> {
                                if (sleepMillis > 0) {
                                    Thread.sleep(sleepMillis);
                                }
                                return x;
                            }).thenCompose(v -> Async.sleep(Duration.ofMillis(sleepMillis)).thenApply(w -> v)));
                            AtomicInteger completions = new AtomicInteger();
                            future.whenComplete((v, e) -> {
                                completions.incrementAndGet();
                                if (e == null && (v == null || v != x)) {
                                    problems.add(new AssertionError("task returned " + v + " for " + x));
                                }
                            });
                            futures.add(future);
                            completionCounts.add(completions);
                            if (cancelKind == 0) {
                                future.cancel(true);
                                cancelRequests.incrementAndGet();
                            } else if (cancelKind == 1) {
                                Thread.yield();
                                future.cancel(true);
                                cancelRequests.incrementAndGet();
                            } else if (cancelKind == 2) {
                                cancelAfterRelease.add(future);
                            }
                        }
                        for (CompletableFuture<Integer> f : cancelAfterRelease) {
                            f.cancel(true);
                            cancelRequests.incrementAndGet();
                        }
                        cancelAfterRelease.clear();
                    }
                } catch (Throwable e) {
                    problems.add(e);
                }
            }, "provider-user-" + n);
            t.setDaemon(true);
            threads.add(t);
        }
        long t0 = System.nanoTime();
        threads.forEach(Thread::start);
        long joinDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
        for (Thread t : threads) {
            TimeUnit.NANOSECONDS.timedJoin(t, Math.max(1, joinDeadline - System.nanoTime()));
            assertThat(t.isAlive()).as(() -> t.getName() + " still running; " + describe(provider, loops)).isFalse();
        }
        Duration elapsed = Duration.ofNanos(System.nanoTime() - t0);

        assertThat(problems).isEmpty();
        assertThat(calls).hasValue(threadCount * leasesPerThread);
        assertThat(futures).hasSize(threadCount * leasesPerThread);
        await().atMost(WAIT).until(() -> futures.stream().allMatch(CompletableFuture::isDone));
        assertThat(completionCounts).allSatisfy(c -> assertThat(c).hasValue(1));
        assertThat(futures.stream().filter(CompletableFuture::isCancelled).count())
                .isPositive()
                .isLessThanOrEqualTo(cancelRequests.get());
        assertThat(futures.stream().filter(f -> f.isCompletedExceptionally() && !f.isCancelled()).count())
                .as("futures failed other than by cancellation").isZero();

        PortalProviderStatistics stats = provider.statistics();
        assertThat(stats.activeLeases()).isZero();
        assertThat(stats.portalRunning()).isFalse();
        assertThat(stats.totalLeases()).isEqualTo(threadCount * leasesPerThread);
        assertThat(stats.starts()).isEqualTo(stats.stops()).isEqualTo(loops.size());

        assertThat(loops).allSatisfy(loop -> {
            assertThat(loop.isTerminated()).isTrue();
            CapacityLimiterStatistics limiter = loop.defaultThreadLimiter().statistics();
            assertThat(limiter.borrowedTokens()).as("tokens borrowed on %s", loop.name()).isZero();
            assertThat(limiter.tasksWaiting()).isZero();
        });
        await().atMost(WAIT).pollInSameThread().untilAsserted(() -> {
            assertThat(liveThreadsNamed("shared-loop")).isZero();
            assertThat(Thread.activeCount()).isLessThanOrEqualTo(baselineThreads);
        });
        assertThat(elapsed).isLessThan(Duration.ofSeconds(30));
    }
}
