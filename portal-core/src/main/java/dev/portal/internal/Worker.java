package dev.portal.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

import org.jspecify.annotations.Nullable;

/**
 * One pooled worker thread. It is SEARCHING (awake, looking for a job), BUSY (running one), IDLE
 * (parked on the pool's idle stack) or RETIRED (exited). Only the worker moves itself between
 * SEARCHING and BUSY, and into IDLE; a dispatcher wakes it with a CAS from IDLE to SEARCHING,
 * and a CAS from IDLE to RETIRED retires it. Those two CASes decide every race between waking and
 * retiring. The pool's {@link WorkerPool} describes how jobs reach workers.
 */
public final class Worker implements Runnable {

    static final int SEARCHING = 0;
    static final int BUSY = 1;
    static final int IDLE = 2;
    static final int RETIRED = 3;

    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(Worker.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final ThreadLocal<Worker> CURRENT = new ThreadLocal<>();

    private final WorkerPool pool;
    private volatile int state = SEARCHING;
    private volatile @Nullable Object currentJob;
    /** Whether the running job has already counted this worker as searching again; worker thread only. */
    private boolean released;
    long idleSinceNanos;
    @Nullable Thread thread;

    Worker(WorkerPool pool) {
        this.pool = pool;
    }

    /** The worker running on the calling thread, or null. */
    public static @Nullable Worker current() {
        Thread t = Thread.currentThread();
        if (t instanceof WorkerThread) {
            return ((WorkerThread) t).worker;
        }
        return CURRENT.get();
    }

    /** The job object the worker is running, as set by the job; null between jobs. */
    public @Nullable Object currentJob() {
        return currentJob;
    }

    public void setCurrentJob(@Nullable Object job) {
        this.currentJob = job;
    }

    public Thread thread() {
        Thread t = thread;
        if (t == null) {
            throw new IllegalStateException("worker not started");
        }
        return t;
    }

    int state() {
        return state;
    }

    boolean isIdle() {
        return state == IDLE;
    }

    /** A dispatcher wakes this parked worker. */
    boolean claim() {
        return STATE.compareAndSet(this, IDLE, SEARCHING);
    }

    boolean retireIfIdle() {
        return STATE.compareAndSet(this, IDLE, RETIRED);
    }

    void setState(int s) {
        state = s;
    }

    /**
     * Declares the running job finished with this thread: the worker counts as searching from now
     * on, so a call that the job's token release hands on is picked up by this worker instead of
     * waking another. Once per job; a second call is ignored.
     */
    public void release() {
        if (released || state != BUSY) {
            return;
        }
        released = true;
        pool.searching();
    }

    void startJob() {
        released = false;
        state = BUSY;
    }

    /** After the job: searching again, unless the job already said so. */
    void endJob() {
        currentJob = null;
        if (!released) {
            released = true;
            pool.searching();
        }
        state = SEARCHING;
    }

    @Override
    public void run() {
        boolean platform = Thread.currentThread() instanceof WorkerThread;
        if (!platform) {
            CURRENT.set(this);
        }
        try {
            pool.work(this);
        } finally {
            if (!platform) {
                CURRENT.remove();
            }
            pool.exited(this);
        }
    }
}
