package dev.portal;

import java.util.Objects;

import org.jspecify.annotations.Nullable;

/**
 * Options for {@link ToThread#runSync(java.util.concurrent.Callable, RunSyncOptions)}.
 *
 * <pre>{@code
 * RunSyncOptions.defaults().withCancelMode(CancelMode.INTERRUPT).withLimiter(dbLimiter).withName("load-report")
 * }</pre>
 *
 * @param cancelMode what a cancelled caller does; null (the default) means the loop's
 *        {@linkplain EventLoop#defaultCancelMode() default cancel mode}, {@link CancelMode#SHIELD} unless
 *        the loop was built with another
 * @param limiter the limiter to take a token from; null means the loop's default limiter
 * @param name a name for the call, shown in statistics and the limiter's borrowers; may be null
 */
public record RunSyncOptions(@Nullable CancelMode cancelMode, @Nullable CapacityLimiter limiter, @Nullable String name) {

    private static final RunSyncOptions DEFAULTS = new RunSyncOptions(null, null, null);

    /** The loop's default cancel mode ({@link CancelMode#SHIELD} unless configured), its default limiter, unnamed. */
    public static RunSyncOptions defaults() {
        return DEFAULTS;
    }

    public RunSyncOptions withCancelMode(CancelMode cancelMode) {
        return new RunSyncOptions(Objects.requireNonNull(cancelMode, "cancelMode must not be null"), limiter, name);
    }

    public RunSyncOptions withLimiter(CapacityLimiter limiter) {
        return new RunSyncOptions(cancelMode, Objects.requireNonNull(limiter, "limiter must not be null"), name);
    }

    public RunSyncOptions withName(String name) {
        return new RunSyncOptions(cancelMode, limiter, Objects.requireNonNull(name, "name must not be null"));
    }
}
