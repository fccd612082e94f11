package dev.portal;

/**
 * An immutable snapshot of a loop's worker threads.
 *
 * @param live worker threads alive now
 * @param idle workers waiting for a job
 * @param busy calls running on workers now, abandoned ones included
 * @param abandonedRunning calls whose caller left (ABANDON or INTERRUPT) that are still running;
 *        each still holds its limiter token
 * @param created threads started since the loop started
 * @param retired threads that exited after the idle timeout
 * @param virtual whether workers are virtual threads
 * @param startFailures worker threads the loop tried to start and could not (the thread factory
 *        threw or returned null, or the JVM could not create the thread); each failed the calls
 *        left without a worker, and none is counted in {@code created}
 */
public record WorkerPoolStatistics(int live, int idle, long busy, long abandonedRunning, long created, long retired,
        boolean virtual, long startFailures) {

    /** A snapshot with no failed thread start. */
    public WorkerPoolStatistics(int live, int idle, long busy, long abandonedRunning, long created, long retired,
            boolean virtual) {
        this(live, idle, busy, abandonedRunning, created, retired, virtual, 0);
    }
}
