package dev.portal.spring.boot.context;

import dev.portal.EventLoop;
import dev.portal.spring.boot.autoconfigure.EventLoopBuilderCustomizer;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;
import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} of what
 * ThreadLocal context the application's event loop carries from a caller's thread to the loop task,
 * on to the worker thread and back: a {@link ContextRegistry} with every accessor published on the
 * class path (Spring Security's {@code SecurityContext} and Micrometer's current {@code Observation},
 * so traces continue), SLF4J's MDC, and every {@link ThreadLocalAccessor} bean of the application. The
 * registry is the loop's own: nothing is registered in {@link ContextRegistry#getInstance()}. Define a
 * {@code ContextRegistry} bean named {@value #CONTEXT_REGISTRY_BEAN_NAME} to replace it.
 */
@AutoConfiguration(before = PortalAutoConfiguration.class)
@ConditionalOnClass({ EventLoop.class, ContextRegistry.class })
public final class PortalContextPropagationAutoConfiguration {

    /** Bean name of the registry the application's loop captures context with. */
    public static final String CONTEXT_REGISTRY_BEAN_NAME = "portalContextRegistry";

    @Bean(CONTEXT_REGISTRY_BEAN_NAME)
    @ConditionalOnMissingBean(name = CONTEXT_REGISTRY_BEAN_NAME)
    static ContextRegistry portalContextRegistry(ObjectProvider<ThreadLocalAccessor<?>> accessors) {
        return PortalContextRegistry.create(accessors.orderedStream().toList());
    }

    /** Hands the registry to the loop's builder, first, so that an application's customizer may still replace it. */
    @Bean
    @Order(Ordered.HIGHEST_PRECEDENCE)
    static EventLoopBuilderCustomizer portalContextPropagationCustomizer(
            @Qualifier(CONTEXT_REGISTRY_BEAN_NAME) ContextRegistry registry) {
        return (builder) -> builder.contextRegistry(registry);
    }

}
