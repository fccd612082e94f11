package dev.portal.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * A pool of named worker threads: idle workers are reused most-recently-idled first (as AnyIO
 * does), an idle worker retires by itself after the idle timeout (a timed park, no timer thread),
 * and {@link #shutdown()} makes every worker exit once it is idle. The pool never bounds the
 * number of threads: the capacity limiters do, because every offload holds a token while its
 * function runs.
 */
public final class WorkerPool {

    private static final AtomicInteger POOL_IDS = new AtomicInteger();

    private final String namePrefix;
    private final long idleTimeoutNanos;
    private final boolean virtual;
    private final Consumer<Throwable> uncaught;
    private final ConcurrentLinkedDeque<Worker> idle = new ConcurrentLinkedDeque<>();
    private final Set<Worker> live = ConcurrentHashMap.newKeySet();
    private final AtomicInteger threadIds = new AtomicInteger();
    private final AtomicLong created = new AtomicLong();
    private final AtomicLong retired = new AtomicLong();
    private volatile boolean shutdown;

    public WorkerPool(String namePrefix, Duration idleTimeout, boolean virtual, Consumer<Throwable> uncaught) {
        this.namePrefix = namePrefix.isEmpty() ? "portal-worker-" + POOL_IDS.incrementAndGet() + "-" : namePrefix;
        this.idleTimeoutNanos = idleTimeout.toNanos();
        this.virtual = virtual;
        this.uncaught = uncaught;
        if (virtual && !VirtualThreads.available()) {
            throw new UnsupportedOperationException("virtual worker threads need JDK 21 or newer (running "
                    + Runtime.version() + "); set virtualWorkers(false) or run on a newer JDK");
        }
    }

    /** Hands the job to an idle worker, or starts a new one. Any thread may call it. */
    public void dispatch(WorkerJob job) {
        if (shutdown) {
            throw new IllegalStateException("worker pool " + namePrefix + "* is shut down");
        }
        Worker w;
        while ((w = idle.pollFirst()) != null) {
            if (w.claim()) {
                w.assign(job);
                return;
            }
        }
        start(new Worker(this, job));
    }

    private void start(Worker worker) {
        String name = namePrefix + threadIds.incrementAndGet();
        Thread thread = virtual ? VirtualThreads.unstarted(name, worker) : new WorkerThread(worker, name);
        worker.thread = thread;
        live.add(worker);
        created.incrementAndGet();
        thread.start();
    }

    void offerIdle(Worker worker) {
        idle.offerFirst(worker);
        if (shutdown && worker.retireIfIdle()) {
            idle.remove(worker);
            unpark(worker);
        }
    }

    void removeIdle(Worker worker) {
        idle.remove(worker);
    }

    void retired() {
        retired.incrementAndGet();
    }

    void exited(Worker worker) {
        live.remove(worker);
    }

    void reportUncaught(Throwable t) {
        uncaught.accept(t);
    }

    long idleTimeoutNanos() {
        return idleTimeoutNanos;
    }

    boolean isShutdown() {
        return shutdown;
    }

    /**
     * Makes idle workers exit now and busy ones exit after their current job. Returns the threads
     * of the workers that were idle, which exit promptly and may be joined.
     */
    public List<Thread> shutdown() {
        shutdown = true;
        List<Thread> exiting = new ArrayList<>();
        for (Worker w : idle) {
            if (w.retireIfIdle()) {
                idle.remove(w);
                Thread t = w.thread;
                if (t != null) {
                    exiting.add(t);
                }
            }
            unpark(w);
        }
        return exiting;
    }

    public int liveThreads() {
        return live.size();
    }

    public int idleThreads() {
        int n = 0;
        for (Worker w : idle) {
            if (w.isIdle()) {
                n++;
            }
        }
        return n;
    }

    public long createdThreads() {
        return created.get();
    }

    public long retiredThreads() {
        return retired.get();
    }

    public boolean isVirtual() {
        return virtual;
    }

    public List<Thread> threads() {
        List<Thread> threads = new ArrayList<>();
        for (Worker w : live) {
            Thread t = w.thread;
            if (t != null) {
                threads.add(t);
            }
        }
        return threads;
    }

    /** Unparks a worker whose thread may not be published yet. */
    private static void unpark(Worker w) {
        Thread t = w.thread;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }
}
