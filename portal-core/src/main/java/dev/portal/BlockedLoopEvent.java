package dev.portal;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A report that an event loop thread has been stuck in one callback: async code blocked instead of
 * offloading with {@link ToThread#runSync}.
 *
 * @param loopName the loop's name
 * @param threadName the loop thread's name
 * @param blockedFor how long the callback had run when the report was made (at least the
 *        threshold; measured to within one check interval)
 * @param threshold the configured threshold
 * @param stackTrace where the loop thread was when the report was made
 */
public record BlockedLoopEvent(String loopName, String threadName, Duration blockedFor, Duration threshold,
        List<StackTraceElement> stackTrace) {

    public BlockedLoopEvent {
        stackTrace = List.copyOf(Objects.requireNonNull(stackTrace, "stackTrace must not be null"));
    }

    /** The stack as an exception, for loggers that print one. */
    public Throwable asThrowable() {
        Throwable t = new Throwable("event loop thread " + threadName + " is here") {
            private static final long serialVersionUID = 1L;

            @Override
            public synchronized Throwable fillInStackTrace() {
                return this;
            }
        };
        t.setStackTrace(stackTrace.toArray(new StackTraceElement[0]));
        return t;
    }

    @Override
    public String toString() {
        return "Event loop " + loopName + " (thread " + threadName + ") has been blocked in one callback for "
                + blockedFor.toMillis() + " ms (threshold " + threshold.toMillis() + " ms): offload blocking calls "
                + "with ToThread.runSync";
    }
}
