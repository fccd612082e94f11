/**
 * Micrometer meters for Portal: {@link dev.portal.spring.boot.metrics.PortalMeters} lists every
 * meter once; {@link dev.portal.spring.boot.metrics.PortalMetrics} binds them.
 */
@NullMarked
package dev.portal.spring.boot.metrics;

import org.jspecify.annotations.NullMarked;
