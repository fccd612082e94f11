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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import dev.portal.BlockingPortalProvider.PortalLease;

import org.junit.jupiter.api.Test;

/**
 * {@link BlockingPortalProvider} bound to a loop the application runs ({@link
 * BlockingPortalProvider#BlockingPortalProvider(EventLoop)}): one portal for every lease, no thread
 * started or stopped by a lease, and what closing the provider or stopping the loop does.
 */
class BoundPortalProviderTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    /** Live threads whose name starts with {@code prefix}: the loop thread and its workers. */
    private static Set<Thread> liveThreadsNamed(String prefix) {
        Set<Thread> named = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && t.getName().startsWith(prefix)) {
                named.add(t);
            }
        }
        return named;
    }

    @Test
    void tenThousandNonOverlappingLeasesFromManyThreadsShareOnePortalAndStartNoThread() throws Exception {
        String name = "bound-10k-loop";
        try (EventLoop loop = EventLoop.builder().name(name).start()) {
            BlockingPortalProvider provider = new BlockingPortalProvider(loop);
            Thread loopThread;
            try (PortalLease first = provider.lease()) {
                loopThread = first.portal().callSync(Thread::currentThread);
            }
            Set<Thread> before = liveThreadsNamed(name);
            assertThat(before).containsExactly(loopThread);

            int threads = 8;
            int perThread = 1250;
            Set<BlockingPortal> portals = ConcurrentHashMap.newKeySet();
            Set<Thread> ranOn = ConcurrentHashMap.newKeySet();
            Set<Thread> seenDuring = ConcurrentHashMap.newKeySet();
            CyclicBarrier start = new CyclicBarrier(threads);
            ExecutorService callers = Executors.newFixedThreadPool(threads);
            try {
                List<Future<Long>> sums = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int caller = t;
                    sums.add(callers.submit(() -> {
                        start.await(10, TimeUnit.SECONDS);
                        long sum = 0;
                        for (int i = 0; i < perThread; i++) {
                            int value = caller * perThread + i;
                            try (PortalLease lease = provider.lease()) {
                                portals.add(lease.portal());
                                Integer got = lease.portal().call(() -> {
                                    ranOn.add(Thread.currentThread());
                                    return CompletableFuture.completedFuture(value);
                                });
                                sum += got;
                            }
                            if (i % 250 == 0) {
                                seenDuring.addAll(liveThreadsNamed(name));
                            }
                        }
                        return sum;
                    }));
                }
                long total = 0;
                for (Future<Long> f : sums) {
                    total += f.get(60, TimeUnit.SECONDS);
                }
                long n = (long) threads * perThread;
                assertThat(total).isEqualTo(n * (n - 1) / 2);
            } finally {
                callers.shutdownNow();
            }

            assertThat(portals).hasSize(1);
            assertThat(ranOn).containsExactly(loopThread);
            assertThat(seenDuring).as("threads of the loop seen while leases came and went").containsExactly(loopThread);
            assertThat(liveThreadsNamed(name)).isEqualTo(before);
            PortalProviderStatistics stats = provider.statistics();
            assertThat(stats.starts()).isEqualTo(1);
            assertThat(stats.stops()).isZero();
            assertThat(stats.totalLeases()).isEqualTo(1 + (long) threads * perThread);
            assertThat(stats.activeLeases()).isZero();
            assertThat(stats.portalRunning()).isTrue();
            provider.close();
        }
    }

    @Test
    void theLastReleaseLeavesThePortalOpenAndCloseStopsItButNotTheLoop() throws Exception {
        try (EventLoop loop = EventLoop.builder().name("bound-close-loop").start()) {
            BlockingPortalProvider provider = new BlockingPortalProvider(loop);
            assertThat(provider.isBound()).isTrue();
            BlockingPortal portal;
            try (PortalLease lease = provider.lease()) {
                portal = lease.portal();
            }
            assertThat(portal.isRunning()).isTrue();
            assertThat(portal.call(() -> CompletableFuture.completedFuture("still open"))).isEqualTo("still open");

            provider.close();
            assertThat(portal.isRunning()).isFalse();
            assertThat(loop.isShutdown()).isFalse();
            assertThat(provider.statistics().stops()).isEqualTo(1);
            assertThat(provider).hasToString("BlockingPortalProvider[on bound-close-loop, 0 leases, closed]");
            assertThatThrownBy(provider::lease).isInstanceOf(IllegalStateException.class)
                    .hasMessage("this BlockingPortalProvider is closed; it gives out no more leases");
            provider.close(); // idempotent

            // the loop runs on: another portal opens on it
            try (BlockingPortal other = BlockingPortal.openOn(loop)) {
                assertThat(other.call(() -> CompletableFuture.completedFuture(7))).isEqualTo(7);
            }
        }
    }

    @Test
    void closeWaitsForTheTasksOfLeasesStillHeldAndTheirReleaseStaysBalanced() throws Exception {
        try (EventLoop loop = EventLoop.builder().name("bound-held-loop").start()) {
            BlockingPortalProvider provider = new BlockingPortalProvider(loop);
            PortalLease held = provider.lease();
            Event release = held.portal().callSync(Event::new);
            CompletableFuture<String> task = held.portal().startTaskSoon(() ->
                    release.await().thenApply(v -> "finished"));
            CompletableFuture<Void> closing = CompletableFuture.runAsync(provider::close);
            await().atMost(WAIT).until(() -> !held.portal().isRunning());
            assertThat(closing).as("close waits for the portal's tasks").isNotDone();
            held.portal().eventLoop().execute(release::set);
            closing.get(10, TimeUnit.SECONDS);
            assertThat(task.get(10, TimeUnit.SECONDS)).isEqualTo("finished");

            assertThatThrownBy(() -> held.portal().call(() -> CompletableFuture.completedFuture(1)))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("This portal is not running");
            held.close();
            assertThat(provider.statistics().activeLeases()).isZero();
            assertThatThrownBy(held::close).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already released");
        }
    }

    @Test
    void aPortalStoppedByAHolderIsReplacedByTheNextLease() throws Exception {
        try (EventLoop loop = EventLoop.builder().name("bound-replace-loop").start()) {
            BlockingPortalProvider provider = new BlockingPortalProvider(loop);
            PortalLease first = provider.lease();
            BlockingPortal stopped = first.portal();
            stopped.stop(false).get(10, TimeUnit.SECONDS);
            try (PortalLease second = provider.lease()) {
                assertThat(second.portal()).isNotSameAs(stopped);
                assertThat(second.portal().call(() -> CompletableFuture.completedFuture("new"))).isEqualTo("new");
            }
            first.close(); // the old portal's lease still counts and releases cleanly
            assertThat(provider.statistics().activeLeases()).isZero();
            assertThat(provider.statistics().starts()).isEqualTo(2);
            provider.close();
        }
    }

    @Test
    void leasesAfterTheLoopStoppedFailNamingTheLoop() throws Exception {
        EventLoop loop = EventLoop.builder().name("bound-stopped-loop").start();
        BlockingPortalProvider provider = new BlockingPortalProvider(loop);
        PortalLease lease = provider.lease();
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<Object> forever = lease.portal().startTaskSoon(() -> {
            started.countDown();
            return Async.await(new CompletableFuture<>());
        });
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        loop.close();

        assertThat(forever).isCancelled();
        assertThat(lease.portal().isRunning()).isFalse();
        assertThatThrownBy(provider::lease).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("bound-stopped-loop").hasMessageContaining("stopped");
        lease.close();
        provider.close();
        await().atMost(WAIT).until(() -> liveThreadsNamed("bound-stopped-loop").isEmpty());
    }

    @Test
    void leasesNestOnTheOneThreadAndUnbalancedReleasesFail() throws Exception {
        try (EventLoop loop = EventLoop.builder().name("bound-nest-loop").start()) {
            BlockingPortalProvider provider = new BlockingPortalProvider(loop);
            try (PortalLease outer = provider.lease(); PortalLease inner = provider.lease()) {
                assertThat(inner.portal()).isSameAs(outer.portal());
                assertThat(provider.statistics().activeLeases()).isEqualTo(2);
            }
            PortalLease once = provider.lease();
            once.close();
            assertThatThrownBy(once::close).isInstanceOf(IllegalStateException.class)
                    .hasMessage("this PortalLease was already released; release each lease exactly once "
                            + "(try-with-resources does)");
            provider.close();
        }
    }

    @Test
    void nullLoopIsRejected() {
        assertThatThrownBy(() -> new BlockingPortalProvider((EventLoop) null))
                .isInstanceOf(NullPointerException.class).hasMessage("loop must not be null");
    }
}
