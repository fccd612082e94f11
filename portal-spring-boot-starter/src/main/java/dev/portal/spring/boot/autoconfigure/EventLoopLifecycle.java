package dev.portal.spring.boot.autoconfigure;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import dev.portal.BlockingPortal;
import dev.portal.CancelMode;
import dev.portal.EventLoop;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.SmartLifecycle;

/**
 * Stops the application's {@link EventLoop} when the context closes, after the web server has
 * finished its graceful shutdown: tasks and blocking calls still running get the grace period to
 * finish, then the rest are cancelled (blocking calls in the after-grace {@link CancelMode}) and the
 * loop and its worker threads end.
 *
 * <p>The loop itself starts when its bean is created, during the context's refresh, so it is
 * running before any other bean can use it; {@link #start()} only restarts nothing and reports it.
 */
class EventLoopLifecycle implements SmartLifecycle {

    /**
     * The lifecycle phase: below Spring Boot's web server phases
     * ({@code WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE} = DEFAULT_PHASE - 1024 and
     * {@code START_STOP_LIFECYCLE_PHASE} = DEFAULT_PHASE - 2048), so the loop stops after the server
     * has drained its requests and stopped, and is stopped before beans are destroyed.
     */
    static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

    private static final Log logger = LogFactory.getLog(EventLoopLifecycle.class);

    private final EventLoop eventLoop;

    private final Duration gracePeriod;

    private final CancelMode afterGrace;

    private final ObjectProvider<BlockingPortal> portals;

    EventLoopLifecycle(EventLoop eventLoop, ObjectProvider<BlockingPortal> portals, Duration gracePeriod,
            CancelMode afterGrace) {
        this.eventLoop = eventLoop;
        this.portals = portals;
        this.gracePeriod = gracePeriod;
        this.afterGrace = afterGrace;
    }

    /**
     * Does nothing: the loop started with its bean. Called by Spring only when the loop is not
     * running, that is after {@code context.stop()}; a stopped loop cannot be restarted, so this
     * logs a warning instead.
     */
    @Override
    public void start() {
        if (this.eventLoop.isShutdown()) {
            logger.warn(this.eventLoop.name() + " has stopped and cannot be restarted; portal calls will fail "
                    + "until the application context is refreshed");
        }
    }

    /**
     * Stops the loop gracefully and waits for it: up to the grace period for running work, then
     * cancels the rest. Blocks the closing thread; an interrupt ends the wait early and is kept.
     */
    @Override
    public void stop() {
        if (this.eventLoop.isShutdown()) {
            return;
        }
        long started = System.nanoTime();
        drainPortals();
        this.eventLoop.close();
        if (logger.isDebugEnabled()) {
            logger.debug("Stopped " + this.eventLoop.name() + " in "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started) + " ms");
        }
    }

    /** Stops the portals on the loop gracefully and waits up to the grace period for their calls. */
    private void drainPortals() {
        CompletableFuture<?>[] drained = this.portals.orderedStream()
            .filter((portal) -> portal.eventLoop() == this.eventLoop)
            .map((portal) -> portal.stop(false))
            .toArray(CompletableFuture[]::new);
        try {
            CompletableFuture.allOf(drained).get(this.gracePeriod.toNanos(), TimeUnit.NANOSECONDS);
        }
        catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
        catch (ExecutionException | TimeoutException ex) {
            // Past the grace period: closing the loop cancels what is left.
        }
    }

    @Override
    public boolean isRunning() {
        return !this.eventLoop.isShutdown();
    }

    @Override
    public int getPhase() {
        return PHASE;
    }

    Duration gracePeriod() {
        return this.gracePeriod;
    }

    CancelMode afterGrace() {
        return this.afterGrace;
    }

}
