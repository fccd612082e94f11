package dev.portal.spring.boot.actuate.autoconfigure;

import dev.portal.spring.boot.actuate.PortalEndpoint;
import dev.portal.spring.boot.actuate.PortalHealthIndicator;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;
import org.junit.jupiter.api.Test;

import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import dev.portal.EventLoop;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tests for {@link PortalHealthContributorAutoConfiguration} and {@link PortalEndpointAutoConfiguration}.
 */
class PortalActuatorAutoConfigurationTests {

    private final ApplicationContextRunner contextRunner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(PortalAutoConfiguration.class,
                PortalHealthContributorAutoConfiguration.class, PortalEndpointAutoConfiguration.class));

    @Test
    void healthIndicatorIsContributedAsPortal() {
        this.contextRunner.run((context) -> assertThat(context).hasSingleBean(PortalHealthIndicator.class)
            .hasBean("portalHealthIndicator"));
    }

    @Test
    void healthIndicatorCanBeTurnedOff() {
        this.contextRunner.withPropertyValues("management.health.portal.enabled=false")
            .run((context) -> assertThat(context).doesNotHaveBean(PortalHealthIndicator.class));
    }

    @Test
    void healthIndicatorWhenUserDefinesOneBacksOff() {
        this.contextRunner.withUserConfiguration(UserHealthConfiguration.class)
            .run((context) -> assertThat(context).hasSingleBean(PortalHealthIndicator.class)
                .getBean("portalHealthIndicator")
                .isSameAs(context.getBean(UserHealthConfiguration.class).indicator));
    }

    @Test
    void healthIndicatorIsAbsentWithoutSpringBootHealth() {
        this.contextRunner.withClassLoader(new FilteredClassLoader(Health.class))
            .run((context) -> assertThat(context).hasNotFailed().doesNotHaveBean(PortalHealthIndicator.class));
    }

    @Test
    void endpointIsAbsentUntilExposed() {
        this.contextRunner.run((context) -> assertThat(context).doesNotHaveBean(PortalEndpoint.class));
    }

    @Test
    void endpointIsCreatedWhenExposedOverHttp() {
        this.contextRunner.withPropertyValues("management.endpoints.web.exposure.include=portal")
            .run((context) -> assertThat(context).hasSingleBean(PortalEndpoint.class));
    }

    @Test
    void endpointIsAbsentWhenItsAccessIsNone() {
        this.contextRunner
            .withPropertyValues("management.endpoints.web.exposure.include=portal",
                    "management.endpoint.portal.access=NONE")
            .run((context) -> assertThat(context).doesNotHaveBean(PortalEndpoint.class));
    }

    @Test
    void endpointIsAbsentWithoutActuator() {
        this.contextRunner.withClassLoader(new FilteredClassLoader(Endpoint.class))
            .withPropertyValues("management.endpoints.web.exposure.include=portal")
            .run((context) -> assertThat(context).hasNotFailed().doesNotHaveBean(PortalEndpoint.class));
    }

    @Test
    void endpointWhenUserDefinesOneBacksOff() {
        this.contextRunner.withPropertyValues("management.endpoints.web.exposure.include=portal")
            .withUserConfiguration(UserEndpointConfiguration.class)
            .run((context) -> assertThat(context).hasSingleBean(PortalEndpoint.class).hasBean("userEndpoint"));
    }

    @Configuration(proxyBeanMethods = false)
    static class UserHealthConfiguration {

        PortalHealthIndicator indicator;

        @Bean
        PortalHealthIndicator portalHealthIndicator(EventLoop loop) {
            this.indicator = new PortalHealthIndicator(loop);
            return this.indicator;
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserEndpointConfiguration {

        @Bean
        PortalEndpoint userEndpoint(EventLoop loop) {
            return new PortalEndpoint(loop, java.util.Map.of());
        }

    }

}
