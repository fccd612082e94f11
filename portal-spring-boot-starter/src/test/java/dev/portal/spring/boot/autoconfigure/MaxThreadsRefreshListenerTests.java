package dev.portal.spring.boot.autoconfigure;

import java.util.Map;
import java.util.Set;

import dev.portal.CapacityLimiter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.cloud.context.environment.EnvironmentChangeEvent;
import org.springframework.context.ApplicationEvent;
import org.springframework.core.env.MapPropertySource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tests for {@link MaxThreadsRefreshListener}: a refreshed environment resizes the live limiter.
 */
@ExtendWith(OutputCaptureExtension.class)
class MaxThreadsRefreshListenerTests {

    private final ApplicationContextRunner contextRunner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(PortalAutoConfiguration.class))
        .withPropertyValues("portal.worker.max-threads=5");

    @Test
    void changedMaxThreadsResizesTheLiveLimiterOnAnEnvironmentChange() {
        this.contextRunner.run((context) -> {
            CapacityLimiter limiter = limiter(context);
            assertThat(limiter.totalTokens()).isEqualTo(5);
            refresh(context, Map.of("portal.worker.max-threads", "12"));
            assertThat(limiter.totalTokens()).isEqualTo(12);
            assertThat(context.getBean(dev.portal.EventLoop.class).defaultThreadLimiter()).isSameAs(limiter);
        });
    }

    @Test
    void removedMaxThreadsFallsBackToTheDefault() {
        this.contextRunner.run((context) -> {
            context.getEnvironment().getPropertySources().remove("test");
            refresh(context, Map.of());
            assertThat(limiter(context).totalTokens()).isEqualTo(40);
        });
    }

    @Test
    void negativeMaxThreadsIsLoggedAndIgnored(CapturedOutput output) {
        this.contextRunner.run((context) -> {
            refresh(context, Map.of("portal.worker.max-threads", "-3"));
            assertThat(limiter(context).totalTokens()).isEqualTo(5);
            assertThat(output).contains("portal.worker.max-threads must be >= 0 (was -3); the limiter keeps 5 tokens");
        });
    }

    @Test
    void otherEventsLeaveTheLimiterAlone() {
        this.contextRunner.run((context) -> {
            context.getEnvironment()
                .getPropertySources()
                .addFirst(new MapPropertySource("refreshed", Map.of("portal.worker.max-threads", "9")));
            context.publishEvent(new ApplicationEvent(this) {
            });
            assertThat(limiter(context).totalTokens()).isEqualTo(5);
        });
    }

    private static void refresh(AssertableApplicationContext context, Map<String, Object> changed) {
        context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("refreshed", changed));
        context.publishEvent(new EnvironmentChangeEvent(context, Set.copyOf(changed.keySet())));
    }

    private static CapacityLimiter limiter(AssertableApplicationContext context) {
        return context.getBean(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME, CapacityLimiter.class);
    }

}
