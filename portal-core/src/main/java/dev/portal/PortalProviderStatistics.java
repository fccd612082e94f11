package dev.portal;

import org.jspecify.annotations.Nullable;

/**
 * An immutable snapshot of a {@link BlockingPortalProvider}.
 *
 * @param portalRunning whether a shared portal exists now
 * @param activeLeases leases held now
 * @param totalLeases leases taken since the provider was made
 * @param starts portals started (on demand) or opened (bound to a loop)
 * @param stops portals stopped by a last release (on demand) or by {@link BlockingPortalProvider#close()}
 * @param portal the current portal's statistics, or null when there is none
 */
public record PortalProviderStatistics(boolean portalRunning, int activeLeases, long totalLeases, long starts,
        long stops, @Nullable PortalStatistics portal) {
}
