package dev.portal.spring.boot.autoconfigure;

import dev.portal.EventLoop;

/**
 * Adjusts the {@link EventLoop.Builder} of the application's event loop after the
 * {@code portal.*} properties have been applied and before the loop starts: add a listener, set a
 * context registry, change a setting the properties do not cover. Declare one or more as beans;
 * they run in {@link org.springframework.core.Ordered order}.
 */
@FunctionalInterface
public interface EventLoopBuilderCustomizer {

    /**
     * Customizes the builder. Called once, on the thread that creates the application context's
     * beans, before the loop thread exists; it must not block.
     */
    void customize(EventLoop.Builder builder);

}
