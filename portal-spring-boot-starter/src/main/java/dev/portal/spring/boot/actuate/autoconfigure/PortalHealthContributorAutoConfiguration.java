package dev.portal.spring.boot.actuate.autoconfigure;

import dev.portal.EventLoop;
import dev.portal.spring.boot.actuate.PortalHealthIndicator;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.context.annotation.Bean;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} of
 * {@link PortalHealthIndicator}, contributed as {@code portal}; off with
 * {@code management.health.portal.enabled=false}.
 */
@AutoConfiguration(after = PortalAutoConfiguration.class, before = HealthContributorAutoConfiguration.class)
@ConditionalOnClass(Health.class)
@ConditionalOnBean(EventLoop.class)
@ConditionalOnEnabledHealthIndicator("portal")
public final class PortalHealthContributorAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "portalHealthIndicator")
    PortalHealthIndicator portalHealthIndicator(EventLoop eventLoop) {
        return new PortalHealthIndicator(eventLoop);
    }

}
