package dev.portal.sample.rates;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

import dev.portal.Async;
import dev.portal.BlockingPortal;
import dev.portal.RunSyncOptions;
import dev.portal.StartedTask;
import dev.portal.TaskStatus;
import dev.portal.ToThread;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.SmartLifecycle;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * A service that runs on the loop for the application's life, started with
 * {@link BlockingPortal#startTask}: the application is not ready until the feed has loaded the
 * rates once and reported it with {@link TaskStatus#started(Object)}; then it reloads them
 * periodically, offloading each query to a worker. Closing the context cancels the task.
 */
@Component
public class RatesFeed implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(RatesFeed.class);

    private final BlockingPortal portal;
    private final JdbcClient jdbc;
    private final Duration refresh;
    private volatile @Nullable ExchangeRates current;
    private volatile @Nullable StartedTask<Integer, Void> task;

    public RatesFeed(BlockingPortal portal, JdbcClient jdbc, @Value("${sample.rates.refresh:30s}") Duration refresh) {
        this.portal = portal;
        this.jdbc = jdbc;
        this.refresh = refresh;
    }

    /** Starts the feed and blocks until it has loaded the rates once. */
    @Override
    public void start() {
        try {
            StartedTask<Integer, Void> started = portal.startTask("rates-feed", this::run);
            task = started;
            log.info("rates feed ready with {} currencies", started.startValue());
        } catch (Exception e) {
            throw new IllegalStateException("the exchange-rate feed could not load its first rates", e);
        }
    }

    /** The feed's task, on the loop: load, report ready, then reload every {@code refresh}. */
    private CompletionStage<Void> run(TaskStatus<Integer> status) {
        return load().thenCompose(rates -> {
            status.started(rates.perEuro().size());
            return refreshForever();
        });
    }

    /** Reloads every {@code refresh} until the task is cancelled (or a load fails), without nesting stages. */
    private CompletionStage<Void> refreshForever() {
        CompletableFuture<Void> ended = new CompletableFuture<>();
        refreshAfterSleep(ended);
        return ended;
    }

    private void refreshAfterSleep(CompletableFuture<Void> ended) {
        Async.sleep(refresh).thenCompose(v -> load()).whenComplete((rates, error) -> {
            if (error != null) {
                ended.completeExceptionally(error);
            } else {
                refreshAfterSleep(ended);
            }
        });
    }

    private CompletionStage<ExchangeRates> load() {
        return ToThread.runSync(() -> {
            Map<String, BigDecimal> rates = new TreeMap<>();
            jdbc.sql("SELECT currency, per_euro FROM exchange_rate").query((rs, row) -> rates.put(rs.getString(1),
                    rs.getBigDecimal(2))).list();
            return rates;
        }, RunSyncOptions.defaults().withName("rates.load")).thenApply(rates -> {
            ExchangeRates previous = current;
            ExchangeRates loaded = new ExchangeRates(Map.copyOf(rates), Instant.now(),
                    previous == null ? 1 : previous.loads() + 1);
            current = loaded;
            return loaded;
        });
    }

    /** The rates loaded last, or null before the feed is ready. Any thread. */
    public @Nullable ExchangeRates current() {
        return current;
    }

    @Override
    public void stop() {
        StartedTask<Integer, Void> t = task;
        if (t != null) {
            t.future().cancel(true);
            task = null;
        }
    }

    @Override
    public boolean isRunning() {
        return task != null;
    }
}
