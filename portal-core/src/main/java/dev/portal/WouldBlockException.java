package dev.portal;

/**
 * Thrown by the non-blocking {@link CapacityLimiter} acquires when no token can be had without
 * waiting (AnyIO's {@code WouldBlock}).
 */
public final class WouldBlockException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    WouldBlockException(String message) {
        super(message, null, false, false);
    }
}
