package dev.portal;

import java.util.Objects;

import org.jspecify.annotations.Nullable;

/**
 * A cancellation as it happens, for {@link EventLoopListener#onCancellation}; see
 * {@link CancellationKind} for what one event means. What a cancellation did to each
 * {@link ToThread#runSync} call it reached is reported separately, as that call's
 * {@link OffloadEvent#outcome()}. The loop's own stop, which cancels every task, is not reported
 * as a cancellation.
 *
 * @param loopName the name of the loop
 * @param kind what was cancelled, and how
 * @param cancelMode for {@link CancellationKind#CHECK_CANCELLED}, the {@link CancelMode} of the call
 *        whose function polled; null for the other kinds, which concern a scope, not one call
 * @param offloadName for {@link CancellationKind#CHECK_CANCELLED}, the polling call's name
 *        ({@link RunSyncOptions#name()}), or null
 */
public record CancellationEvent(String loopName, CancellationKind kind, @Nullable CancelMode cancelMode,
        @Nullable String offloadName) {

    public CancellationEvent {
        Objects.requireNonNull(loopName, "loopName must not be null");
        Objects.requireNonNull(kind, "kind must not be null");
    }
}
