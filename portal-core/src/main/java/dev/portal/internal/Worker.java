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
public final class Worker extends WorkerFields implements Runnable {

    static final int SEARCHING = 0;
    static final int BUSY = 1;
    static final int IDLE = 2;
    static final int RETIRED = 3;

    private static final VarHandle STATE;
    private static final VarHandle CURRENT_JOB;
    private static final VarHandle STARTED_COUNT;
    private static final VarHandle SUCCEEDED_COUNT;
    private static final VarHandle FAILED_COUNT;

    static final int STARTED = 0;
    static final int SUCCEEDED = 1;
    static final int FAILED = 2;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(WorkerFields.class, "state", int.class);
            CURRENT_JOB = MethodHandles.lookup().findVarHandle(WorkerFields.class, "currentJob", Object.class);
            STARTED_COUNT = MethodHandles.lookup().findVarHandle(WorkerFields.class, "started", long.class);
            SUCCEEDED_COUNT = MethodHandles.lookup().findVarHandle(WorkerFields.class, "succeeded", long.class);
            FAILED_COUNT = MethodHandles.lookup().findVarHandle(WorkerFields.class, "failed", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final ThreadLocal<Worker> CURRENT = new ThreadLocal<>();

    @SuppressWarnings("unused")
    private long q0, q1, q2, q3, q4, q5, q6, q7;

    Worker(WorkerPool pool) {
        super(pool);
    }

    /** Counts a call whose function starts on this worker. Worker thread only. */
    public void countStarted() {
        STARTED_COUNT.setOpaque(this, started + 1);
    }

    /** Counts a call whose function returned ({@code failed}: threw) on this worker. Worker thread only. */
    public void countFinished(boolean threw) {
        if (threw) {
            FAILED_COUNT.setOpaque(this, failed + 1);
        } else {
            SUCCEEDED_COUNT.setOpaque(this, succeeded + 1);
        }
    }

    /** One of this worker's counts: {@link #STARTED}, {@link #SUCCEEDED} or {@link #FAILED}. Any thread. */
    long count(int which) {
        switch (which) {
            case STARTED:
                return (long) STARTED_COUNT.getOpaque(this);
            case SUCCEEDED:
                return (long) SUCCEEDED_COUNT.getOpaque(this);
            default:
                return (long) FAILED_COUNT.getOpaque(this);
        }
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

    /**
     * Marks the job the worker runs, or null. A release store: a job that must be found by an
     * interrupter publishes its state with a CAS after this, which orders the two.
     */
    public void setCurrentJob(@Nullable Object job) {
        CURRENT_JOB.setRelease(this, job);
    }

    /** The context this worker keeps applied between jobs ({@link ThreadContext#enter}). Worker thread only. */
    public ThreadContext.Kept keptContext() {
        return keptContext;
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
     * Declares that the running job is about to free its limiter token: a job that the release
     * dispatches from this thread is handed to this worker to run next, with no queue, no atomic
     * count and no wake-up (see {@link WorkerPool#dispatch}). Follow with {@link #release}.
     */
    public void openHandoff() {
        if (state == BUSY) {
            handoffOpen = true;
        }
    }

    /**
     * Declares the running job finished with this thread: unless a job was handed to it, the worker
     * counts as searching from now on, so a call that the job's caller makes next, once it hears
     * of this one, is picked up by this worker instead of waking another. Once per job; a second
     * call is ignored.
     */
    public void release() {
        handoffOpen = false;
        if (released || handoff != null || state != BUSY) {
            return;
        }
        released = true;
        pool.searching();
    }

    /** Whether a job dispatched now from this worker's thread can be handed to it. */
    boolean takesHandoff(WorkerPool dispatcher) {
        return handoffOpen && handoff == null && dispatcher == pool;
    }

    void startJob() {
        released = false;
        handoffOpen = false;
        STATE.setRelease(this, BUSY);
    }

    /**
     * After the job: the job handed to this worker, which it runs next, still busy and never
     * counted as searching; or null, and the worker is searching again.
     */
    @Nullable WorkerJob endJob() {
        CURRENT_JOB.setRelease(this, null);
        handoffOpen = false;
        WorkerJob next = handoff;
        if (next != null) {
            handoff = null;
            return next;
        }
        if (!released) {
            released = true;
            pool.searching();
        }
        STATE.setRelease(this, SEARCHING);
        return null;
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
            ThreadContext.leave(keptContext);
            if (!platform) {
                CURRENT.remove();
            }
            pool.exited(this);
        }
    }
}

/**
 * The padding before {@link WorkerFields}. A worker writes its fields on every call it runs, and the
 * pool allocates its workers one after another: padded on both sides (here and in {@link Worker}),
 * no two workers share a cache line.
 */
abstract class WorkerPadding {
    @SuppressWarnings("unused")
    private int gap;
    @SuppressWarnings("unused")
    private long p0, p1, p2, p3, p4, p5, p6, p7;
}

/** The fields of {@link Worker}; see there. */
abstract class WorkerFields extends WorkerPadding {
    final WorkerPool pool;
    volatile int state = Worker.SEARCHING;
    /** Written by this worker with release stores; read by anyone (an interrupter's scan). */
    volatile @Nullable Object currentJob;
    // Worker thread only.
    /** Whether the running job has counted this worker as searching again (see {@link Worker#release}). */
    boolean released;
    /** Whether a job dispatched from this thread now is handed to this worker (see {@link Worker#openHandoff}). */
    boolean handoffOpen;
    /** A job handed to this worker, to run next. */
    @Nullable WorkerJob handoff;
    long idleSinceNanos;
    /** The callers' context still applied from the last job; restored before the worker idles. */
    final ThreadContext.Kept keptContext = new ThreadContext.Kept();
    @Nullable Thread thread;
    /**
     * Calls this worker started and finished. Written by the worker only, with opaque stores (so a
     * reader never sees a torn value); the pool sums them ({@link WorkerPool#started()}). A shared
     * counter would be a contended CAS per call among all the workers.
     */
    long started;
    long succeeded;
    long failed;

    WorkerFields(WorkerPool pool) {
        this.pool = pool;
    }
}
