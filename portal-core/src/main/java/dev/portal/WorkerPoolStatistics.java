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
 */
public record WorkerPoolStatistics(int live, int idle, long busy, long abandonedRunning, long created, long retired,
        boolean virtual) {
}
