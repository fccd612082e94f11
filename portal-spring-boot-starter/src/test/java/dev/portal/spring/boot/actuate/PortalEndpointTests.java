package dev.portal.spring.boot.actuate;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.portal.BlockingPortal;
import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;
import dev.portal.ToThread;
import dev.portal.spring.boot.actuate.PortalEndpoint.PortalDescriptor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import org.springframework.boot.actuate.endpoint.InvalidEndpointRequestException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.awaitility.Awaitility.await;

/**
 * Tests for {@link PortalEndpoint}.
 */
class PortalEndpointTests {

    private final CapacityLimiter defaultLimiter = new CapacityLimiter("default", 4);

    private final CapacityLimiter reports = new CapacityLimiter("reports", 2);

    private final EventLoop loop = EventLoop.builder().name("endpoint-loop").defaultThreadLimiter(this.defaultLimiter).start();

    private final PortalEndpoint endpoint = new PortalEndpoint(this.loop,
            Map.of("portalThreadLimiter", this.defaultLimiter, "reportsLimiter", this.reports));

    @AfterEach
    void closeLoop() {
        this.loop.close();
    }

    @Test
    void portalShowsTheLoopAndEveryLimiterByName() {
        PortalDescriptor portal = this.endpoint.portal();
        assertThat(portal.loop().name()).isEqualTo("endpoint-loop");
        assertThat(portal.loop().state()).isEqualTo("running");
        assertThat(portal.limiters()).containsOnlyKeys("default", "reports");
        assertThat(portal.limiters().get("default").totalTokens()).isEqualTo(4);
        assertThat(portal.limiters().get("reports").totalTokens()).isEqualTo(2);
    }

    @Test
    void portalShowsRunningTasksWithNamesAndAgesAndBorrowedTokens() throws Exception {
        try (BlockingPortal portal = BlockingPortal.openOn(this.loop)) {
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<String> task = portal.startTaskSoon("report-42", () -> ToThread.runSync(() -> {
                started.countDown();
                release.await(30, TimeUnit.SECONDS);
                return "done";
            }));
            try {
                assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
                PortalDescriptor descriptor = this.endpoint.portal();
                assertThat(descriptor.tasks()).anySatisfy((t) -> {
                    assertThat(t.name()).isEqualTo("report-42");
                    assertThat(Duration.parse(t.age()).isNegative()).isFalse();
                });
                assertThat(descriptor.limiters().get("default").borrowedTokens()).isEqualTo(1);
                assertThat(descriptor.loop().workers().busy()).isEqualTo(1);
            }
            finally {
                release.countDown();
            }
            assertThat(task.get(10, TimeUnit.SECONDS)).isEqualTo("done");
        }
    }

    @Test
    void limiterIsFoundByItsNameOrItsBeanName() {
        assertThat(this.endpoint.limiter("reports")).isNotNull();
        assertThat(this.endpoint.limiter("reportsLimiter")).isEqualTo(this.endpoint.limiter("reports"));
        assertThat(this.endpoint.limiter("missing")).isNull();
    }

    @Test
    void resizeLimiterChangesItsTotalLive() throws Exception {
        this.reports.setTotalTokens(0);
        CompletableFuture<String> waiting;
        try (BlockingPortal portal = BlockingPortal.openOn(this.loop)) {
            waiting = portal.startTaskSoon(() -> ToThread.runSync(() -> "ran", this.reports));
            await().atMost(Duration.ofSeconds(10)).until(() -> this.reports.statistics().tasksWaiting() == 1);
            assertThat(this.endpoint.resizeLimiter("reports", 3).totalTokens()).isEqualTo(3);
            assertThat(waiting.get(10, TimeUnit.SECONDS)).isEqualTo("ran");
        }
        assertThat(this.reports.totalTokens()).isEqualTo(3);
    }

    @Test
    void resizeLimiterRejectsANegativeTotal() {
        assertThatExceptionOfType(InvalidEndpointRequestException.class)
            .isThrownBy(() -> this.endpoint.resizeLimiter("default", -1))
            .withMessage("totalTokens must be >= 0 (was -1)");
        assertThat(this.defaultLimiter.totalTokens()).isEqualTo(4);
    }

    @Test
    void resizeLimiterRejectsAnUnknownLimiter() {
        assertThatExceptionOfType(InvalidEndpointRequestException.class)
            .isThrownBy(() -> this.endpoint.resizeLimiter("nope", 3))
            .withMessage("No limiter named 'nope'; limiters: [default, reports]");
    }

    @Test
    void unnamedLimiterIsShownUnderItsBeanName() {
        PortalEndpoint endpoint = new PortalEndpoint(this.loop, Map.of("legacyLimiter", new CapacityLimiter(7)));
        assertThat(endpoint.portal().limiters()).containsOnlyKeys("default", "legacyLimiter");
        assertThat(endpoint.limiter("legacyLimiter").totalTokens()).isEqualTo(7);
    }

    @Test
    void loopsDefaultLimiterIsShownEvenWhenItIsNotABean() {
        PortalEndpoint withoutBeans = new PortalEndpoint(this.loop, Map.of());
        assertThat(withoutBeans.portal().limiters()).containsOnlyKeys("default");
    }

}
