package dev.portal.internal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import dev.portal.jcstress.Waits;

/**
 * A job for the worker-pool tests: counts its runs, remembers the worker that ran it, and checks
 * that the worker was really running it alone: on its own thread, BUSY, and with no other job
 * marked as current (the marker an offload sets, and that the worker clears after each job).
 */
final class ProbeJob implements WorkerJob {

    private final boolean releaseEarly;
    private final BooleanSupplier holdUntil;
    private final AtomicInteger runs = new AtomicInteger();
    private volatile Worker ranOn;
    private volatile String problem = "";
    private volatile boolean held;

    /** A job that returns at once. */
    ProbeJob() {
        this(() -> true, false);
    }

    /**
     * A job that blocks its worker until {@code holdUntil} holds (at most {@link Waits#LATE_NANOS}),
     * then, with {@code releaseEarly}, hands its worker back before it returns, as offloads do.
     */
    ProbeJob(BooleanSupplier holdUntil, boolean releaseEarly) {
        this.holdUntil = holdUntil;
        this.releaseEarly = releaseEarly;
    }

    @Override
    public void runOnWorker(Worker worker) {
        if (Worker.current() != worker || worker.thread() != Thread.currentThread()) {
            problem += " not-on-its-worker";
        }
        if (worker.state() != Worker.BUSY) {
            problem += " worker-not-busy";
        }
        if (worker.currentJob() != null) {
            problem += " worker-had-a-job";
        }
        worker.setCurrentJob(this);
        ranOn = worker;
        if (!Waits.until(holdUntil, Waits.LATE_NANOS)) {
            held = true;
        }
        if (releaseEarly) {
            worker.release();
        }
        runs.incrementAndGet();
    }

    boolean ran() {
        return runs.get() > 0;
    }

    int runs() {
        return runs.get();
    }

    Worker ranOn() {
        return ranOn;
    }

    /** What went wrong: "" if nothing. */
    String problem() {
        return problem + (held ? " held its worker 1 s" : "");
    }
}
