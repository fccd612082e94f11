package dev.portal;

import java.util.ArrayList;
import java.util.List;

import org.jspecify.annotations.Nullable;

/**
 * A one-shot flag that tasks can wait for (AnyIO's {@code Event}).
 *
 * <pre>{@code
 * Event ready = new Event();
 * tg.startSoon(() -> ready.await().thenCompose(v -> serve()));
 * ready.set();                               // on the loop
 * FromThread.runSync(ready::set);            // from a worker thread
 * }</pre>
 *
 * <p><b>Threads.</b> An event may be created anywhere; it binds to the event loop that first uses it.
 * {@link #set()} and {@link #await()} run on that loop's thread: from a worker use
 * {@code FromThread.runSync(event::set)}, from other threads a portal. {@link #isSet()} and
 * {@link #statistics()} may be called from any thread.
 *
 * <p><b>Cancellation.</b> {@link #await()} is a checkpoint. A waiter that {@link #set()} has already
 * woken completes normally even if its scope is cancelled before it runs.
 */
public final class Event {

    private @Nullable EventLoop loop;
    private volatile boolean set;
    private final List<Waiter> waiters = new ArrayList<>();
    private volatile int waiting;

    /** Wakes every waiter; later awaits complete at once. Idempotent. Loop thread only. */
    public void set() {
        bind("Event.set()");
        if (set) {
            return;
        }
        set = true;
        for (Waiter w : waiters) {
            w.settleSoon(null, null);
        }
        waiters.clear();
        waiting = 0;
    }

    /** Whether {@link #set()} has been called. Any thread. */
    public boolean isSet() {
        return set;
    }

    /** A stage that completes once the event is set. Loop thread only. */
    public java.util.concurrent.CompletionStage<Void> await() {
        EventLoop l = bind("Event.await()");
        Waiter w = new Waiter(l);
        if (!w.arm()) {
            return w;
        }
        if (set) {
            w.settle(null, null);
            return w;
        }
        waiters.add(w);
        waiting = waiters.size();
        return w;
    }

    public EventStatistics statistics() {
        return new EventStatistics(waiting);
    }

    private EventLoop bind(String what) {
        EventLoop current = EventLoop.current();
        if (current == null) {
            throw new IllegalStateException(what + " must be called on an event loop thread (current thread: "
                    + Thread.currentThread().getName() + "); an Event is loop-confined: from a worker thread use "
                    + "FromThread.runSync(event::set), from other threads a BlockingPortal");
        }
        if (loop == null) {
            loop = current;
        } else if (loop != current) {
            throw new IllegalStateException(what + " was called on event loop " + current.name() + ", but this Event "
                    + "belongs to event loop " + loop.name());
        }
        return current;
    }

    @Override
    public String toString() {
        return "Event[" + (set ? "set" : "not set") + ", " + waiting + " waiting]";
    }

    private final class Waiter extends LoopPromise<Void> {
        Waiter(EventLoop loop) {
            super(loop, loop.frame.currentTask, loop.frame.currentScope);
        }

        @Override
        boolean cancellableByStage() {
            return true;
        }

        @Override
        boolean onCancelled(CancelledException e) {
            waiters.remove(this);
            waiting = waiters.size();
            return true;
        }
    }
}
