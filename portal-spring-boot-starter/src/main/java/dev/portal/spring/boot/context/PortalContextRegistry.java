package dev.portal.spring.boot.context;

import java.util.List;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;
import io.micrometer.context.integration.Slf4jThreadLocalAccessor;

import org.springframework.util.ClassUtils;

/** Builds the application loop's {@link ContextRegistry}. */
final class PortalContextRegistry {

    private PortalContextRegistry() {
    }

    /**
     * A new registry with the accessors published through {@link java.util.ServiceLoader} (Spring
     * Security's and Micrometer Observation's are), SLF4J's MDC when SLF4J is present and nothing
     * published one, and {@code beans}, each unless an accessor with its key is there already.
     */
    static ContextRegistry create(List<ThreadLocalAccessor<?>> beans) {
        ContextRegistry registry = new ContextRegistry().loadContextAccessors().loadThreadLocalAccessors();
        ClassLoader classLoader = PortalContextRegistry.class.getClassLoader();
        if (ClassUtils.isPresent("org.slf4j.MDC", classLoader) && !has(registry, Slf4jThreadLocalAccessor.KEY)) {
            registry.registerThreadLocalAccessor(new Slf4jThreadLocalAccessor());
        }
        for (ThreadLocalAccessor<?> accessor : beans) {
            if (!has(registry, accessor.key())) {
                registry.registerThreadLocalAccessor(accessor);
            }
        }
        return registry;
    }

    private static boolean has(ContextRegistry registry, Object key) {
        return registry.getThreadLocalAccessors().stream().anyMatch((accessor) -> key.equals(accessor.key()));
    }

}
