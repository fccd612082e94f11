package dev.portal.spring.boot.metrics;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.TimeUnit;

import dev.portal.Async;
import dev.portal.BlockingPortal;
import dev.portal.EventLoop;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import org.jspecify.annotations.Nullable;
import org.springframework.context.SmartLifecycle;

/**
 * Samples the loop's lag once a second: a task on the loop sleeps for the interval and records how
 * much later than due its timer ran ({@code portal.loop.lag}). A loop that keeps up records
 * microseconds; one with a backlog, or one that a callback blocks, records the wait that every ready
 * callback suffers. The task runs on a portal of its own and stops before the loop does, so it never
 * holds up the loop's graceful shutdown.
 */
final class LoopLagProbe implements SmartLifecycle {

    static final Duration INTERVAL = Duration.ofSeconds(1);

    private static final Duration STOP_WAIT = Duration.ofSeconds(5);

    private final EventLoop loop;
    private final Timer lag;
    private volatile @Nullable BlockingPortal portal;

    LoopLagProbe(EventLoop loop, MeterRegistry registry) {
        this.loop = loop;
        this.lag = Timer.builder(PortalMeters.LOOP_LAG.meterName())
            .description(PortalMeters.LOOP_LAG.description())
            .tag(PortalMeters.Tags.LOOP, loop.name())
            .register(registry);
    }

    @Override
    public void start() {
        if (this.portal != null || this.loop.isShutdown()) {
            return;
        }
        BlockingPortal opened = BlockingPortal.openOn(this.loop);
        this.portal = opened;
        opened.startTaskSoon("portal-lag-probe", this::sampleForever);
    }

    private CompletionStage<Void> sampleForever() {
        CompletableFuture<Void> ended = new CompletableFuture<>();
        sampleOnce(ended);
        return ended;
    }

    private void sampleOnce(CompletableFuture<Void> ended) {
        long due = System.nanoTime() + INTERVAL.toNanos();
        Async.sleep(INTERVAL).whenComplete((ignored, error) -> {
            if (error != null) {
                ended.completeExceptionally(error); // cancelled: the probe stops
                return;
            }
            this.lag.record(Math.max(0, System.nanoTime() - due), TimeUnit.NANOSECONDS);
            sampleOnce(ended);
        });
    }

    /**
     * Stops the probe and waits for its portal to finish: at once, as its one task is cancelled at its
     * sleep, unless a callback blocks the loop; then it gives up after {@link #STOP_WAIT} and leaves the
     * task to the loop's own stop. An interrupt ends the wait and is kept.
     */
    @Override
    public void stop() {
        BlockingPortal opened = this.portal;
        this.portal = null;
        if (opened != null) {
            try {
                opened.stop(true).get(STOP_WAIT.toNanos(), TimeUnit.NANOSECONDS);
            }
            catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
            catch (ExecutionException | TimeoutException ex) {
                // the loop's graceful stop cancels the probe with everything else
            }
        }
    }

    @Override
    public boolean isRunning() {
        return this.portal != null;
    }
}
