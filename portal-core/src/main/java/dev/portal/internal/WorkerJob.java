package dev.portal.internal;

/** Work handed to a pooled worker thread. */
public interface WorkerJob {

    /**
     * Runs on the worker thread. The job may call {@link Worker#release()} once its function has
     * returned and before it reports the outcome, so that the next offload can reuse this worker.
     */
    void runOnWorker(Worker worker);
}
