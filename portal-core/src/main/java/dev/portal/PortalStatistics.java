package dev.portal;

/**
 * An immutable snapshot of a {@link BlockingPortal}.
 *
 * @param running whether the portal accepts calls
 * @param tasks portal tasks alive now
 * @param calls {@code call} and {@code callSync} invocations
 * @param tasksStarted {@code startTaskSoon} and {@code startTask} invocations
 * @param resourcesWrapped {@code wrapAsyncResource} and {@code withAsyncResource} invocations
 * @param succeeded portal tasks that completed with a value
 * @param failed portal tasks that failed
 * @param cancelled portal tasks that ended cancelled (by their future or by {@code stop(true)})
 * @param rejected calls refused because the portal was not running or the caller was the loop thread
 */
public record PortalStatistics(boolean running, int tasks, long calls, long tasksStarted, long resourcesWrapped,
        long succeeded, long failed, long cancelled, long rejected) {
}
