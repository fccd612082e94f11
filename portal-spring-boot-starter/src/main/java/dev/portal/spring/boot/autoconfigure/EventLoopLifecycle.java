package dev.portal.spring.boot.autoconfigure;

import java.time.Duration;

import dev.portal.CancelMode;
import dev.portal.EventLoop;
import dev.portal.ShutdownReport;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;

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

    EventLoopLifecycle(EventLoop eventLoop, Duration gracePeriod, CancelMode afterGrace) {
        this.eventLoop = eventLoop;
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
     * Stops the loop gracefully and waits for it ({@link EventLoop#shutdownGracefully}): running
     * tasks and blocking calls get the grace period, then the rest are cancelled, blocking calls in
     * the after-grace mode. Blocks the closing thread for up to the grace period plus the loop's
     * shutdown timeout; an interrupt does not cut the stop short and is kept. Logs the report: at
     * debug level when everything finished in time, as a warning otherwise.
     */
    @Override
    public void stop() {
        if (this.eventLoop.isTerminated()) {
            return;
        }
        ShutdownReport report = this.eventLoop.shutdownGracefully(this.gracePeriod, this.afterGrace);
        if (!report.finishedWithinGrace() || report.hasAbandonedCalls()) {
            logger.warn(report);
        }
        else if (logger.isDebugEnabled()) {
            logger.debug(report);
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
