package dev.portal.spring.boot.autoconfigure;

import dev.portal.CapacityLimiter;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.context.ApplicationEvent;
import org.springframework.context.event.GenericApplicationListener;
import org.springframework.core.ResolvableType;
import org.springframework.core.env.Environment;

/**
 * Resizes the live default limiter when {@code portal.worker.max-threads} changes in a refreshed
 * environment: Spring Cloud publishes an {@code EnvironmentChangeEvent} after a refresh (for example
 * {@code /actuator/refresh} or a config server push). The listener matches that event by name, so
 * the starter does not depend on Spring Cloud; without it, nothing ever publishes the event.
 */
class MaxThreadsRefreshListener implements GenericApplicationListener {

    static final String ENVIRONMENT_CHANGE_EVENT = "org.springframework.cloud.context.environment.EnvironmentChangeEvent";

    static final String PROPERTY = "portal.worker.max-threads";

    private static final Log logger = LogFactory.getLog(MaxThreadsRefreshListener.class);

    private final Environment environment;

    private final CapacityLimiter limiter;

    MaxThreadsRefreshListener(Environment environment, CapacityLimiter limiter) {
        this.environment = environment;
        this.limiter = limiter;
    }

    @Override
    public boolean supportsEventType(ResolvableType eventType) {
        Class<?> type = eventType.resolve();
        return type != null && ENVIRONMENT_CHANGE_EVENT.equals(type.getName());
    }

    /**
     * Reads the property again and resizes the limiter if it changed; a removed property means the
     * default (40). A negative value is logged and ignored: the limiter keeps its size. Does not
     * block.
     */
    @Override
    public void onApplicationEvent(ApplicationEvent event) {
        int maxThreads = Binder.get(this.environment)
            .bind(PROPERTY, Integer.class)
            .orElseGet(() -> new PortalProperties().getWorker().getMaxThreads());
        if (maxThreads < 0) {
            logger.warn(PROPERTY + " must be >= 0 (was " + maxThreads + "); the limiter keeps "
                    + this.limiter.totalTokens() + " tokens");
            return;
        }
        if (maxThreads != this.limiter.totalTokens()) {
            this.limiter.setTotalTokens(maxThreads);
            logger.info("Resized " + this.limiter + " after " + PROPERTY + " changed to " + maxThreads);
        }
    }

}
