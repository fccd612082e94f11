/**
 * Auto-configuration of Portal's Micrometer meters, applied after Spring Boot's metrics
 * auto-configuration when Micrometer is present.
 */
@NullMarked
package dev.portal.spring.boot.metrics.autoconfigure;

import org.jspecify.annotations.NullMarked;
