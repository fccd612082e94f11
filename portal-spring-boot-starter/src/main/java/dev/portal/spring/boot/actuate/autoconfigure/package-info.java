/**
 * Auto-configuration of Portal's health indicator and {@code portal} endpoint, applied after
 * {@link dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration} when Actuator is present.
 */
@NullMarked
package dev.portal.spring.boot.actuate.autoconfigure;

import org.jspecify.annotations.NullMarked;
