package dev.portal;

import java.util.List;

/**
 * Several tasks of one {@link TaskGroup} failed (AnyIO's {@code ExceptionGroup}). Each failure is
 * in {@link #exceptions()} and also attached as a suppressed exception, so stack traces show all.
 * When only one task fails, the group fails with that exception itself.
 */
public final class TaskGroupException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final List<Throwable> exceptions;

    TaskGroupException(List<Throwable> exceptions) {
        super(message(exceptions), null, true, false);
        this.exceptions = List.copyOf(exceptions);
        for (Throwable t : this.exceptions) {
            addSuppressed(t);
        }
    }

    private static String message(List<Throwable> exceptions) {
        StringBuilder sb = new StringBuilder(exceptions.size() + " tasks failed:");
        for (Throwable t : exceptions) {
            sb.append(" [").append(t).append(']');
        }
        return sb.toString();
    }

    /** The failures, in the order they happened. */
    public List<Throwable> exceptions() {
        return exceptions;
    }
}
