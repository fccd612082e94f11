package dev.portal.spring.boot.metrics.autoconfigure;

import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;
import dev.portal.spring.boot.metrics.PortalMetrics;
import io.micrometer.core.instrument.MeterRegistry;

import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} of
 * {@link PortalMetrics} for the application's loop and every {@link CapacityLimiter} bean, bound to
 * each {@link MeterRegistry} by Spring Boot; ordered after Spring Boot's metrics auto-configuration.
 */
@AutoConfiguration(after = PortalAutoConfiguration.class,
        afterName = { "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
                "org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration" })
@ConditionalOnClass(MeterRegistry.class)
@ConditionalOnBean({ EventLoop.class, MeterRegistry.class })
public final class PortalMetricsAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    PortalMetrics portalMetrics(EventLoop eventLoop, ListableBeanFactory beanFactory) {
        return new PortalMetrics(eventLoop, beanFactory.getBeansOfType(CapacityLimiter.class));
    }

}
