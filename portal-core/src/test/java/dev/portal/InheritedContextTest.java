package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import dev.portal.internal.VirtualThreads;

/**
 * Threads Portal creates do not inherit their creator's {@link InheritableThreadLocal}s, whichever
 * thread happens to create them: the loop thread (created by the thread that starts the loop), a
 * worker started by the loop, one started by a worker, one started by a foreign thread that resized
 * a paused limiter, virtual workers, and the blocked-loop watchdog. A value seen there would
 * otherwise reach every task and job for the thread's life.
 */
class InheritedContextTest {

    private static final InheritableThreadLocal<String> INHERITED = new InheritableThreadLocal<>();
    private static final int ROUNDS = 10;

    private static String seen() {
        return String.valueOf(INHERITED.get());
    }

    @Test
    void theLoopThreadDoesNotInheritFromTheThreadThatStartsIt() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            INHERITED.set("starter's value");
            try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("itl-loop").daemon(true))) {
                assertThat(portal.<String>callSync(InheritedContextTest::seen)).isEqualTo("null");
            } finally {
                INHERITED.remove();
            }
        }
    }

    @Test
    void aWorkerStartedByTheLoopDoesNotInheritTheLoopThreadsValues() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("itl-from-loop").daemon(true))) {
                String onWorker = portal.call(() -> {
                    INHERITED.set("loop's value"); // on the loop thread, which starts the first worker
                    try {
                        return ToThread.runSync(InheritedContextTest::seen);
                    } finally {
                        INHERITED.remove();
                    }
                });

                assertThat(onWorker).isEqualTo("null");
                assertThat(portal.eventLoop().statistics().workers().created()).isEqualTo(1);
            }
        }
    }

    /**
     * A running call resizes a paused limiter on its worker: the call it grants needs a new worker,
     * which that worker starts.
     */
    @Test
    void aWorkerStartedByAWorkerDoesNotInheritThatWorkersValues() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            CapacityLimiter paused = new CapacityLimiter("paused", 0);
            try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("itl-from-worker").daemon(true))) {
                CompletableFuture<String> waiting = portal.startTaskSoon(
                        () -> ToThread.runSync(InheritedContextTest::seen, paused));
                await().atMost(Duration.ofSeconds(30)).until(() -> paused.tasksWaiting() == 1);
                AtomicReference<String> starter = new AtomicReference<>();

                portal.call(() -> ToThread.runSync(() -> {
                    INHERITED.set("worker's value");
                    starter.set(Thread.currentThread().getName());
                    paused.setTotalTokens(1); // on this worker: grants the waiting call, which needs a thread
                    INHERITED.remove();
                    return null;
                }));

                assertThat(waiting.get(30, TimeUnit.SECONDS)).isEqualTo("null");
                assertThat(portal.eventLoop().statistics().workers().created()).isEqualTo(2);
            }
        }
    }

    /**
     * A thread that is neither the loop's nor a worker resizes a paused limiter: it starts the
     * worker for the call it grants, and that worker later runs other calls too.
     */
    @Test
    void aWorkerStartedByAForeignThreadThatResizedALimiterDoesNotInheritItsValues() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            CapacityLimiter paused = new CapacityLimiter("paused", 0);
            try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("itl-foreign").daemon(true))) {
                CompletableFuture<String> waiting = portal.startTaskSoon(
                        () -> ToThread.runSync(InheritedContextTest::seen, paused));
                await().atMost(Duration.ofSeconds(30)).until(() -> paused.tasksWaiting() == 1);

                INHERITED.set("foreign thread's value");
                try {
                    paused.setTotalTokens(1);
                } finally {
                    INHERITED.remove();
                }

                assertThat(waiting.get(30, TimeUnit.SECONDS)).isEqualTo("null");
                assertThat(portal.<String>call(() -> ToThread.runSync(InheritedContextTest::seen, paused)))
                        .isEqualTo("null");
            }
        }
    }

    @Test
    void virtualWorkersDoNotInherit() throws Exception {
        Assumptions.assumeTrue(VirtualThreads.available(), "virtual threads need JDK 21+");
        for (int round = 0; round < ROUNDS; round++) {
            CapacityLimiter paused = new CapacityLimiter("paused", 0);
            try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("itl-virtual").daemon(true)
                    .virtualWorkers(true))) {
                String fromLoop = portal.call(() -> {
                    INHERITED.set("loop's value");
                    try {
                        return ToThread.runSync(InheritedContextTest::seen);
                    } finally {
                        INHERITED.remove();
                    }
                });
                CompletableFuture<String> waiting = portal.startTaskSoon(
                        () -> ToThread.runSync(InheritedContextTest::seen, paused));
                await().atMost(Duration.ofSeconds(30)).until(() -> paused.tasksWaiting() == 1);
                INHERITED.set("foreign thread's value");
                try {
                    paused.setTotalTokens(1);
                } finally {
                    INHERITED.remove();
                }

                assertThat(fromLoop).isEqualTo("null");
                assertThat(waiting.get(30, TimeUnit.SECONDS)).isEqualTo("null");
                assertThat(portal.eventLoop().statistics().workers().virtual()).isTrue();
            }
        }
    }

    @Test
    void theWatchdogThreadDoesNotInherit() throws Exception {
        INHERITED.set("starter's value");
        try {
            // The shared watchdog may already run for another loop: ask its factory for a thread.
            AtomicReference<String> seen = new AtomicReference<>();
            Thread watchdog = BlockedLoopDetector.watchdogThreads.newThread(() -> seen.set(seen()));
            watchdog.start();
            watchdog.join(TimeUnit.SECONDS.toMillis(30));

            assertThat(seen.get()).isEqualTo("null");
            assertThat(watchdog.getName()).isEqualTo("portal-loop-watchdog");
            assertThat(watchdog.isDaemon()).isTrue();
        } finally {
            INHERITED.remove();
        }
    }
}
