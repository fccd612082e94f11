package dev.portal;

/**
 * An immutable snapshot of an {@link Event}.
 *
 * @param tasksWaiting awaiters not yet woken
 */
public record EventStatistics(int tasksWaiting) {
}
