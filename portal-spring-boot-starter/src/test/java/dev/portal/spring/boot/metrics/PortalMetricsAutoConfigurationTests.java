package dev.portal.spring.boot.metrics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.portal.Async;
import dev.portal.BlockingPortal;
import dev.portal.CancelMode;
import dev.portal.CancelScope;
import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;
import dev.portal.FromThread;
import dev.portal.RunSyncOptions;
import dev.portal.ToThread;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.search.RequiredSearch;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.annotation.ImportCandidates;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Tests for {@link PortalMetricsAutoConfiguration}: every meter of {@link PortalMeters} asserted by
 * name, tags and value while real work runs on the application's loop.
 */
class PortalMetricsAutoConfigurationTests {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final ApplicationContextRunner contextRunner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(PortalAutoConfiguration.class, PortalMetricsAutoConfiguration.class))
        .withBean(SimpleMeterRegistry.class)
        .withPropertyValues("portal.worker.max-threads=2", "portal.worker.cancel-mode=interrupt");

    private static RequiredSearch meter(AssertableApplicationContext context, PortalMeters meter) {
        return context.getBean(MeterRegistry.class).get(meter.meterName());
    }

    @Test
    void autoConfigurationIsRegisteredInTheImportsFile() {
        assertThat(ImportCandidates.load(AutoConfiguration.class, getClass().getClassLoader()))
            .contains(PortalMetricsAutoConfiguration.class.getName());
    }

    @Test
    void withoutAMeterRegistryNoMetersAreBound() {
        new ApplicationContextRunner()
            .withConfiguration(AutoConfigurations.of(PortalAutoConfiguration.class, PortalMetricsAutoConfiguration.class))
            .run((context) -> {
                assertThat(context).hasNotFailed().doesNotHaveBean(PortalMetricsAutoConfiguration.class);
                assertThat(context).doesNotHaveBean(LoopLagProbes.class);
            });
    }

    @Test
    void limiterGaugesFollowCallsThatHoldAndWaitForTokens() {
        this.contextRunner.run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            assertThat(meter(context, PortalMeters.LIMITER_CAPACITY).tag("limiter", "default").gauge().value())
                .isEqualTo(2);
            CountDownLatch release = new CountDownLatch(1);
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                calls.add(portal.startTaskSoon(() -> ToThread.runSync(() -> {
                    release.await(10, TimeUnit.SECONDS);
                    return "done";
                })));
            }
            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(meter(context, PortalMeters.LIMITER_BORROWED).tag("limiter", "default").gauge().value())
                    .isEqualTo(2);
                assertThat(meter(context, PortalMeters.LIMITER_WAITING).tag("limiter", "default").gauge().value())
                    .isEqualTo(3);
                assertThat(meter(context, PortalMeters.LIMITER_AVAILABLE).tag("limiter", "default").gauge().value())
                    .isZero();
                assertThat(meter(context, PortalMeters.WORKERS_BUSY).tag("loop", "portal-loop").gauge().value())
                    .isEqualTo(2);
            });
            release.countDown();
            for (CompletableFuture<String> call : calls) {
                assertThat(call.get(10, TimeUnit.SECONDS)).isEqualTo("done");
            }
            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(meter(context, PortalMeters.LIMITER_BORROWED).tag("limiter", "default").gauge().value())
                    .isZero();
                Timer waited = meter(context, PortalMeters.LIMITER_TOKEN_WAIT).tags("limiter", "default", "loop",
                        "portal-loop").timer();
                assertThat(waited.count()).isEqualTo(5);
                assertThat(waited.max(TimeUnit.NANOSECONDS)).isPositive();
                Timer ran = meter(context, PortalMeters.OFFLOAD_DURATION)
                    .tags("limiter", "default", "outcome", "value", "cancel.mode", "interrupt").timer();
                assertThat(ran.count()).isEqualTo(5);
            });
            assertThat(meter(context, PortalMeters.WORKERS_LIVE).gauge().value()).isBetween(1.0, 2.0);
        });
    }

    @Test
    void everyLimiterBeanGetsTheSameGaugesTaggedWithItsName() {
        this.contextRunner.withUserConfiguration(JdbcLimiterConfiguration.class).run((context) -> {
            CapacityLimiter jdbc = context.getBean("jdbcLimiter", CapacityLimiter.class);
            assertThat(meter(context, PortalMeters.LIMITER_CAPACITY).tag("limiter", "jdbc").gauge().value())
                .isEqualTo(7);
            assertThat(meter(context, PortalMeters.LIMITER_CAPACITY).tag("limiter", "reportsLimiter").gauge().value())
                .as("an unnamed limiter bean is tagged with its bean name")
                .isEqualTo(3);
            jdbc.setTotalTokens(9);
            assertThat(meter(context, PortalMeters.LIMITER_CAPACITY).tag("limiter", "jdbc").gauge().value())
                .isEqualTo(9);
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            portal.call(() -> ToThread.runSync(() -> 1, RunSyncOptions.defaults().withLimiter(jdbc)));
            await().atMost(WAIT).untilAsserted(() -> assertThat(meter(context, PortalMeters.OFFLOAD_DURATION)
                .tags("limiter", "jdbc", "outcome", "value").timer().count()).isEqualTo(1));
        });
    }

    @Test
    void deadlinesAndPollingWorkersCountAsCancellationsAndInterruptedCallsAsSuch() {
        this.contextRunner.run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            // a deadline interrupts a sleeping worker (the default mode here is interrupt)
            CompletableFuture<Object> late = portal.startTaskSoon(() -> CancelScope.moveOnAfter(Duration.ofMillis(50),
                    () -> ToThread.runSync(() -> {
                        Thread.sleep(30_000);
                        return "slept";
                    })));
            assertThat(late.get(10, TimeUnit.SECONDS)).isNull();
            // a worker polling checkCancelled in a cancelled scope
            portal.call(() -> CancelScope.moveOnAfter(Duration.ofMillis(50), () -> ToThread.runSync(() -> {
                while (true) {
                    FromThread.checkCancelled();
                    Thread.onSpinWait();
                }
            }, CancelMode.SHIELD)));
            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(meter(context, PortalMeters.CANCELLATIONS).tags("loop", "portal-loop", "kind", "deadline")
                    .counters()).isNotEmpty();
                assertThat(meter(context, PortalMeters.CANCELLATIONS).tags("kind", "deadline").counters().stream()
                    .mapToDouble((c) -> c.count()).sum()).isEqualTo(2);
                assertThat(meter(context, PortalMeters.CANCELLATIONS).tags("kind", "check_cancelled")
                    .counter().count()).isEqualTo(1);
                assertThat(meter(context, PortalMeters.OFFLOAD_DURATION)
                    .tags("outcome", "interrupted", "cancel.mode", "interrupt").timer().count()).isEqualTo(1);
                assertThat(meter(context, PortalMeters.OFFLOAD_DURATION)
                    .tags("outcome", "shielded", "cancel.mode", "shield").timer().count()).isEqualTo(1);
            });
        });
    }

    @Test
    void portalCallsAreTimedByMethodAndOutcome() {
        this.contextRunner.run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            for (int i = 0; i < 3; i++) {
                int value = i;
                portal.call(() -> CompletableFuture.completedFuture(value));
            }
            portal.callSync(() -> "sync");
            try {
                portal.call(() -> CompletableFuture.failedFuture(new IllegalStateException("boom")));
            }
            catch (IllegalStateException expected) {
                // counted below
            }
            CompletableFuture<Object> cancelled = portal.startTaskSoon(() -> Async.await(new CompletableFuture<>()));
            cancelled.cancel(true);
            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(meter(context, PortalMeters.PORTAL_CALLS).tags("method", "call", "outcome", "success")
                    .timer().count()).isEqualTo(3);
                assertThat(meter(context, PortalMeters.PORTAL_CALLS).tags("method", "callSync", "outcome", "success")
                    .timer().count()).isEqualTo(1);
                assertThat(meter(context, PortalMeters.PORTAL_CALLS).tags("method", "call", "outcome", "failure")
                    .timer().count()).isEqualTo(1);
                assertThat(meter(context, PortalMeters.PORTAL_CALLS)
                    .tags("method", "startTaskSoon", "outcome", "cancelled").timer().count()).isEqualTo(1);
            });
        });
    }

    @Test
    void theLoopsLagIsSampledAndAStallIsCountedAndShownWhileItLasts() {
        this.contextRunner.withPropertyValues("portal.loop.blocked-threshold=100ms").run((context) -> {
            EventLoop loop = context.getBean(EventLoop.class);
            await().atMost(WAIT).untilAsserted(() -> assertThat(
                    meter(context, PortalMeters.LOOP_LAG).tag("loop", "portal-loop").timer().count()).isPositive());
            CountDownLatch stalled = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            loop.execute(() -> {
                stalled.countDown();
                try {
                    release.await(10, TimeUnit.SECONDS); // blocks the loop on purpose
                }
                catch (InterruptedException ex) {
                    Thread.currentThread().interrupt();
                }
            });
            assertThat(stalled.await(10, TimeUnit.SECONDS)).isTrue();
            await().atMost(WAIT).untilAsserted(() -> {
                assertThat(meter(context, PortalMeters.LOOP_BLOCKED_DURATION).gauge().value()).isGreaterThan(0.1);
                assertThat(meter(context, PortalMeters.LOOP_BLOCKED).tag("loop", "portal-loop").counter().count())
                    .isEqualTo(1);
            });
            release.countDown();
            await().atMost(WAIT).untilAsserted(() -> assertThat(
                    meter(context, PortalMeters.LOOP_BLOCKED_DURATION).gauge().value()).isZero());
            assertThat(meter(context, PortalMeters.LOOP_TASKS).gauge().value()).isGreaterThanOrEqualTo(1);
        });
    }

    @Test
    void theLagProbeStopsBeforeTheLoopSoItDoesNotHoldUpShutdown() {
        this.contextRunner.withPropertyValues("portal.shutdown.grace-period=30s").run((context) -> {
            EventLoop loop = context.getBean(EventLoop.class);
            await().atMost(WAIT).until(() -> loop.tasks().stream().anyMatch((t) -> "portal-lag-probe".equals(t.name())));
            long closing = System.nanoTime();
            context.close();
            assertThat(loop.isTerminated()).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - closing)).isLessThan(Duration.ofSeconds(10));
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class JdbcLimiterConfiguration {

        @Bean
        CapacityLimiter jdbcLimiter() {
            return new CapacityLimiter("jdbc", 7);
        }

        @Bean
        CapacityLimiter reportsLimiter() {
            return new CapacityLimiter(3);
        }

    }

}
