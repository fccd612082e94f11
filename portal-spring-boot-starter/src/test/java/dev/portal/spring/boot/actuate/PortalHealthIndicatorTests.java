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
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.awaitility.Awaitility.await;

/**
 * Tests for {@link PortalHealthIndicator}.
 */
class PortalHealthIndicatorTests {

    private final EventLoop loop = EventLoop.builder().name("health-loop").start();

    @AfterEach
    void closeLoop() {
        this.loop.close();
    }

    @Test
    void upWithDetailsWhileTheLoopRuns() {
        Health health = new PortalHealthIndicator(this.loop, Duration.ofSeconds(2)).health();
        assertThat(health.getStatus()).isEqualTo(Status.UP);
        assertThat(health.getDetails()).containsEntry("loop", "health-loop")
            .containsEntry("state", "running")
            .containsEntry("limiter", "0/40 borrowed, 0 waiting")
            .containsKeys("tasks", "workers", "busyWorkers", "lag");
    }

    @RepeatedTest(3)
    void downWhileACallbackBlocksTheLoopBeyondTheThresholdThenUpAgain() throws InterruptedException {
        PortalHealthIndicator indicator = new PortalHealthIndicator(this.loop, Duration.ofMillis(100));
        CountDownLatch blocking = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        this.loop.execute(() -> {
            blocking.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            }
            catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            assertThat(blocking.await(10, TimeUnit.SECONDS)).isTrue();
            Health health = indicator.health();
            assertThat(health.getStatus()).isEqualTo(Status.DOWN);
            assertThat(health.getDetails()).containsEntry("state", "running")
                .containsEntry("blocked", "no callback ran for PT0.1S");
        }
        finally {
            release.countDown();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> indicator.health().getStatus().equals(Status.UP));
    }

    @Test
    void downOnceTheLoopHasStopped() {
        this.loop.close();
        Health health = new PortalHealthIndicator(this.loop, Duration.ofSeconds(2)).health();
        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
        assertThat(health.getDetails()).containsEntry("state", "terminated");
    }

    @Test
    void zeroThresholdReportsOnlyTheState() {
        Health health = new PortalHealthIndicator(this.loop, Duration.ZERO).health();
        assertThat(health.getStatus()).isEqualTo(Status.UP);
        assertThat(health.getDetails()).doesNotContainKeys("lag", "blocked");
    }

    @Test
    void negativeThresholdIsRejected() {
        assertThatIllegalArgumentException().isThrownBy(() -> new PortalHealthIndicator(this.loop, Duration.ofMillis(-1)))
            .withMessage("blockedThreshold must be >= 0 (was PT-0.001S)");
    }

}
