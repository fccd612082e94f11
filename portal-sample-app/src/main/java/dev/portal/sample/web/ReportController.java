package dev.portal.sample.web;

import java.time.Duration;

import dev.portal.BlockingPortal;
import dev.portal.sample.reports.ReportService;
import dev.portal.sample.reports.RevenueReport;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * The long report, with a deadline the caller chooses: {@code GET /api/reports/revenue?timeout=2s}.
 * Past the deadline the report's worker stops at its next {@code checkCancelled()} and the caller gets
 * 504 with what happened.
 */
@RestController
public class ReportController {

    private static final Logger log = LoggerFactory.getLogger(ReportController.class);
    private static final Duration MAX_TIMEOUT = Duration.ofMinutes(1);

    private final BlockingPortal portal;
    private final ReportService reports;

    public ReportController(BlockingPortal portal, ReportService reports) {
        this.portal = portal;
        this.reports = reports;
    }

    @GetMapping("/api/reports/revenue")
    public RevenueReport revenue(@RequestParam(defaultValue = "10s") String timeout) throws Exception {
        Duration deadline = parse(timeout);
        log.info("GET revenue report, deadline {}", deadline);
        return portal.call(() -> reports.revenue(deadline));
    }

    private static Duration parse(String timeout) {
        Duration d;
        try {
            d = DurationStyle.detectAndParse(timeout);
        } catch (IllegalArgumentException e) {
            throw new BadRequestException("timeout must be a duration such as 500ms or 2s (was \"" + timeout + "\")");
        }
        if (d.isNegative() || d.isZero() || d.compareTo(MAX_TIMEOUT) > 0) {
            throw new BadRequestException("timeout must be more than 0 and at most 1m (was " + timeout + ")");
        }
        return d;
    }
}
