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
 * A job dispatched while the pool's only worker goes idle and parks still runs, promptly and
 * exactly once. The handshake under test (see {@link WorkerPool}'s "No lost wake-up"): a worker
 * going idle pushes itself on the idle stack, stops counting as a searcher and then looks at the
 * queue once more; a dispatcher enqueues and then reads the searcher count, waking the parked
 * worker if it is zero.
 *
 * <p>The first actor dispatches {@code a}; the second waits until {@code a} has run and then
 * dispatches {@code b}, racing the worker's way from its job through the empty queue to the idle
 * stack and into park. Idle workers wait 30 s here before they retire, so a {@code b} that nobody
 * saw stays queued and is reported late (after {@link Waits#LATE_NANOS}) instead of being picked
 * up by a retiring worker's last look at the queue.
 */
@JCStressTest
@Description("WorkerPool.dispatch racing the only worker going idle and parking")
@Outcome(id = "1, 1, same worker", expect = ACCEPTABLE,
        desc = "b was taken by a's worker: before it parked, in its last look at the queue, or woken.")
@Outcome(id = "1, 1, new worker", expect = ACCEPTABLE,
        desc = "a's worker took itself off the idle stack (it saw b in its last look) as the dispatch found it "
                + "there, so the dispatch started another worker, which took b first.")
@Outcome(expect = FORBIDDEN, desc = "A job was lost or late (a lost wake-up), ran twice, or ran on a worker that "
        + "was not running it alone; or an uncaught error.")
@State
public class WorkerPoolParkTest extends AfterOneJobRace {

    public WorkerPoolParkTest() {
        super("jcstress-park-", Duration.ofSeconds(30));
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
