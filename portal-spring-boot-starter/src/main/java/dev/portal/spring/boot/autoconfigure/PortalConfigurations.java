package dev.portal.spring.boot.autoconfigure;

import dev.portal.BlockingPortal;
import dev.portal.BlockingPortalProvider;
import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.thread.Threading;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * The bean groups that {@link PortalAutoConfiguration} imports.
 */
final class PortalConfigurations {

    private PortalConfigurations() {
    }

    /**
     * Only for the loop made here, and only when the application has not defined the limiter: an
     * application that defines its loop or its limiter sizes that limiter itself.
     */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnMissingBean(value = EventLoop.class, name = PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME)
    static class ThreadLimiterConfiguration {

        /**
         * The loop's default limiter, sized by {@code portal.worker.max-threads}. Backs off by name
         * only: an application may declare limiters of its own for its own offloads.
         */
        @Bean(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME)
        @ConditionalOnMissingBean(name = PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME)
        CapacityLimiter portalThreadLimiter(PortalProperties properties) {
            return new CapacityLimiter(PortalAutoConfiguration.THREAD_LIMITER_NAME,
                    properties.getWorker().getMaxThreads());
        }

        /** Resizes the limiter when a refreshed environment changes {@code portal.worker.max-threads}. */
        @Bean
        @ConditionalOnMissingBean
        MaxThreadsRefreshListener portalMaxThreadsRefreshListener(Environment environment,
                @Qualifier(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME) CapacityLimiter limiter) {
            return new MaxThreadsRefreshListener(environment, limiter);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class EventLoopConfiguration {

        /** The application's loop, started here; the lifecycle bean stops it gracefully. */
        @Bean(name = PortalAutoConfiguration.EVENT_LOOP_BEAN_NAME)
        @ConditionalOnMissingBean
        EventLoop portalEventLoop(PortalProperties properties, Environment environment,
                @Qualifier(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME) CapacityLimiter limiter,
                ObjectProvider<EventLoopBuilderCustomizer> customizers) {
            EventLoop.Builder builder = builder(properties, environment).defaultThreadLimiter(limiter);
            customizers.orderedStream().forEach((customizer) -> customizer.customize(builder));
            return builder.start();
        }

        static EventLoop.Builder builder(PortalProperties properties, Environment environment) {
            PortalProperties.Worker worker = properties.getWorker();
            PortalProperties.Loop loop = properties.getLoop();
            EventLoop.Builder builder = EventLoop.builder()
                .name(loop.getThreadName())
                .blockedLoopThreshold(loop.getBlockedThreshold())
                .workerIdleTimeout(worker.getIdleTimeout())
                .defaultCancelMode(worker.getCancelMode())
                .virtualWorkers(virtualWorkers(worker, environment));
            if (worker.getThreadNamePrefix() != null) {
                builder.workerNamePrefix(worker.getThreadNamePrefix());
            }
            return builder;
        }

        private static boolean virtualWorkers(PortalProperties.Worker worker, Environment environment) {
            Boolean virtual = worker.getVirtual();
            return (virtual != null) ? virtual : Threading.VIRTUAL.isActive(environment);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class PortalConfiguration {

        /** A long-lived portal on the application's loop, for controllers and other foreign threads. */
        @Bean
        @ConditionalOnMissingBean
        BlockingPortal portalBlockingPortal(EventLoop eventLoop) {
            return BlockingPortal.openOn(eventLoop);
        }

        /** The shared provider, bound to the application's loop: a lease never starts a thread. */
        @Bean
        @ConditionalOnMissingBean
        BlockingPortalProvider portalBlockingPortalProvider(EventLoop eventLoop) {
            return new BlockingPortalProvider(eventLoop);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class LifecycleConfiguration {

        @Bean
        @ConditionalOnMissingBean
        EventLoopLifecycle portalEventLoopLifecycle(EventLoop eventLoop, PortalProperties properties) {
            return new EventLoopLifecycle(eventLoop, properties.getShutdown().getGracePeriod(),
                    properties.getShutdown().getAfterGrace());
        }

    }

}
