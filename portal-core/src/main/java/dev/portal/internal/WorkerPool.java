package dev.portal.internal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

import org.jspecify.annotations.Nullable;

/**
 * A pool of named worker threads that run the jobs handed to {@link #dispatch}. The pool never
 * bounds the number of threads: the capacity limiters do, because every offload holds a token from
 * the moment it is dispatched until its function returns. So every dispatched job must reach a
 * thread promptly, even if all the others block for hours.
 *
 * <p><b>How a job reaches a worker.</b> Jobs go into one queue. Workers that are awake and not
 * running a job are <em>searching</em>, and {@link #searchers} counts them. A dispatch wakes a
 * parked worker (or starts a thread) only when nobody is searching, and a searcher that takes a
 * job while more are queued and no other searcher is left wakes the next one. So a burst of calls
 * wakes workers one after another, as many as the work needs, instead of all at once; a worker
 * whose job frees a limiter token that a queued call is waiting for runs that call next itself
 * (a hand-off, no queue), and one that finishes with nothing handed to it counts as searching
 * before its caller hears of the result, so the caller's next call finds it. This is the
 * scheme of Go's scheduler and of {@code LinkedBlockingQueue}'s cascading signal.
 *
 * <p><b>Idle workers.</b> A worker that finds nothing spins for a few microseconds if no other
 * worker is spinning (a burst often resumes sooner than a park/unpark pair takes), then parks on an
 * idle stack. Parked workers are woken most-recently-idled first, as AnyIO does, and retire by
 * themselves after the idle timeout (a timed park, no timer thread). {@link #shutdown()} retires
 * the parked ones at once and the others once the queue is empty.
 *
 * <p><b>No lost wake-up.</b> A worker pushes itself on the idle stack before it stops counting as a
 * searcher, then looks at the queue once more; a dispatcher enqueues before it reads the count. One
 * of the two sees the other's write, so a queued job always has a searcher or a waking worker.
 *
 * <p><b>Threads.</b> Every worker thread comes from {@link #newThread}: the pool's thread factory
 * if it was given one, else a daemon platform thread (or a virtual thread) that does not inherit
 * its creator's {@code InheritableThreadLocal}s, since whichever thread happens to dispatch when a
 * worker is needed (the loop, a worker, a foreign thread resizing a limiter) must not hand its
 * values to every later call on that worker. The pool names each thread and makes it a daemon.
 *
 * <p><b>A thread that cannot be started</b> (the JVM's "unable to create native thread"
 * {@code OutOfMemoryError}, or a factory that throws) leaves the pool as it was: the searcher the
 * start was to add, the live entry and the created count are taken back, so the next dispatch
 * tries again. The jobs then queued with no worker searching for them never run: each is
 * {@linkplain WorkerJob#notRun told so} with the error (a call fails with it and returns its token).
 * A worker that was starting another while it holds a job keeps that job and runs it. If no job
 * was left without a worker, the error goes to the pool's uncaught handler, so it is never lost.
 */
public final class WorkerPool {

    private static final AtomicInteger POOL_IDS = new AtomicInteger();

    private final String namePrefix;
    private final long idleTimeoutNanos;
    private final boolean virtual;
    private final @Nullable ThreadFactory threadFactory;
    private final long spinNanos;
    /** Whether an idle worker spins at all; written by the spinning worker and by woken ones. */
    private final AdaptiveSpin adaptiveSpin;
    private final Consumer<Throwable> uncaught;
    private final ConcurrentLinkedQueue<WorkerJob> queue = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedDeque<Worker> idle = new ConcurrentLinkedDeque<>();
    private final AtomicInteger searchers = new AtomicInteger();
    private final AtomicBoolean spinning = new AtomicBoolean();
    private final Set<Worker> live = ConcurrentHashMap.newKeySet();
    private final AtomicInteger threadIds = new AtomicInteger();
    private final AtomicLong created = new AtomicLong();
    private final AtomicLong retired = new AtomicLong();
    private final AtomicLong startFailures = new AtomicLong();
    /** Whether the factory has returned a virtual thread. */
    private volatile boolean startedVirtual;
    /** Held by the thread that fails the jobs left without a worker after a failed start. */
    private final AtomicBoolean failingOrphans = new AtomicBoolean();
    private volatile boolean shutdown;
    // The call counts of workers that exited. A worker folds its counts in and leaves the live set
    // under foldLock, and a reader sums under it too, so no count is seen twice or missed.
    private final Object foldLock = new Object();
    /** Indexed by {@link Worker#STARTED}, {@link Worker#SUCCEEDED}, {@link Worker#FAILED}. */
    private final long[] exitedCounts = new long[3];

