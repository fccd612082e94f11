package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

class PortalSmokeTest {

    @Test
    void basics() throws Exception {
        BlockingPortal escaped;
        try (BlockingPortal portal = BlockingPortal.start()) {
            escaped = portal;
            Integer v = portal.call(() -> Async.sleep(Duration.ofMillis(10)).thenApply(x -> 3));
            assertThat(v).isEqualTo(3);
            CompletableFuture<String> f = portal.startTaskSoon(() -> Async.sleep(Duration.ofSeconds(30)).thenApply(x -> "late"));
            f.cancel(true);
            assertThatThrownBy(f::join).isInstanceOf(CancellationException.class);
            StartedTask<String, String> t = portal.startTask(status -> {
                status.started("STARTED");
                return Async.sleep(Duration.ofMillis(50)).thenApply(x -> "DONE");
            });
            assertThat(t.startValue()).isEqualTo("STARTED");
            assertThat(t.future().get(5, TimeUnit.SECONDS)).isEqualTo("DONE");
            assertThat(portal.<String>callSync(() -> Thread.currentThread().getName())).startsWith("portal-loop-");
        }
        assertThatThrownBy(() -> escaped.call(() -> Async.sleep(Duration.ZERO))).hasMessageContaining("not running");
        BlockingPortalProvider provider = new BlockingPortalProvider();
        try (BlockingPortalProvider.PortalLease lease = provider.lease()) {
            assertThat(lease.portal().<Integer>call(() -> LoopStage.completedFuture(1))).isEqualTo(1);
        }
        assertThat(provider.statistics().stops()).isEqualTo(1);
    }
}
