package dev.portal;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What happened when an event loop stopped: returned by {@link EventLoop#shutdownGracefully}, for
 * the graceful stop or for whatever stop came first ({@link EventLoop#shutdown()},
 * {@link EventLoop#close()}, the end of {@link EventLoop#run}'s main function).
 *
 * <pre>{@code
 * ShutdownReport report = loop.shutdownGracefully(Duration.ofSeconds(20), CancelMode.INTERRUPT);
 * if (!report.finishedWithinGrace()) {
 *     log.warn("{}", report);   // which tasks were cancelled, which calls were left running
 * }
 * }</pre>
 *
 * @param loopName the loop's name
 * @param finishedWithinGrace whether every task and offload ended on its own before the stop
 *        cancelled anything (for a stop without a grace period: whether nothing was left to cancel)
 * @param duration from the stop's start (the {@code shutdownGracefully} call, or the start of a
 *        stop without a grace period) until the loop had terminated and its workers were waited for
 * @param tasksFinished tasks that ended during the grace period, including tasks that running tasks
 *        started during it (the loop counts from when it takes the stop up, within one turn of the
 *        call; portals' own tasks, which end once their calls have, count too)
 * @param tasksCancelled the tasks still running when the grace period ended, which the stop then
 *        cancelled, oldest first
 * @param offloadsCancelled {@link ToThread#runSync} calls the stop cancelled before their function
 *        started (waiting for a limiter token, or not yet on a worker): their function never ran
 * @param offloadsInterrupted calls whose worker the stop interrupted ({@link CancelMode#INTERRUPT}),
 *        calls abandoned earlier and still running included
 * @param offloadsAbandoned calls whose caller the stop released while the function ran on
 *        ({@link CancelMode#ABANDON})
 * @param offloadsShielded calls the stop waited for ({@link CancelMode#SHIELD})
 * @param abandonedCalls the workers still inside a function when the stop returned: abandoned calls,
 *        interrupted calls whose function ignores interrupts, and shielded calls that outlived the
 *        loop's shutdown timeout. Their threads are the loop's only ones left; each exits when its
 *        function returns.
 */
public record ShutdownReport(String loopName, boolean finishedWithinGrace, Duration duration, int tasksFinished,
        List<TaskInfo> tasksCancelled, long offloadsCancelled, long offloadsInterrupted, long offloadsAbandoned,
        long offloadsShielded, List<AbandonedCall> abandonedCalls) {

    /**
     * A worker thread still running a function when the stop returned.
     *
     * @param threadName the worker thread's name ({@code <loop name>-worker-N} by default)
     * @param function the call's name ({@link RunSyncOptions#withName}), or else the function's
     *        {@code toString()}
     */
    public record AbandonedCall(String threadName, String function) {
        public AbandonedCall {
            Objects.requireNonNull(threadName, "threadName must not be null");
            Objects.requireNonNull(function, "function must not be null");
        }

        @Override
        public String toString() {
            return threadName + " in " + function;
        }
    }

    public ShutdownReport {
        Objects.requireNonNull(loopName, "loopName must not be null");
        Objects.requireNonNull(duration, "duration must not be null");
        tasksCancelled = List.copyOf(tasksCancelled);
        abandonedCalls = List.copyOf(abandonedCalls);
    }

    /** Whether a worker thread of the loop is still running a function (see {@link #abandonedCalls}). */
    public boolean hasAbandonedCalls() {
        return !abandonedCalls.isEmpty();
    }

    /**
     * One line for a log, for example {@code ShutdownReport[portal-loop-1 finished within the grace
     * period, stopped in 12 ms: 3 tasks finished]} or {@code ShutdownReport[portal-loop-1 cancelled work
     * after the grace period, stopped in 1042 ms: 2 tasks finished, 1 cancelled [request-7]; offloads: 1 interrupted;
     * still running: portal-loop-1-worker-3 in legacy-report]}.
     */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("ShutdownReport[").append(loopName);
        s.append(finishedWithinGrace ? " finished within the grace period, stopped in "
                : " cancelled work after the grace period, stopped in ");
        s.append(format(duration)).append(": ").append(tasksFinished).append(tasksFinished == 1 ? " task" : " tasks")
                .append(" finished");
        if (!tasksCancelled.isEmpty()) {
            s.append(", ").append(tasksCancelled.size()).append(" cancelled [");
            for (int i = 0; i < tasksCancelled.size(); i++) {
                s.append(i == 0 ? "" : ", ").append(tasksCancelled.get(i).name());
            }
            s.append(']');
        }
        if (offloadsCancelled + offloadsInterrupted + offloadsAbandoned + offloadsShielded > 0) {
            s.append("; offloads:");
            String sep = " ";
            if (offloadsCancelled > 0) {
                s.append(sep).append(offloadsCancelled).append(" cancelled before start");
                sep = ", ";
            }
            if (offloadsInterrupted > 0) {
                s.append(sep).append(offloadsInterrupted).append(" interrupted");
                sep = ", ";
            }
            if (offloadsAbandoned > 0) {
                s.append(sep).append(offloadsAbandoned).append(" abandoned");
                sep = ", ";
            }
            if (offloadsShielded > 0) {
                s.append(sep).append(offloadsShielded).append(" waited for");
            }
        }
        if (!abandonedCalls.isEmpty()) {
            s.append("; still running: ");
            for (int i = 0; i < abandonedCalls.size(); i++) {
                s.append(i == 0 ? "" : ", ").append(abandonedCalls.get(i));
            }
        }
        return s.append(']').toString();
    }

    private static String format(Duration d) {
        long millis = d.toMillis();
        return millis < 10_000 ? millis + " ms" : d.toSeconds() + " s";
    }
}
