package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Misuse of the portal API that the per-argument checks in {@link BadInputTest} do not reach: leases
 * released on the wrong thread, failing factories, status and resource handles used after their
 * task or resource has ended, and portals whose loop was closed underneath them. Each misuse fails
 * with a clear exception, or is a documented no-op, and leaves the portal usable when it is running.
 */
class PortalBadInputTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    private BlockingPortal portal;

    @BeforeEach
    void startPortal() {
        portal = BlockingPortal.start(EventLoop.builder().name("bad-input-portal").daemon(true));
    }

    @AfterEach
    void closePortal() {
        portal.close();
    }

    private void thePortalStillServes(BlockingPortal p) throws Exception {
        assertThat(p.<String>call(() -> ToThread.runSync(() -> "still serving"))).isEqualTo("still serving");
    }

    /** An async resource that counts its exits and suppresses whatever error it is given. */
    static final class CountingResource implements AsyncResource<String> {
        final AtomicInteger exits = new AtomicInteger();
        final AtomicReference<Throwable> exitSaw = new AtomicReference<>();

        @Override
        public CompletionStage<String> enter() {
            return CompletableFuture.completedFuture("open");
        }

        @Override
        public CompletionStage<Boolean> exit(@Nullable Throwable error) {
            exits.incrementAndGet();
            exitSaw.set(error);
            return CompletableFuture.completedFuture(true);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // BlockingPortalProvider

    @Test
    void closingTheLastLeaseOnThePortalsOwnLoopThreadFailsClearlyOrStopsThePortal() throws Exception {
        BlockingPortalProvider provider = new BlockingPortalProvider(EventLoop.builder().name("leased-bad-loop")
                .daemon(true));
        BlockingPortalProvider.PortalLease lease = provider.lease();
        BlockingPortal shared = lease.portal();

        try {
            Throwable thrown = catchThrowable(() -> shared.callSync(lease::close));

            if (thrown != null) {
                // Refused: the refusal names the rule, and the lease is still held and can be closed properly.
                assertThat(thrown).isInstanceOf(IllegalStateException.class).hasMessageContaining("loop thread");
                assertThat(provider.statistics().activeLeases()).as("leases after a refused close").isEqualTo(1);
                assertThat(shared.isRunning()).isTrue();
                thePortalStillServes(shared);
                lease.close();
            }
            // Either way the last lease is gone, so the portal and its loop must stop: nothing leaks.
            assertThat(provider.statistics().portalRunning()).isFalse();
            await().atMost(WAIT).until(() -> shared.eventLoop().isTerminated());
            assertThat(StressTest.liveThreadsNamed("leased-bad-loop")).isEmpty();
        } finally {
            shared.close();
        }
    }

    @Test
    void aFactoryThatFailsLeavesTheProviderUsable() throws Exception {
        IllegalStateException cannotStart = new IllegalStateException("no loop for you");
        AtomicInteger attempts = new AtomicInteger();
        BlockingPortalProvider provider = new BlockingPortalProvider(() -> {
            if (attempts.incrementAndGet() == 1) {
                throw cannotStart;
            }
            return BlockingPortal.start(EventLoop.builder().name("factory-retry-loop").daemon(true));
        });

        Throwable thrown = catchThrowable(provider::lease);

        assertThat(thrown).isSameAs(cannotStart);
        PortalProviderStatistics afterFailure = provider.statistics();
        assertThat(afterFailure.activeLeases()).isZero();
        assertThat(afterFailure.portalRunning()).isFalse();
        assertThat(afterFailure.starts()).isZero();
        try (BlockingPortalProvider.PortalLease lease = provider.lease()) {
            thePortalStillServes(lease.portal());
        }
        assertThat(provider.statistics().starts()).isEqualTo(1);
        assertThat(provider.statistics().stops()).isEqualTo(1);
    }

    // ---------------------------------------------------------------------------------------------
    // TaskStatus

    @Test
    void startedAfterTheTaskEndedDoesNotClaimItWasCalledBefore() throws Exception {
        AtomicReference<TaskStatus<String>> kept = new AtomicReference<>();
        Throwable startTaskFailure = catchThrowable(() -> portal.<String, String>startTask(status -> {
            kept.set(status);
            return CompletableFuture.completedFuture("ended without reporting");
        }));
        assertThat(startTaskFailure).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("without calling TaskStatus.started()");

        Throwable late = portal.callSync(() -> catchThrowable(() -> kept.get().started("too late")));

        assertThat(late).isInstanceOf(IllegalStateException.class).hasMessageContaining("started()");
        assertThat(late.getMessage()).as("it was never called before").doesNotContain("already called");
        thePortalStillServes(portal);
    }

    @Test
    void startedTwiceFromTheTaskFailsAndTheFirstValueWins() throws Exception {
        AtomicReference<Throwable> second = new AtomicReference<>();
        StartedTask<String, Void> task = portal.startTask(status -> {
            status.started("first");
            second.set(catchThrowable(() -> status.started("second")));
            return CompletableFuture.completedFuture(null);
        });

        task.future().get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(task.startValue()).isEqualTo("first");
        assertThat(second.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("call it once");
        thePortalStillServes(portal);
    }

    // ---------------------------------------------------------------------------------------------
    // PortalResource

    @Test
    void closingAResourceTwiceExitsItOnce() throws Exception {
        CountingResource resource = new CountingResource();
        PortalResource<String> handle = portal.wrapAsyncResource(resource);

        handle.close();
        handle.close();

        assertThat(resource.exits.get()).isEqualTo(1);
        thePortalStillServes(portal);
    }

    @Test
    void exitingWithAnErrorAfterCloseDoesNotClaimTheErrorWasSuppressed() throws Exception {
        CountingResource resource = new CountingResource();
        PortalResource<String> handle = portal.wrapAsyncResource(resource);
        handle.close();
        RuntimeException bodyFailure = new RuntimeException("after the resource was closed");

        Throwable thrown = null;
        boolean suppressed = false;
        try {
            suppressed = handle.exit(bodyFailure);
        } catch (Exception e) {
            thrown = e;
        }

        assertThat(resource.exits.get()).isEqualTo(1);
        assertThat(resource.exitSaw.get()).as("exit saw no error").isNull();
        if (thrown == null) {
            assertThat(suppressed).as("exit never saw the error, so it cannot have suppressed it").isFalse();
        } else {
            assertThat(thrown).isInstanceOf(IllegalStateException.class);
        }
        thePortalStillServes(portal);
    }

    @Test
    void closingAResourceAfterItsPortalStoppedDoesNothing() throws Exception {
        BlockingPortal p = BlockingPortal.start(EventLoop.builder().name("resource-stop-loop").daemon(true));
        CountingResource resource = new CountingResource();
        PortalResource<String> handle = p.wrapAsyncResource(resource);

        p.close();
        handle.close();

        assertThat(resource.exits.get()).isEqualTo(1);
        assertThat(handle.get()).isEqualTo("open");
    }

    // ---------------------------------------------------------------------------------------------
    // Stopping

    @Test
    void stopWithCancelAfterAGracefulStopCancelsTheRemainingTasks() throws Exception {
        CompletableFuture<Void> longTask = portal.startTaskSoon(() -> Async.sleep(Duration.ofMinutes(5)));
        await().atMost(WAIT).until(() -> portal.tasks().size() == 1);

        CompletableFuture<Void> graceful = portal.stop(false);
        assertThat(graceful).isNotDone();
        portal.stop(true).get(WAIT.toSeconds(), TimeUnit.SECONDS);

        assertThat(longTask).isCancelled();
        graceful.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(portal.isRunning()).isFalse();
    }

    @Test
    void callsOnAPortalWhoseLoopWasClosedUnderneathItFailClearly() throws Exception {
        BlockingPortal p = BlockingPortal.start(EventLoop.builder().name("closed-under-portal").daemon(true));

        p.eventLoop().close();

        assertThat(p.isRunning()).isFalse();
        Throwable thrown = catchThrowable(() -> p.call(() -> Async.sleep(Duration.ZERO)));
        assertThat(thrown).isInstanceOf(IllegalStateException.class).hasMessageContaining("not running");
        p.close();
        assertThat(StressTest.liveThreadsNamed("closed-under-portal")).isEmpty();
    }
}
