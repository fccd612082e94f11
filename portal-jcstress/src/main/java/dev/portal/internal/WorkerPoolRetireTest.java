package dev.portal.internal;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.time.Duration;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIL_Result;

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
public class WorkerPoolRetireTest extends AfterOneJobRace {

    public WorkerPoolRetireTest() {
        super("jcstress-retire-", Duration.ofNanos(1));
    }

    @Actor
    public void first() {
        dispatchA();
    }

    @Actor
    public void second() {
        dispatchBAfterA();
    }

    @Arbiter
    public void arbiter(IIL_Result r) {
        judge(r);
    }
}
