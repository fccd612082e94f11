package dev.portal.sample.rates;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Map;

/**
 * A snapshot of the exchange rates the feed holds.
 *
 * @param perEuro currency → units per euro
 * @param loadedAt when the feed last loaded them
 * @param loads how many times the feed has loaded them since it started
 */
public record ExchangeRates(Map<String, BigDecimal> perEuro, Instant loadedAt, long loads) {
}
