package dev.portal.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

import org.jspecify.annotations.Nullable;

/**
 * One pooled worker thread. Its state moves IDLE → BUSY when a dispatcher claims it and back to
 * IDLE when it releases itself; an idle worker that times out moves IDLE → RETIRED and exits. The
 * CAS on the state decides every race between a dispatcher and a retiring worker.
 */
public final class Worker implements Runnable {

    static final int IDLE = 0;
    static final int BUSY = 1;
    static final int RETIRED = 2;

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
    private volatile int state = BUSY;
    private volatile @Nullable WorkerJob slot;
    private volatile @Nullable Object currentJob;
    private long idleSinceNanos;
    /** Whether the current job has already returned this worker to the pool; worker thread only. */
    private boolean released;
    @Nullable Thread thread;

    Worker(WorkerPool pool, WorkerJob first) {
        this.pool = pool;
        this.slot = first;
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

    boolean isIdle() {
        return state == IDLE;
    }

    boolean claim() {
        return STATE.compareAndSet(this, IDLE, BUSY);
    }

    boolean retireIfIdle() {
        return STATE.compareAndSet(this, IDLE, RETIRED);
    }

    void assign(WorkerJob job) {
        slot = job;
        LockSupport.unpark(thread());
    }

    /**
     * Returns this worker to the pool's idle stack. Once per job: a second call is ignored, even if
     * a dispatcher has claimed the worker again in between (the state alone cannot tell).
     */
    public void release() {
        if (released || state != BUSY) {
            return;
        }
        released = true;
        idleSinceNanos = System.nanoTime();
        state = IDLE;
        pool.offerIdle(this);
    }

    @Override
    public void run() {
        boolean platform = Thread.currentThread() instanceof WorkerThread;
        if (!platform) {
            CURRENT.set(this);
        }
        try {
            work();
        } finally {
            if (!platform) {
                CURRENT.remove();
            }
            pool.exited(this);
        }
    }

    /**
     * Spins briefly for a job before parking: a worker that just finished is often handed the next
     * call within microseconds, and a park/unpark pair costs more than that. The spin lasts at most
     * {@code portal.worker.spinNanos} (20 µs; 0 turns it off) once per transition to idle, so an idle
     * pool is parked and costs no CPU.
     */
    private boolean spinForJob() {
        long deadline = System.nanoTime() + SPIN_NANOS;
        do {
            if (slot != null || state != IDLE) {
                return true;
            }
            Thread.onSpinWait();
        } while (System.nanoTime() - deadline < 0);
        return false;
    }

    private static final long SPIN_NANOS = Long.getLong("portal.worker.spinNanos", 20_000L);

    private void work() {
        long idleTimeout = pool.idleTimeoutNanos();
        while (true) {
            WorkerJob job = slot;
            if (job != null) {
                slot = null;
                released = false;
                try {
                    job.runOnWorker(this);
                } catch (Throwable t) {
                    pool.reportUncaught(t);
                } finally {
                    currentJob = null;
                    Thread.interrupted();
                }
                release();
                continue;
            }
            int s = state;
            if (s == RETIRED) {
                return;
            }
            if (s == IDLE) {
                if (pool.isShutdown()) {
                    if (retireIfIdle()) {
                        pool.removeIdle(this);
                        return;
                    }
                    continue;
                }
                long remaining = idleTimeout - (System.nanoTime() - idleSinceNanos);
                if (remaining <= 0) {
                    if (retireIfIdle()) {
                        pool.removeIdle(this);
                        pool.retired();
                        return;
                    }
                    continue;
                }
                if (SPIN_NANOS > 0 && spinForJob()) {
                    continue;
                }
                LockSupport.parkNanos(this, remaining);
            } else {
                // BUSY: claimed by a dispatcher, the job is on its way.
                LockSupport.park(this);
            }
        }
    }
}
