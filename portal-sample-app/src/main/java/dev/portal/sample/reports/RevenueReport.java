package dev.portal.sample.reports;

import java.math.BigDecimal;
import java.util.Map;

/**
 * Revenue by region and month.
 *
 * @param revenue region → month (1-12) → revenue
 * @param steps how many region-months the report computed
 */
public record RevenueReport(Map<String, Map<Integer, BigDecimal>> revenue, int steps) {
}
