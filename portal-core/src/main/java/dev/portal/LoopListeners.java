package dev.portal;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.BiConsumer;

/**
 * A loop's listeners: a copy-on-write array behind one volatile field. Reporting points read the
 * field once ({@link #any()} or {@link #snapshot()}) and, with no listener, skip everything else:
 * no event object, no clock read. Adding and removing copy the array under this object's lock;
 * readers never take it.
 *
 * <p>Each listener is called inside its own try/catch: a listener that throws is logged once (its
 * first failure) and is otherwise ignored, so it can break neither the reporting thread nor the
 * listeners after it.
 */
final class LoopListeners {

    private static final System.Logger LOG = System.getLogger(EventLoop.class.getName());
    private static final Entry[] NONE = new Entry[0];

    /** A registered listener and whether its failure has been logged. */
    static final class Entry {
        final EventLoopListener listener;
        private volatile boolean failureLogged;

        Entry(EventLoopListener listener) {
            this.listener = listener;
        }

        void failed(String loopName, String method, Throwable t) {
            if (!failureLogged) {
                failureLogged = true;
                LOG.log(System.Logger.Level.WARNING, "EventLoopListener " + listener + " of event loop " + loopName
                        + " threw from " + method + "; its later failures are not logged", t);
            }
        }
    }

    private final String loopName;
    private volatile Entry[] entries = NONE;

    LoopListeners(String loopName, List<EventLoopListener> initial) {
        this.loopName = loopName;
        for (EventLoopListener l : initial) {
            add(l);
        }
    }

    /** Whether any listener is registered: one volatile read. */
    boolean any() {
        return entries.length != 0;
    }

    /** The listeners now; empty if none. One volatile read. */
    Entry[] snapshot() {
        return entries;
    }

    synchronized void add(EventLoopListener listener) {
        Objects.requireNonNull(listener, "listener must not be null");
        Entry[] old = entries;
        Entry[] grown = Arrays.copyOf(old, old.length + 1);
        grown[old.length] = new Entry(listener);
        entries = grown;
    }

    /** Removes the listener's most recent registration; false if it has none. */
    synchronized boolean remove(EventLoopListener listener) {
        Objects.requireNonNull(listener, "listener must not be null");
        Entry[] old = entries;
        for (int i = old.length - 1; i >= 0; i--) {
            if (old[i].listener == listener) {
                Entry[] shrunk = new Entry[old.length - 1];
                System.arraycopy(old, 0, shrunk, 0, i);
                System.arraycopy(old, i + 1, shrunk, i, old.length - i - 1);
                entries = shrunk.length == 0 ? NONE : shrunk;
                return true;
            }
        }
        return false;
    }

    int size() {
        return entries.length;
    }

    /** Calls {@code call} for each listener now registered, isolating failures. */
    <E> void fire(String method, E event, BiConsumer<EventLoopListener, E> call) {
        for (Entry e : entries) {
            try {
                call.accept(e.listener, event);
            } catch (Throwable t) {
                e.failed(loopName, method, t);
            }
        }
    }

    void offload(OffloadEvent event) {
        fire("onOffload", event, EventLoopListener::onOffload);
    }

    void portalCall(PortalCallEvent event) {
        fire("onPortalCall", event, EventLoopListener::onPortalCall);
    }

    void cancellation(CancellationEvent event) {
        fire("onCancellation", event, EventLoopListener::onCancellation);
    }

    void blockedLoop(BlockedLoopEvent event) {
        fire("onBlockedLoop", event, EventLoopListener::onBlockedLoop);
    }

    void blockedLoopEnded(BlockedLoopEvent event) {
        fire("onBlockedLoopEnded", event, EventLoopListener::onBlockedLoopEnded);
    }

    void uncaught(EventLoop loop, Throwable error) {
        fire("onUncaughtException", error, (l, t) -> l.onUncaughtException(loop, t));
    }
}
