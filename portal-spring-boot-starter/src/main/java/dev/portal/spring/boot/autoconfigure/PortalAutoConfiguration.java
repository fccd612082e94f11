package dev.portal.spring.boot.autoconfigure;

import dev.portal.BlockingPortal;
import dev.portal.EventLoop;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Import;

/**
 * {@link org.springframework.boot.autoconfigure.EnableAutoConfiguration Auto-configuration} for
 * Portal: the application's managed {@link EventLoop} (one per application, started with the
 * context and stopped after the web server's graceful shutdown), its default
 * {@link dev.portal.CapacityLimiter}, a {@link BlockingPortal} on that loop and a shared
 * {@link dev.portal.BlockingPortalProvider} bound to it. Every bean backs off when the application
 * defines its own.
 */
@AutoConfiguration
@ConditionalOnClass({ EventLoop.class, BlockingPortal.class })
@EnableConfigurationProperties(PortalProperties.class)
@Import({ PortalConfigurations.ThreadLimiterConfiguration.class, PortalConfigurations.EventLoopConfiguration.class,
        PortalConfigurations.PortalConfiguration.class, PortalConfigurations.LifecycleConfiguration.class })
public final class PortalAutoConfiguration {

    /** Bean name of the loop's default {@link dev.portal.CapacityLimiter}. */
    public static final String THREAD_LIMITER_BEAN_NAME = "portalThreadLimiter";

    /** Bean name of the application's {@link EventLoop}. */
    public static final String EVENT_LOOP_BEAN_NAME = "portalEventLoop";

    /** Name of the default limiter itself ({@code CapacityLimiter.name()}), as meters and the endpoint show it. */
    public static final String THREAD_LIMITER_NAME = "default";

}
