/**
 * Actuator support for Portal: a health indicator for the application's event loop and the
 * {@code portal} endpoint.
 */
@NullMarked
package dev.portal.spring.boot.actuate;

import org.jspecify.annotations.NullMarked;