    /**
     * @param spinNanos how long a worker that finished a job spins for the next before it parks
     *        (validated by the loop's builder)
     */
    public WorkerPool(String namePrefix, Duration idleTimeout, boolean virtual, long spinNanos,
            Consumer<Throwable> uncaught) {
        this(namePrefix, idleTimeout, virtual, null, spinNanos, uncaught);
    }

    /**
     * @param threadFactory where worker threads come from; null: daemon platform threads, or virtual
     *        ones if {@code virtual}, none inheriting InheritableThreadLocals. The pool names each
     *        thread the factory returns and makes it a daemon.
     * @param spinNanos how long a worker that finished a job spins for the next before it parks
     *        (validated by the loop's builder)
     */
    public WorkerPool(String namePrefix, Duration idleTimeout, boolean virtual, @Nullable ThreadFactory threadFactory,
            long spinNanos, Consumer<Throwable> uncaught) {
        this.threadFactory = threadFactory;
        this.spinNanos = spinNanos;
        this.adaptiveSpin = new AdaptiveSpin(spinNanos);
        this.namePrefix = namePrefix.isEmpty() ? "portal-worker-" + POOL_IDS.incrementAndGet() + "-" : namePrefix;
        this.idleTimeoutNanos = idleTimeout.toNanos();
        this.virtual = virtual;
        this.uncaught = uncaught;
        if (virtual && threadFactory == null && !VirtualThreads.available()) {
            throw new UnsupportedOperationException("virtual worker threads need JDK 21 or newer (running "
                    + Runtime.version() + "); set virtualWorkers(false) or run on a newer JDK");
        }
    }

    /**
     * Queues the job for a worker, waking or starting one if nobody is searching. Any thread. A
     * worker of this pool whose job is freeing its token (the release grants the next call) takes
     * the job itself, as its next one: in a steady stream of short calls under a limiter, each
     * worker then runs call after call with no queue and no wake-up.
     */
    public void dispatch(WorkerJob job) {
        if (shutdown) {
            throw new IllegalStateException("worker pool " + namePrefix + "* is shut down");
        }
        Worker self = Worker.current();
        if (self != null && self.takesHandoff(this)) {
            self.handoff = job;
            return;
        }
        queue.offer(job);
        if (searchers.get() == 0) {
            wakeOrStart();
        }
    }

    /**
     * Adds a searcher: the most recently parked worker, or a new thread if none is parked. Never
     * throws: a thread that cannot be started is handled by {@link #startFailed}.
     */
    private void wakeOrStart() {
        searchers.incrementAndGet();
        Worker w;
        while ((w = idle.pollFirst()) != null) {
            if (w.claim()) {
                LockSupport.unpark(w.thread());
                return;
            }
        }
        start(new Worker(this));
    }

    /** Starts a thread for {@code worker}, already counted as a searcher. */
    private void start(Worker worker) {
        String name = namePrefix + threadIds.incrementAndGet();
        Thread thread;
        try {
            thread = newThread(worker, name);
            worker.thread = thread;
            live.add(worker); // before start: the thread leaves the set when it exits
            thread.start();
        } catch (Throwable t) {
            live.remove(worker);
            worker.thread = null;
            startFailed(t);
            return;
        }
        created.incrementAndGet();
        if (threadFactory != null && !startedVirtual && VirtualThreads.isVirtual(thread)) {
            startedVirtual = true;
        }
    }

    /**
     * A new, unstarted, named daemon thread that runs {@code worker}: the factory's, or one that
     * does not inherit the creating thread's InheritableThreadLocals.
     */
    private Thread newThread(Worker worker, String name) {
        ThreadFactory factory = threadFactory;
        if (factory == null) {
            return virtual ? VirtualThreads.unstarted(name, worker) : new WorkerThread(worker, name);
        }
        Thread thread = factory.newThread(worker);
        if (thread == null) {
            throw new IllegalStateException("the worker threadFactory " + factory + " returned null instead of a "
                    + "thread; it must return a new, unstarted thread");
        }
        if (thread.getState() != Thread.State.NEW) {
            throw new IllegalStateException("the worker threadFactory " + factory + " returned a thread that was "
                    + "already started (" + thread.getName() + "); it must return a new, unstarted thread");
        }
        thread.setName(name);
        if (!thread.isDaemon()) {
            thread.setDaemon(true);
        }
        return thread;
    }

