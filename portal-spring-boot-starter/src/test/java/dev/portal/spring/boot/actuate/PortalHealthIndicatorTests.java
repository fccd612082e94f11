package dev.portal.spring.boot.actuate;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.portal.EventLoop;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.awaitility.Awaitility.await;

/**
 * Tests for {@link PortalHealthIndicator}.
 */
class PortalHealthIndicatorTests {

    private final EventLoop loop = EventLoop.builder()
        .name("health-loop")
        .blockedLoopThreshold(Duration.ofMillis(100))
        .start();

    @AfterEach
    void closeLoop() {
        this.loop.close();
    }

    @Test
    void upWithDetailsWhileTheLoopRuns() {
        Health health = new PortalHealthIndicator(this.loop).health();
        assertThat(health.getStatus()).isEqualTo(Status.UP);
        assertThat(health.getDetails()).containsEntry("loop", "health-loop")
            .containsEntry("state", "running")
            .containsEntry("limiter", "0/40 borrowed, 0 waiting")
            .containsKeys("tasks", "workers", "busyWorkers")
            .doesNotContainKey("blockedFor");
    }

    @RepeatedTest(3)
    void downWhileACallbackBlocksTheLoopBeyondTheThresholdThenUpAgain() throws InterruptedException {
        PortalHealthIndicator indicator = new PortalHealthIndicator(this.loop);
        CountDownLatch release = blockLoop(this.loop);
        try {
            await().atMost(Duration.ofSeconds(10)).until(() -> indicator.health().getStatus().equals(Status.DOWN));
            Health health = indicator.health();
            assertThat(health.getDetails()).containsEntry("state", "running");
            assertThat(Duration.parse((String) health.getDetails().get("blockedFor")))
                .isGreaterThanOrEqualTo(Duration.ofMillis(100));
        }
        finally {
            release.countDown();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> indicator.health().getStatus().equals(Status.UP));
    }

    @Test
    void blockedLoopWithTheDetectorOffIsReportedByItsStateOnly() throws InterruptedException {
        EventLoop unwatched = EventLoop.builder().name("unwatched-loop").blockedLoopThreshold(Duration.ZERO).start();
        CountDownLatch release = blockLoop(unwatched);
        try {
            // Blocked for well over what the watched loop reports within: still UP without a detector.
            long until = System.nanoTime() + Duration.ofMillis(300).toNanos();
            while (System.nanoTime() < until) {
                assertThat(new PortalHealthIndicator(unwatched).health().getStatus()).isEqualTo(Status.UP);
                Thread.onSpinWait();
            }
        }
        finally {
            release.countDown();
            unwatched.close();
        }
    }

    @Test
    void downOnceTheLoopHasStopped() {
        this.loop.close();
        Health health = new PortalHealthIndicator(this.loop).health();
        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
        assertThat(health.getDetails()).containsEntry("state", "terminated");
    }

    @Test
    void nullLoopIsRejected() {
        assertThatNullPointerException().isThrownBy(() -> new PortalHealthIndicator(null))
            .withMessage("eventLoop must not be null");
    }

    /** Blocks the loop thread in one callback until the returned latch is released. */
    private static CountDownLatch blockLoop(EventLoop loop) throws InterruptedException {
        CountDownLatch blocking = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        loop.execute(() -> {
            blocking.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            }
            catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(blocking.await(10, TimeUnit.SECONDS)).isTrue();
        return release;
    }

}
