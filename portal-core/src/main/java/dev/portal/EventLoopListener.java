package dev.portal;

/**
 * Receives what an event loop reports as it happens: offloads, portal calls and cancellations as
 * they end, blocked-loop stalls, and callbacks that threw. Meant for meters and tracing.
 *
 * <pre>{@code
 * EventLoopListener timer = new EventLoopListener() {
 *     @Override
 *     public void onOffload(OffloadEvent e) {
 *         runTimer.record(e.run());                 // quick, non-blocking, thread-safe
 *     }
 * };
 * loop.addListener(timer);                          // any thread, any time
 * loop.removeListener(timer);
 * }</pre>
 *
 * <p><b>Registration.</b> A loop has any number of listeners, added with
 * {@link EventLoop.Builder#listener} or at run time with {@link EventLoop#addListener} and removed
 * with {@link EventLoop#removeListener}, from any thread. Each event goes to the listeners
 * registered when it is delivered, in the order they were added.
 *
 * <p><b>Threads and cost.</b> Every method has a no-op default, and each says which thread calls
 * it: the loop thread, a worker thread, the thread that called the portal, or Portal's shared
 * watchdog thread. Listeners run inline on those threads, so they must be quick, must not block,
 * and must be thread-safe (several threads report at once). A listener that throws is caught: the
 * first failure of each listener is logged through {@link System.Logger}, and the loop, the worker
 * and the other listeners carry on. With no listener registered, the loop makes no events and
 * reads no clock for them: each reporting point costs one volatile read.
 *
 * <p><b>Logging.</b> The loop itself logs each blocked-loop report (WARNING, with the loop thread's
 * stack) and each uncaught callback exception (ERROR) through {@link System.Logger}, whether or not
 * listeners are registered; listeners are told in addition.
 */
public interface EventLoopListener {

    /**
     * The loop thread has been running one callback for longer than the
     * {@linkplain EventLoop.Builder#blockedLoopThreshold threshold}: reported once per stall, on the
     * watchdog thread. See also {@link EventLoop#blockedFor()}.
     */
    default void onBlockedLoop(BlockedLoopEvent event) {
    }

    /**
     * A stall reported by {@link #onBlockedLoop} has ended: the loop moved on to another callback or
     * went idle. On the watchdog thread, at its first check after the stall ended;
     * {@link BlockedLoopEvent#blockedFor()} is then the stall's whole length, to within one check
     * interval (the check sees the end late, so it may be over by up to that interval), and the
     * stack is the one captured when the stall was reported.
     */
    default void onBlockedLoopEnded(BlockedLoopEvent event) {
    }

    /**
     * A callback on the loop threw; the loop goes on with the next one. On the loop thread (or on a
     * worker, for a worker's own failure outside any call).
     */
    default void onUncaughtException(EventLoop loop, Throwable error) {
    }

    /**
     * A {@link ToThread#runSync} call ended; see {@link OffloadEvent} for when exactly. On the loop
     * thread, except for a call whose function returns after its loop stopped, which is reported on
     * its worker thread.
     */
    default void onOffload(OffloadEvent event) {
    }

    /**
     * A {@link BlockingPortal} call ended; see {@link PortalCallEvent} for when exactly. On the loop
     * thread, except for a call refused by the portal's guards, which is reported on the calling
     * thread.
     */
    default void onPortalCall(PortalCallEvent event) {
    }

    /**
     * A cancellation happened; see {@link CancellationKind} for what one event means. On the loop
     * thread for {@link CancellationKind#SCOPE_CANCELLED} and {@link CancellationKind#DEADLINE}, on
     * the worker thread whose {@link FromThread#checkCancelled()} raised for
     * {@link CancellationKind#CHECK_CANCELLED}.
     */
    default void onCancellation(CancellationEvent event) {
    }
}
