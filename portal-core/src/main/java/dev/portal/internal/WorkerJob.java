package dev.portal.internal;

/** Work handed to a pooled worker thread. */
public interface WorkerJob {

    /**
     * Runs on the worker thread. The job may call {@link Worker#release()} once its function has
     * returned and before it frees its token, so that the call the token goes to next is taken by
     * this worker rather than waking another.
     */
    void runOnWorker(Worker worker);

    /**
     * The pool gives up on the job: no thread could be started to run it (see {@link WorkerPool}).
     * Any thread; the job never runs. A job whose caller waits must answer it here (a call fails
     * with {@code cause} and returns its token); the default does nothing.
     */
    default void notRun(Throwable cause) {
    }
}
