package dev.portal.spring.boot.actuate.autoconfigure;

import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;
import dev.portal.spring.boot.actuate.PortalEndpoint;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;

import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} of the
 * {@link PortalEndpoint}, created only when the endpoint is available (accessible and exposed), as
 * for Spring Boot's own endpoints.
 */
@AutoConfiguration(after = PortalAutoConfiguration.class)
@ConditionalOnClass({ Endpoint.class, ConditionalOnAvailableEndpoint.class })
@ConditionalOnBean(EventLoop.class)
@ConditionalOnAvailableEndpoint(PortalEndpoint.class)
public final class PortalEndpointAutoConfiguration {

    @Bean
    @ConditionalOnMissingBean
    PortalEndpoint portalEndpoint(EventLoop eventLoop, ListableBeanFactory beanFactory) {
        return new PortalEndpoint(eventLoop, beanFactory.getBeansOfType(CapacityLimiter.class));
    }

}
