package dev.portal.spring.boot.metrics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.portal.BlockingPortal;
import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;
import dev.portal.ToThread;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;
import dev.portal.spring.boot.metrics.autoconfigure.PortalMetricsAutoConfiguration;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.search.RequiredSearch;
import org.junit.jupiter.api.Test;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@link PortalMetrics} through {@link PortalMetricsAutoConfiguration}: every meter of
 * {@link PortalMeters}, by name, tag and value, while real blocking calls run and queue.
 */
class PortalMetricsTests {

    private final ApplicationContextRunner contextRunner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(PortalAutoConfiguration.class, PortalMetricsAutoConfiguration.class,
                MetricsAutoConfiguration.class, SimpleMetricsExportAutoConfiguration.class))
        .withPropertyValues("portal.loop.thread-name=metered-loop", "portal.worker.max-threads=2");

    @Test
    void limiterWorkerAndLoopMetersFollowRealWork() {
        this.contextRunner.run((context) -> {
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            CountDownLatch release = new CountDownLatch(1);
            List<CompletableFuture<String>> calls = new ArrayList<>();
            try {
                for (int i = 0; i < 5; i++) {
                    calls.add(portal.startTaskSoon(() -> ToThread.runSync(() -> {
                        release.await(30, TimeUnit.SECONDS);
                        return "done";
                    })));
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> gauge(registry, "portal.limiter.tasks.waiting", "limiter", "default") == 3);
                assertThat(gauge(registry, "portal.limiter.tokens.total", "limiter", "default")).isEqualTo(2);
                assertThat(gauge(registry, "portal.limiter.tokens.borrowed", "limiter", "default")).isEqualTo(2);
                assertThat(gauge(registry, "portal.limiter.tokens.available", "limiter", "default")).isZero();
                assertThat(gauge(registry, "portal.workers.busy", "loop", "metered-loop")).isEqualTo(2);
                assertThat(gauge(registry, "portal.workers.live", "loop", "metered-loop")).isEqualTo(2);
                assertThat(gauge(registry, "portal.loop.tasks", "loop", "metered-loop")).isGreaterThanOrEqualTo(5);
            }
            finally {
                release.countDown();
            }
            for (CompletableFuture<String> call : calls) {
                assertThat(call.get(10, TimeUnit.SECONDS)).isEqualTo("done");
            }
            FunctionTimer wait = find(registry, "portal.limiter.wait", "limiter", "default").functionTimer();
            assertThat(wait.count()).isEqualTo(3);
            assertThat(wait.totalTime(TimeUnit.NANOSECONDS)).isPositive();
            assertThat(gauge(registry, "portal.limiter.tokens.borrowed", "limiter", "default")).isZero();
            assertThat(find(registry, "portal.loop.blocked", "loop", "metered-loop").functionCounter().count()).isZero();
        });
    }

    @Test
    void everyLimiterBeanGetsTheSameMetersTaggedWithItsName() {
        this.contextRunner.withUserConfiguration(ReportsLimiterConfiguration.class).run((context) -> {
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            CapacityLimiter reports = context.getBean("reportsLimiter", CapacityLimiter.class);
            reports.setTotalTokens(9);
            for (PortalMeters meter : PortalMeters.values()) {
                if (meter.tag().equals("limiter")) {
                    assertThat(registry.find(meter.meterName()).tag("limiter", "reports").meters()).hasSize(1);
                    assertThat(registry.find(meter.meterName()).tag("limiter", "default").meters()).hasSize(1);
                }
            }
            assertThat(gauge(registry, "portal.limiter.tokens.total", "limiter", "reports")).isEqualTo(9);
        });
    }

    @Test
    void everyMeterIsRegisteredWithItsTypeAndUnit() {
        this.contextRunner.run((context) -> {
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            String[] tagValues = { "default", "metered-loop" };
            for (PortalMeters meter : PortalMeters.values()) {
                String tagValue = meter.tag().equals("limiter") ? tagValues[0] : tagValues[1];
                var found = find(registry, meter.meterName(), meter.tag(), tagValue).meter();
                assertThat(found.getId().getType()).as(meter.meterName()).isEqualTo(meter.type());
                if (meter.type() != io.micrometer.core.instrument.Meter.Type.TIMER) {
                    assertThat(found.getId().getBaseUnit()).as(meter.meterName()).isEqualTo(meter.baseUnit());
                }
            }
        });
    }

    @Test
    void metersAreAbsentWithoutMicrometer() {
        this.contextRunner.withClassLoader(new FilteredClassLoader(MeterRegistry.class))
            .run((context) -> assertThat(context).hasNotFailed().doesNotHaveBean(PortalMetrics.class));
    }

    @Test
    void metersWhenUserDefinesTheBinderBackOff() {
        this.contextRunner.withUserConfiguration(UserMetricsConfiguration.class)
            .run((context) -> assertThat(context).hasSingleBean(PortalMetrics.class).hasBean("userMetrics"));
    }

    private static double gauge(MeterRegistry registry, String name, String tag, String value) {
        return find(registry, name, tag, value).gauge().value();
    }

    private static RequiredSearch find(MeterRegistry registry, String name, String tag, String value) {
        return registry.get(name).tag(tag, value);
    }

    @Configuration(proxyBeanMethods = false)
    static class ReportsLimiterConfiguration {

        @Bean
        CapacityLimiter reportsLimiter() {
            return new CapacityLimiter("reports", 2);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserMetricsConfiguration {

        @Bean
        PortalMetrics userMetrics(EventLoop loop) {
            return new PortalMetrics(loop, java.util.Map.of());
        }

    }

}