    /**
     * No thread could be started for a searcher that {@link #wakeOrStart} counted: takes the count
     * back, then fails the jobs that are queued while nobody searches (they counted on that
     * searcher, or came while it was counted). One thread at a time fails them, in a loop rather
     * than by recursion: failing a call frees its token, which dispatches the next waiting call,
     * which may fail to start a thread in turn.
     */
    private void startFailed(Throwable error) {
        searchers.decrementAndGet();
        startFailures.incrementAndGet();
        boolean told = false;
        do {
            if (!failingOrphans.compareAndSet(false, true)) {
                told = true; // the thread failing orphans looks at the queue again once it is done
                break;
            }
            try {
                WorkerJob job;
                while (searchers.get() == 0 && (job = queue.poll()) != null) {
                    told = true;
                    try {
                        job.notRun(error);
                    } catch (Throwable t) {
                        reportUncaught(t);
                    }
                }
            } finally {
                failingOrphans.set(false);
            }
        } while (searchers.get() == 0 && !queue.isEmpty());
        if (!told) {
            reportUncaught(error);
        }
    }

    /** A worker stopped running a job's function and looks for the next job. */
    void searching() {
        searchers.incrementAndGet();
    }

    /** The worker's loop; it starts as a searcher, counted by whoever woke or started it. */
    void work(Worker worker) {
        while (true) {
            WorkerJob job = queue.poll();
            if (job != null) {
                worker.startJob();
                if (searchers.decrementAndGet() == 0 && !queue.isEmpty()) {
                    wakeOrStart();
                }
                do {
                    try {
                        job.runOnWorker(worker);
                    } catch (Throwable t) {
                        reportUncaught(t);
                    } finally {
                        Thread.interrupted();
                    }
                    job = worker.endJob();
                    if (job != null) {
                        worker.startJob(); // handed to us: still busy, never counted as searching
                    }
                } while (job != null);
                continue;
            }
            if (spinNanos > 0 && spinForJob()) {
                continue;
            }
            if (!parkUntilWoken(worker)) {
                // Retired. A job queued as we left, seen by nobody else, still gets a worker.
                if (!queue.isEmpty() && searchers.get() == 0) {
                    wakeOrStart();
                }
                return;
            }
        }
    }

    /**
     * Spins up to the pool's spin time ({@code EventLoop.Builder.workerSpin}, 2 µs by default; 0 turns it off) for a job, if no other
     * worker is spinning. Returns whether a job arrived. Long enough for the next call of a loop
     * that offloads one call at a time; longer spins took a core from the busy workers and the
     * loop at the end of every burst of short calls (1000 in flight on two cores: 20 µs gave 2.9 to
     * 4.2 M calls/s, 2 µs 4.7 to 6.0 M/s). Not at all while recent spins ran out before a job came
     * ({@link AdaptiveSpin}): paced calls would pay the spin on every one.
     */
    private boolean spinForJob() {
        if (spinning.get() || !spinning.compareAndSet(false, true)) {
            return false;
        }
        try {
            long spin = adaptiveSpin.spinNanos();
            if (spin <= 0) {
                return false;
            }
            long deadline = System.nanoTime() + spin;
            do {
                if (!queue.isEmpty()) {
                    adaptiveSpin.spun(true);
                    return true;
                }
                Thread.onSpinWait();
            } while (System.nanoTime() - deadline < 0);
            adaptiveSpin.spun(false);
            return false;
        } finally {
            spinning.set(false);
        }
    }

