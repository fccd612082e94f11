package dev.portal.internal;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import org.openjdk.jcstress.infra.results.IIL_Result;

import dev.portal.jcstress.Waits;

/**
 * The sample shared by {@link WorkerPoolParkTest} and {@link WorkerPoolRetireTest}: one actor
 * dispatches {@code a}; the other waits until {@code a} has run and dispatches {@code b} as the
 * pool's only worker goes from its job to the idle stack. The tests differ in the idle timeout, so
 * in what the worker does next (park, or retire), and in what their outcomes mean. Each test keeps
 * its own {@code @Actor} and {@code @Arbiter} methods, since jcstress reads only a test's declared
 * methods; they delegate here.
 */
abstract class AfterOneJobRace {

    private final WorkerPool pool;
    private final ProbeJob a = new ProbeJob();
    private final ProbeJob b = new ProbeJob();
    private final AtomicInteger finished = new AtomicInteger();
    // Each actor writes its own note; the arbiter reads them after both actors.
    private String noteA = "";
    private String noteB = "";
    private volatile String uncaught = "";

    AfterOneJobRace(String namePrefix, Duration idleTimeout) {
        pool = new WorkerPool(namePrefix, idleTimeout, false, 2_000L, t -> uncaught = " uncaught " + t);
    }

    final void dispatchA() {
        try {
            pool.dispatch(a);
            if (!Waits.until(a::ran, Waits.LATE_NANOS)) {
                noteA = " late a";
            }
        } catch (Throwable t) {
            noteA = " " + t;
        }
        finish();
    }

    final void dispatchBAfterA() {
        try {
            if (Waits.until(a::ran, 2 * Waits.LATE_NANOS)) {
                Waits.jitter();
                pool.dispatch(b);
                if (!Waits.until(b::ran, Waits.LATE_NANOS)) {
                    noteB = " late b";
                }
            } else {
                noteB = " a never ran";
            }
        } catch (Throwable t) {
            noteB = " " + t;
        }
        finish();
    }

    private void finish() {
        if (finished.incrementAndGet() == 2) {
            pool.shutdown(); // parked workers exit; the next sample starts a fresh pool
        }
    }

    final void judge(IIL_Result r) {
        r.r1 = a.runs();
        r.r2 = b.runs();
        r.r3 = (a.ranOn() == b.ranOn() ? "same worker" : "new worker") + noteA + noteB + a.problem() + b.problem()
                + uncaught;
    }
}
