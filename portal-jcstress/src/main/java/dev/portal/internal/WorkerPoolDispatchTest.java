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
 * Two dispatches into a fresh pool while the first job blocks its worker: the second job still
 * gets a worker of its own, each runs exactly once, and neither shares a worker with the other.
 * This is the pool's first promise: a dispatched job reaches a thread promptly even if every other
 * worker is blocked. The handshakes under test: a dispatch that sees no searcher wakes or starts a
 * worker; a searcher that takes a job, sees more queued and is the last searcher wakes the next
 * worker.
 *
 * <p>{@code a} blocks its worker until {@code b} has run (at most {@link Waits#LATE_NANOS}), then
 * hands the worker back early ({@link Worker#release()}) as an offload does. The second actor
 * dispatches {@code b} as soon as {@code a} is queued, so it races the first worker's start: if
 * it lands while that worker still counts as a searcher, only the worker's hand-on after taking
 * {@code a} can start a second one.
 */
@JCStressTest
@Description("WorkerPool.dispatch racing another dispatch whose job blocks its worker")
@Outcome(id = "1, 1, two workers", expect = ACCEPTABLE, desc = "Both ran once, each on its own worker.")
@Outcome(expect = FORBIDDEN, desc = "b waited for a's blocked worker (late, held), a job was lost or ran twice, "
        + "both ran on one worker, or a job ran on a worker that was not running it alone; or an uncaught error.")
@State
public class WorkerPoolDispatchTest {

    private final WorkerPool pool = new WorkerPool("jcstress-dispatch-", Duration.ofSeconds(30), false, 2_000L,
            t -> uncaught = " uncaught " + t);
    private final ProbeJob a = new ProbeJob(() -> this.b.ran(), true);
    private final ProbeJob b = new ProbeJob();
    private final AtomicInteger finished = new AtomicInteger();
    private volatile boolean aQueued;
    // Each actor writes its own note; the arbiter reads them after both actors.
    private String noteA = "";
    private String noteB = "";
    private volatile String uncaught = "";

    @Actor
    public void dispatchA() {
        noteA = dispatchAndWait(a, "a", 2 * Waits.LATE_NANOS);
    }

    @Actor
    public void dispatchB() {
        // b goes in after a, so whichever worker polls first takes a.
        if (!Waits.spinUntil(() -> aQueued, Waits.LATE_NANOS)) {
            noteB = " a not queued";
        }
        Waits.jitter();
        noteB += dispatchAndWait(b, "b", Waits.LATE_NANOS);
    }

    /** Dispatches the job and waits for it; returns "" or what went wrong. */
    private String dispatchAndWait(ProbeJob job, String name, long timeoutNanos) {
        String note = "";
        try {
            pool.dispatch(job);
            if (job == a) {
                aQueued = true;
            }
            if (!Waits.until(job::ran, timeoutNanos)) {
                note = " late " + name;
            }
        } catch (Throwable t) {
            note = " " + t;
        }
        if (finished.incrementAndGet() == 2) {
            pool.shutdown(); // parked workers exit; the next sample starts a fresh pool
        }
        return note;
    }

    @Arbiter
    public void arbiter(IIL_Result r) {
        r.r1 = a.runs();
        r.r2 = b.runs();
        r.r3 = (a.ranOn() == b.ranOn() ? "one worker" : "two workers") + noteA + noteB + a.problem() + b.problem()
                + uncaught;
    }
}
