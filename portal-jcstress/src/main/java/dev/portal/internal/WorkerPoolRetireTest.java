package dev.portal.internal;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIL_Result;

import dev.portal.jcstress.Waits;

/**
 * A job dispatched while the pool's only worker retires still runs, exactly once. The idle
 * timeout is 1 ns, so a worker that finds nothing retires the moment it has parked itself on the
 * idle stack. The handshake under test: the worker retires with a CAS from IDLE to RETIRED, a
 * dispatcher wakes it with a CAS from IDLE to SEARCHING, and exactly one of them wins; a
 * dispatcher that loses starts a new worker.
 *
 * <p>The first actor dispatches {@code a}; the second waits until {@code a} has run and then
 * dispatches {@code b}, racing the worker's way from its job through the empty queue to
 * retirement. {@code b} is taken either by that worker (it saw {@code b} in its last look at the
 * queue, or was woken before it could retire) or by a new one.
 */
@JCStressTest
@Description("WorkerPool.dispatch racing the only worker retiring")
@Outcome(id = "1, 1, same worker", expect = ACCEPTABLE, desc = "b was taken by a's worker before it retired.")
@Outcome(id = "1, 1, new worker", expect = ACCEPTABLE, desc = "a's worker retired; the dispatch of b started another.")
@Outcome(expect = FORBIDDEN, desc = "A job was lost or late, ran twice, or ran on a worker that was not running "
        + "it alone; or an uncaught error.")
@State
public class WorkerPoolRetireTest {

    private final WorkerPool pool = new WorkerPool("jcstress-retire-", Duration.ofNanos(1), false,
            t -> uncaught = " uncaught " + t);
    private final ProbeJob a = new ProbeJob();
    private final ProbeJob b = new ProbeJob();
    private final AtomicInteger finished = new AtomicInteger();
    // Each actor writes its own note; the arbiter reads them after both actors.
    private String noteA = "";
    private String noteB = "";
    private volatile String uncaught = "";

    @Actor
    public void first() {
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

    @Actor
    public void second() {
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
            pool.shutdown();
        }
    }

    @Arbiter
    public void arbiter(IIL_Result r) {
        r.r1 = a.runs();
        r.r2 = b.runs();
        r.r3 = (a.ranOn() == b.ranOn() ? "same worker" : "new worker") + noteA + noteB + a.problem() + b.problem()
                + uncaught;
    }
}
