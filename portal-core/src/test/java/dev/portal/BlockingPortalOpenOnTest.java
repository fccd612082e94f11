package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * {@link BlockingPortal#openOn(EventLoop)}: a long-lived portal on a loop that already runs, which
 * stops without stopping the loop and stops when the loop does.
 */
class BlockingPortalOpenOnTest {

    @Test
    void aPortalOpenedOnARunningLoopRunsCallsOnItAndClosingItLeavesTheLoopRunning() throws Exception {
        try (EventLoop loop = EventLoop.builder().name("open-on-loop").start()) {
            CompletableFuture<Thread> onLoop = new CompletableFuture<>();
            loop.execute(() -> onLoop.complete(Thread.currentThread()));
            Thread loopThread = onLoop.get(10, TimeUnit.SECONDS);
            assertThat(loopThread.getName()).isEqualTo("open-on-loop");
            BlockingPortal portal = BlockingPortal.openOn(loop);
            assertThat(portal.eventLoop()).isSameAs(loop);
            assertThat(portal.isRunning()).isTrue();
            assertThat(portal.callSync(Thread::currentThread)).isSameAs(loopThread);
            assertThat(portal.call(() -> ToThread.runSync(() -> "offloaded"))).isEqualTo("offloaded");

            portal.close();
            assertThat(portal.isRunning()).isFalse();
            assertThat(loop.isShutdown()).isFalse();
            assertThat(loopThread.isAlive()).isTrue();
            assertThatThrownBy(() -> portal.call(() -> CompletableFuture.completedFuture(1)))
                    .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("This portal is not running");
            // the loop still takes work, and another portal
            try (BlockingPortal next = BlockingPortal.openOn(loop)) {
                assertThat(next.callSync(() -> "again")).isEqualTo("again");
            }
        }
    }

    @Test
    void stopWithCancelRemainingCancelsThePortalsTasksOnlyNotThoseOfOtherPortals() throws Exception {
        try (EventLoop loop = EventLoop.builder().name("open-on-two-loop").start();
                BlockingPortal kept = BlockingPortal.openOn(loop)) {
            BlockingPortal stopped = BlockingPortal.openOn(loop);
            CountDownLatch bothStarted = new CountDownLatch(2);
            CompletableFuture<Object> cancelled = stopped.startTaskSoon(() -> {
                bothStarted.countDown();
                return Async.await(new CompletableFuture<>());
            });
            Event release = kept.callSync(Event::new);
            CompletableFuture<String> survives = kept.startTaskSoon(() -> {
                bothStarted.countDown();
                return release.await().thenApply(v -> "survived");
            });
            assertThat(bothStarted.await(10, TimeUnit.SECONDS)).isTrue();

            stopped.stop(true).get(10, TimeUnit.SECONDS);
            assertThat(cancelled).isCancelled();
            assertThat(survives).isNotDone();
            kept.callSync(release::set);
            assertThat(survives.get(10, TimeUnit.SECONDS)).isEqualTo("survived");
            assertThat(loop.isShutdown()).isFalse();
        }
    }

    @Test
    void stoppingTheLoopStopsItsPortalsAndCancelsTheirTasks() throws Exception {
        EventLoop loop = EventLoop.builder().name("open-on-stop-loop").start();
        BlockingPortal portal = BlockingPortal.openOn(loop);
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<Object> task = portal.startTaskSoon(() -> {
            started.countDown();
            return Async.sleep(java.time.Duration.ofMinutes(5)).thenApply(v -> "slept");
        });
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        loop.close();
        assertThat(loop.isTerminated()).isTrue();
        assertThat(task).isCancelled();
        assertThatThrownBy(task::join).isInstanceOf(CancellationException.class);
        assertThat(portal.isRunning()).isFalse();
        assertThatThrownBy(() -> portal.callSync(() -> 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("This portal is not running");
        portal.close(); // stopped already: returns at once
    }

    @Test
    void aStoppedLoopIsRefusedWithItsNameAndState() {
        EventLoop loop = EventLoop.builder().name("open-on-dead-loop").start();
        loop.close();
        assertThatThrownBy(() -> BlockingPortal.openOn(loop)).isInstanceOf(IllegalStateException.class)
                .hasMessage("BlockingPortal.openOn needs a running event loop, but open-on-dead-loop is stopped; "
                        + "open portals on a loop before it shuts down");
        assertThatThrownBy(() -> BlockingPortal.openOn(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("loop must not be null");
    }

    @Test
    void theLoopsOwnThreadMayOpenAPortalForOtherThreads() throws Exception {
        String answer = EventLoop.run(() -> {
            BlockingPortal portal = BlockingPortal.openOn(EventLoop.current());
            CompletableFuture<String> fromOutside = CompletableFuture.supplyAsync(() -> {
                try {
                    return portal.call(() -> ToThread.runSync(() -> "from " + Thread.currentThread().getName()
                            .startsWith("portal-loop")));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            return Async.await(fromOutside).thenCompose(v -> {
                portal.stop(false);
                return CompletableFuture.completedFuture(v);
            });
        });
        assertThat(answer).isEqualTo("from true");
    }

    /** Opening races the loop's stop: it returns a portal (stopped with the loop) or refuses; it never hangs. */
    @RepeatedTest(30)
    void openingWhileTheLoopStopsEitherOpensOrRefusesAndNeverHangs() throws Exception {
        EventLoop loop = EventLoop.builder().name("open-on-race-loop").start();
        List<CompletableFuture<BlockingPortal>> opens = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            opens.add(CompletableFuture.supplyAsync(() -> BlockingPortal.openOn(loop)));
        }
        loop.shutdown();
        assertThat(loop.awaitTermination(java.time.Duration.ofSeconds(10))).isTrue();
        for (CompletableFuture<BlockingPortal> open : opens) {
            try {
                BlockingPortal portal = open.get(10, TimeUnit.SECONDS);
                assertThat(portal.isRunning()).isFalse();
                portal.close();
            } catch (java.util.concurrent.ExecutionException refused) {
                assertThat(refused.getCause()).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("open-on-race-loop");
            }
        }
    }
}
