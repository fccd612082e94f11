package dev.portal.sample.reports;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionStage;

import dev.portal.CancelScope;
import dev.portal.FromThread;
import dev.portal.RunSyncOptions;
import dev.portal.ToThread;
import dev.portal.sample.audit.AuditLog;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;

/**
 * A long report: one worker thread computes revenue region by region and month by month, polling
 * {@link FromThread#checkCancelled()} between steps, and tells the audit log on the loop how far it
 * got ({@link FromThread#runSync}). The caller gives it a deadline ({@link CancelScope#failAfter}):
 * when the deadline passes, the worker's next poll throws, the worker is freed at once, and the
 * caller gets a {@code TimeoutException}.
 */
@Service
public class ReportService {

    private static final Logger log = LoggerFactory.getLogger(ReportService.class);
    private static final List<String> REGIONS = List.of("APAC", "EU", "US");

    private final JdbcClient jdbc;
    private final AuditLog audit;
    private final Duration stepCost;

    public ReportService(JdbcClient jdbc, AuditLog audit,
            @Value("${sample.reports.step-cost:50ms}") Duration stepCost) {
        this.jdbc = jdbc;
        this.audit = audit;
        this.stepCost = stepCost;
    }

    /** Runs the report with a deadline. Loop thread. */
    public CompletionStage<RevenueReport> revenue(Duration deadline) {
        log.info("revenue report started, deadline {}", deadline);
        return CancelScope.failAfter(deadline, () -> ToThread.runSync(this::compute,
                RunSyncOptions.defaults().withName("reports.revenue")));
    }

    /** The blocking part, on a worker thread. */
    private RevenueReport compute() throws Exception {
        Map<String, Map<Integer, BigDecimal>> revenue = new TreeMap<>();
        int steps = 0;
        for (String region : REGIONS) {
            for (int month = 1; month <= 12; month++) {
                FromThread.checkCancelled(); // throws once the caller's deadline has passed
                BigDecimal sum = jdbc.sql("""
                        SELECT COALESCE(SUM(p.amount), 0) FROM purchase p JOIN customer c ON c.id = p.customer_id
                        WHERE c.region = :region AND EXTRACT(MONTH FROM p.bought_on) = :month""")
                        .param("region", region).param("month", month)
                        .query(BigDecimal.class).single();
                revenue.computeIfAbsent(region, r -> new TreeMap<>()).put(month, sum);
                steps++;
                Thread.sleep(stepCost.toMillis()); // the expensive part of a real report
            }
            String done = region;
            int sofar = steps;
            FromThread.runSync(() -> audit.record("revenue report: " + done + " done (" + sofar + " steps)"));
            log.info("revenue report: region {} done", region);
        }
        return new RevenueReport(revenue, steps);
    }
}
