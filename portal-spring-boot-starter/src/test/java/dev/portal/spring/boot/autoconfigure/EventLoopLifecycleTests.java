package dev.portal.spring.boot.autoconfigure;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import dev.portal.BlockingPortal;
import dev.portal.ToThread;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.web.server.context.WebServerApplicationContext;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatException;
import static org.awaitility.Awaitility.await;

/**
 * Tests for {@link EventLoopLifecycle}: the loop stops with the context, after the web server, and
 * lets in-flight portal calls finish within the grace period; no Portal thread outlives the context.
 */
class EventLoopLifecycleTests {

    private final ApplicationContextRunner contextRunner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(PortalAutoConfiguration.class));

    @Test
    void phaseIsBelowTheWebServersSoTheLoopStopsAfterTheServerHasDrained() {
        assertThat(EventLoopLifecycle.PHASE).isLessThan(WebServerApplicationContext.START_STOP_LIFECYCLE_PHASE)
            .isLessThan(WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE);
    }

    @RepeatedTest(5)
    void inFlightPortalCallFinishesWithinTheGracePeriodWhenTheContextCloses(RepetitionInfo repetition) {
        String loopName = "lifecycle-in-flight-" + repetition.getCurrentRepetition();
        this.contextRunner.withPropertyValues("portal.loop.thread-name=" + loopName, "portal.shutdown.grace-period=20s")
            .run((context) -> {
                BlockingPortal portal = context.getBean(BlockingPortal.class);
                CountDownLatch started = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                ExecutorService caller = Executors.newSingleThreadExecutor();
                try {
                    Future<String> call = caller.submit(() -> portal.call(() -> ToThread.runSync(() -> {
                        started.countDown();
                        release.await();
                        return "finished";
                    })));
                    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
                    CompletableFuture<Void> closed = CompletableFuture.runAsync(context::close, closerThread());
                    // The context waits for the call: the portal refuses new calls, the call runs on.
                    await().atMost(Duration.ofSeconds(10)).until(() -> !portal.isRunning());
                    assertThat(closed).isNotDone();
                    assertThat(call).isNotDone();
                    release.countDown();
                    assertThat(call.get(10, TimeUnit.SECONDS)).isEqualTo("finished");
                    closed.get(20, TimeUnit.SECONDS);
                }
                finally {
                    release.countDown();
                    caller.shutdown();
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> portalThreads(loopName).isEmpty());
            });
    }

    @RepeatedTest(3)
    void callStillRunningAfterTheGracePeriodIsInterruptedAndNoThreadRemains(RepetitionInfo repetition) throws Exception {
        String loopName = "lifecycle-interrupt-" + repetition.getCurrentRepetition();
        this.contextRunner
            .withPropertyValues("portal.loop.thread-name=" + loopName, "portal.shutdown.grace-period=200ms",
                    "portal.shutdown.after-grace=interrupt")
            .run((context) -> {
                BlockingPortal portal = context.getBean(BlockingPortal.class);
                CountDownLatch started = new CountDownLatch(1);
                CountDownLatch interrupted = new CountDownLatch(1);
                CountDownLatch never = new CountDownLatch(1);
                ExecutorService caller = Executors.newSingleThreadExecutor();
                try {
                    Future<String> call = caller.submit(() -> portal.call(() -> ToThread.runSync(() -> {
                        started.countDown();
                        try {
                            never.await(60, TimeUnit.SECONDS);
                            return "not interrupted";
                        }
                        catch (InterruptedException ex) {
                            interrupted.countDown();
                            throw ex;
                        }
                    })));
                    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
                    long closing = System.nanoTime();
                    context.close();
                    assertThat(Duration.ofNanos(System.nanoTime() - closing)).isLessThan(Duration.ofSeconds(20));
                    assertThat(interrupted.await(10, TimeUnit.SECONDS)).isTrue();
                    assertThatException().isThrownBy(() -> call.get(10, TimeUnit.SECONDS));
                    await().atMost(Duration.ofSeconds(10)).until(() -> portalThreads(loopName).isEmpty());
                }
                finally {
                    never.countDown();
                    caller.shutdownNow();
                }
            });
    }

    @Test
    void callIgnoringInterruptsIsAbandonedAfterTheGracePeriodAndItsWorkerExitsWhenItReturns() throws Exception {
        String loopName = "lifecycle-abandon";
        this.contextRunner
            .withPropertyValues("portal.loop.thread-name=" + loopName, "portal.shutdown.grace-period=100ms",
                    "portal.shutdown.after-grace=abandon")
            .run((context) -> {
                BlockingPortal portal = context.getBean(BlockingPortal.class);
                CountDownLatch started = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                ExecutorService caller = Executors.newSingleThreadExecutor();
                try {
                    Future<String> call = caller.submit(() -> portal.call(() -> ToThread.runSync(() -> {
                        started.countDown();
                        release.await(60, TimeUnit.SECONDS);
                        return "late";
                    })));
                    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
                    context.close();
                    assertThatException().isThrownBy(() -> call.get(10, TimeUnit.SECONDS));
                    // Only the abandoned worker is left, and only until its function returns.
                    assertThat(portalThreads(loopName)).singleElement().asString().startsWith(loopName + "-worker-");
                    release.countDown();
                    await().atMost(Duration.ofSeconds(10)).until(() -> portalThreads(loopName).isEmpty());
                }
                finally {
                    release.countDown();
                    caller.shutdownNow();
                }
            });
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void stopThatCancelsWorkLogsTheShutdownReportAsAWarning(CapturedOutput output) {
        String loopName = "lifecycle-report";
        this.contextRunner
            .withPropertyValues("portal.loop.thread-name=" + loopName, "portal.shutdown.grace-period=0s",
                    "portal.shutdown.after-grace=interrupt")
            .run((context) -> {
                BlockingPortal portal = context.getBean(BlockingPortal.class);
                CountDownLatch started = new CountDownLatch(1);
                CompletableFuture<Object> call = portal.startTaskSoon("stuck-report", () -> ToThread.runSync(() -> {
                    started.countDown();
                    new CountDownLatch(1).await(60, TimeUnit.SECONDS);
                    return "not interrupted";
                }));
                assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
                context.close();
                assertThat(call).isCompletedExceptionally();
                assertThat(output).contains("WARN").contains("ShutdownReport[" + loopName).contains("stuck-report");
            });
    }

    @Test
    void contextCloseLeavesNoLoopOrWorkerThread() {
        String loopName = "lifecycle-no-threads";
        this.contextRunner.withPropertyValues("portal.loop.thread-name=" + loopName).run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            for (int i = 0; i < 8; i++) {
                portal.call(() -> ToThread.runSync(() -> Thread.currentThread().getName()));
            }
            assertThat(portalThreads(loopName)).isNotEmpty();
            context.close();
            await().atMost(Duration.ofSeconds(10)).until(() -> portalThreads(loopName).isEmpty());
        });
    }

    private static Executor closerThread() {
        return (task) -> new Thread(task, "context-closer").start();
    }

    static List<String> portalThreads(String loopName) {
        return Thread.getAllStackTraces()
            .keySet()
            .stream()
            .filter(Thread::isAlive)
            .map(Thread::getName)
            .filter((name) -> name.startsWith(loopName))
            .toList();
    }

}
