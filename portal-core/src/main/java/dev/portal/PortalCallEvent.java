package dev.portal;

import java.time.Duration;
import java.util.Objects;

import org.jspecify.annotations.Nullable;

/**
 * One {@link BlockingPortal} call that has ended, for {@link EventLoopListener#onPortalCall}.
 *
 * <p>Every portal method runs its work as a task on the loop, and the call is reported when that
 * task ends: for {@link PortalMethod#CALL} and {@link PortalMethod#CALL_SYNC} just before the caller
 * wakes; for {@link PortalMethod#START_TASK_SOON} and {@link PortalMethod#START_TASK} when the task
 * finishes (not when {@code startTask} returns); for {@link PortalMethod#WRAP_ASYNC_RESOURCE} when the
 * resource has been exited. A call the guards refuse is reported at once as
 * {@link PortalCallOutcome#REJECTED}. Only calls made while at least one listener was registered
 * are reported.
 *
 * @param loopName the name of the portal's loop
 * @param method the portal method called
 * @param outcome how the call ended
 * @param duration from the call until its task ended, measured with {@link System#nanoTime()};
 *        zero for a rejected call
 * @param error the task's exception for {@link PortalCallOutcome#FAILURE}, the refusal for
 *        {@link PortalCallOutcome#REJECTED}; null otherwise
 */
public record PortalCallEvent(String loopName, PortalMethod method, PortalCallOutcome outcome, Duration duration,
        @Nullable Throwable error) {

    public PortalCallEvent {
        Objects.requireNonNull(loopName, "loopName must not be null");
        Objects.requireNonNull(method, "method must not be null");
        Objects.requireNonNull(outcome, "outcome must not be null");
        Objects.requireNonNull(duration, "duration must not be null");
    }
}
