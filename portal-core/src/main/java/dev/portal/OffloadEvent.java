package dev.portal;

import java.time.Duration;
import java.util.Objects;

import org.jspecify.annotations.Nullable;

/**
 * One {@link ToThread#runSync} call that has ended, for {@link EventLoopListener#onOffload}.
 *
 * <p><b>When it is reported.</b> A call whose function ran is reported once the function has really
 * returned and its limiter token is free, also when the caller stopped waiting earlier
 * ({@link OffloadOutcome#ABANDONED}, {@link OffloadOutcome#INTERRUPTED}): then {@link #run()} is the
 * function's whole run time, which is what a meter of blocking work in flight wants. A call whose
 * function never ran ({@link OffloadOutcome#CANCELLED_BEFORE_START}) is reported when its caller
 * gives up. Only calls made while at least one listener was registered are reported.
 *
 * @param loopName the name of the loop the call was made on
 * @param limiterName the name of the {@link CapacityLimiter} the call took its token from, or null
 *        if that limiter has no name
 * @param name the call's name ({@link RunSyncOptions#name()}), or null
 * @param cancelMode the call's {@link CancelMode}
 * @param outcome how the call ended
 * @param tokenWait how long the call waited for its limiter token, from the {@code runSync} call
 *        until the token was granted; zero if one was free at once. For a call cancelled before its
 *        function started: from the call until the cancellation.
 * @param run how long the function ran on its worker, measured on the worker; zero if it never ran
 * @param error what the function threw, if it ran and threw (whatever the outcome, so also for a
 *        shielded or abandoned call whose function failed); null otherwise
 */
public record OffloadEvent(String loopName, @Nullable String limiterName, @Nullable String name, CancelMode cancelMode,
        OffloadOutcome outcome, Duration tokenWait, Duration run, @Nullable Throwable error) {

    public OffloadEvent {
        Objects.requireNonNull(loopName, "loopName must not be null");
        Objects.requireNonNull(cancelMode, "cancelMode must not be null");
        Objects.requireNonNull(outcome, "outcome must not be null");
        Objects.requireNonNull(tokenWait, "tokenWait must not be null");
        Objects.requireNonNull(run, "run must not be null");
    }
}
