package dev.portal;

/**
 * Receives what an event loop reports as it happens. Both methods run on Portal's watchdog or loop
 * thread: keep them short and non-blocking. The defaults log through {@link System.Logger}.
 */
public interface EventLoopListener {

    /** The loop thread has been running one callback for longer than the configured threshold. */
    default void onBlockedLoop(BlockedLoopEvent event) {
        System.getLogger(EventLoop.class.getName()).log(System.Logger.Level.WARNING, event.toString(),
                event.asThrowable());
    }

    /** A callback on the loop threw; the loop goes on with the next one. */
    default void onUncaughtException(EventLoop loop, Throwable error) {
        System.getLogger(EventLoop.class.getName()).log(System.Logger.Level.ERROR,
                "Uncaught exception in a callback on event loop " + loop.name(), error);
    }
}
