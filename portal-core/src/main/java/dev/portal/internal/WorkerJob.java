package dev.portal.internal;

/** Work handed to a pooled worker thread. */
public interface WorkerJob {

    /**
     * Runs on the worker thread. The job may call {@link Worker#release()} once its function has
     * returned and before it frees its token, so that the call the token goes to next is taken by
     * this worker rather than waking another.
     */
    void runOnWorker(Worker worker);
}
