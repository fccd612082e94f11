package dev.portal.sample.web;

import java.util.List;

import dev.portal.BlockingPortal;
import dev.portal.BlockingPortalProvider;
import dev.portal.BlockingPortalProvider.PortalLease;
import dev.portal.sample.audit.AuditLog;
import dev.portal.sample.rates.ExchangeRates;
import dev.portal.sample.rates.RatesFeed;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * The loop-side state of the service: the exchange rates the feed holds and the audit log. The audit
 * log is confined to the loop, so it is read with {@code callSync} on a portal lease from the shared
 * {@link BlockingPortalProvider} (the provider bound to the application's loop: a lease costs no
 * thread).
 */
@RestController
public class StatusController {

    private final BlockingPortalProvider portals;
    private final AuditLog audit;
    private final RatesFeed rates;

    public StatusController(BlockingPortalProvider portals, AuditLog audit, RatesFeed rates) {
        this.portals = portals;
        this.audit = audit;
        this.rates = rates;
    }

    @GetMapping("/api/audit")
    public List<AuditLog.Entry> audit() throws Exception {
        try (PortalLease lease = portals.lease()) {
            BlockingPortal portal = lease.portal();
            return portal.callSync(audit::recent);
        }
    }

    @GetMapping("/api/rates")
    public ExchangeRates rates() {
        ExchangeRates current = rates.current();
        if (current == null) {
            throw new IllegalStateException("the exchange-rate feed is not ready yet");
        }
        return current;
    }
}