    /**
     * Parks the worker on the idle stack until a dispatcher wakes it (true) or it retires (false).
     * The push comes before the searcher count drops, and the queue is read after: see the class
     * comment.
     */
    private boolean parkUntilWoken(Worker worker) {
        ThreadContext.leave(worker.keptContext); // an idle worker carries no caller's context
        worker.idleSinceNanos = System.nanoTime();
        worker.setState(Worker.IDLE);
        idle.offerFirst(worker);
        searchers.decrementAndGet();
        if (!queue.isEmpty() && worker.claim()) {
            // Work arrived as we were leaving: search again (and take our entry off the stack).
            searchers.incrementAndGet();
            idle.removeFirstOccurrence(worker);
            return true;
        }
        while (worker.isIdle()) {
            if (shutdown) {
                return !retire(worker);
            }
            long remaining = idleTimeoutNanos - (System.nanoTime() - worker.idleSinceNanos);
            if (remaining <= 0) {
                if (retire(worker)) {
                    retired.incrementAndGet();
                    return false;
                }
                continue;
            }
            LockSupport.parkNanos(this, remaining);
        }
        // Claimed by a dispatcher, who counted us as a searcher; or retired by shutdown().
        if (worker.state() == Worker.SEARCHING) {
            adaptiveSpin.parked(System.nanoTime() - worker.idleSinceNanos);
            return true;
        }
        return false;
    }

    private boolean retire(Worker worker) {
        if (worker.retireIfIdle()) {
            idle.removeFirstOccurrence(worker);
            return true;
        }
        return false;
    }

    void exited(Worker worker) {
        synchronized (foldLock) {
            for (int which = 0; which < exitedCounts.length; which++) {
                exitedCounts[which] += worker.count(which);
            }
            live.remove(worker);
        }
    }

    /** Calls run by a pool's workers: function started, returned normally, threw. */
    public record CallCounts(long started, long succeeded, long failed) {
        /** Calls whose function has started and not yet returned; never negative. */
        public long running() {
            return Math.max(0, started - succeeded - failed);
        }
    }

    /**
     * The calls of the exited workers plus the live ones', in one pass under the lock a retiring
     * worker folds its counts in with, so no worker is between the two sets. Of each worker the
     * finishes are read before the starts, so a call finishing during the pass is never counted as
     * finished and not started. Workers count without the lock; only a reader (statistics) and a
     * retiring worker take it. Every count only grows. Any thread.
     */
    public CallCounts callCounts() {
        synchronized (foldLock) {
            long succeeded = exitedCounts[Worker.SUCCEEDED];
            long failed = exitedCounts[Worker.FAILED];
            long started = exitedCounts[Worker.STARTED];
            for (Worker w : live) {
                succeeded += w.count(Worker.SUCCEEDED);
                failed += w.count(Worker.FAILED);
                started += w.count(Worker.STARTED);
            }
            return new CallCounts(started, succeeded, failed);
        }
    }

    void reportUncaught(Throwable t) {
        uncaught.accept(t);
    }

    /**
     * Makes parked workers exit now and the others once the queue is empty. Returns the threads of
     * the parked workers, which exit promptly and may be joined.
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
                    LockSupport.unpark(t);
                }
            }
        }
        return exiting;
    }

    /** How long a worker that finished a job spins for the next before it parks; 0 when it never spins. */
    public long spinNanos() {
        return spinNanos;
    }

    public int liveThreads() {
        return live.size();
    }

    /** Live workers not running a job: parked, spinning or about to take one. */
    public int idleThreads() {
        int n = 0;
        for (Worker w : live) {
            int s = w.state();
            if (s == Worker.IDLE || s == Worker.SEARCHING) {
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

    /** Worker threads the pool tried to start and could not. Any thread. */
    public long startFailures() {
        return startFailures.get();
    }

    /** Whether the workers are virtual threads: set so, or (with a factory) the last one started was. */
    public boolean isVirtual() {
        return virtual || startedVirtual;
    }

    /** The worker whose current job is {@code job}, or null. Scans the live workers. */
    public @Nullable Worker workerRunning(Object job) {
        for (Worker w : live) {
            if (w.currentJob() == job) {
                return w;
            }
        }
        return null;
    }

    /** Whether the calling thread is one of this pool's workers. Any thread. */
    public boolean isWorkerThread() {
        Worker w = Worker.current();
        return w != null && w.pool == this;
    }

    /**
     * Whether a job is queued or a worker is running one (or one handed to it). Weakly consistent:
     * a job between the queue and its worker is missed for an instant. Any thread; scans the
     * live workers.
     */
    public boolean hasJobs() {
        if (!queue.isEmpty()) {
            return true;
        }
        for (Worker w : live) {
            if (w.state() == Worker.BUSY) {
                return true;
            }
        }
        return false;
    }

    /** The live workers, in no order. Any thread. */
    public List<Worker> workers() {
        return new ArrayList<>(live);
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
}
