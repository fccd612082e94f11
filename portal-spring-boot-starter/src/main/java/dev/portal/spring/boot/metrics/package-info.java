/**
 * Micrometer meters for Portal: limiter, worker, offload, cancellation, portal-call and loop meters,
 * listed in {@link dev.portal.spring.boot.metrics.PortalMeters}, fed by the loop's events and by
 * lock-free gauges.
 */
@NullMarked
package dev.portal.spring.boot.metrics;

import org.jspecify.annotations.NullMarked;
