package org.springframework.cloud.context.environment;

import java.util.Set;

import org.springframework.context.ApplicationEvent;

/**
 * A stand-in, for tests only, for the event Spring Cloud publishes after refreshing the
 * environment: same name, same shape. The starter does not depend on Spring Cloud and matches the
 * event by name.
 */
public class EnvironmentChangeEvent extends ApplicationEvent {

    private final Set<String> keys;

    public EnvironmentChangeEvent(Object context, Set<String> keys) {
        super(context);
        this.keys = keys;
    }

    public Set<String> getKeys() {
        return this.keys;
    }

}
