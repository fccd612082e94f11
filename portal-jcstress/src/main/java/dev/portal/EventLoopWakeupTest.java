package dev.portal;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.LI_Result;

import dev.portal.jcstress.Waits;

/**
 * A callback submitted from another thread while the loop goes idle always runs, exactly once,
 * in the order submitted. The handshake under test: the loop sets its sleeping flag and then looks
 * at the external queue once more before it parks; a submitter offers to the queue and then reads
 * the flag, unparking the loop if it was set.
 *
 * <p>One actor <em>is</em> the loop: it runs {@link EventLoop#run} on its own thread, so every
 * sample is a fresh loop that goes idle as soon as its main function returns. The other actor
 * submits {@code a} and {@code b} at once (they race that first transition to idle), waits for
 * them, then submits {@code c}, which races the loop going idle again after running {@code b}.
 * If a callback is still queued after {@link Waits#LATE_NANOS}, the submitter counts it and
 * unparks the loop itself, so a lost wake-up shows up as an outcome instead of a hang.
 */
@JCStressTest
@Description("EventLoop.execute from another thread racing the loop going to sleep")
@Outcome(id = "abc, 0", expect = ACCEPTABLE,
        desc = "Each callback ran once, in submission order, and every submission woke the loop when it had to.")
@Outcome(expect = FORBIDDEN,
        desc = "Lost wake-up (second number: callbacks still queued after 1 s while the loop slept), a callback "
                + "lost, run twice or out of order, or an error.")
@State
public class EventLoopWakeupTest {

    private volatile EventLoop loop;
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    /** What ran, in order; appended on the loop thread only, read by the arbiter after both actors. */
    private final StringBuilder log = new StringBuilder();
    /** Callbacks run so far; written by the loop thread only. */
    private volatile int ran;
    /** Submissions the loop slept through; submitter only. */
    private int late;
    // Errors, each written by one actor only.
    private String loopError = "";
    private String submitError = "";

    @Actor
    public void loopThread() {
        try {
            EventLoop.builder().blockedLoopThreshold(Duration.ZERO).run(() -> {
                loop = EventLoop.current();
                return done;
            });
        } catch (Throwable t) {
            loopError = " " + t;
        }
    }

    @Actor
    public void submitter() {
        EventLoop l = awaitLoop();
        if (l == null) {
            return;
        }
        Waits.jitter();
        l.execute(() -> record('a'));
        l.execute(() -> record('b'));
        awaitRan(l, 2);
        Waits.jitter();
        l.execute(() -> {
            record('c');
            done.complete(null);
        });
        if (!awaitRan(l, 3)) {
            // c is gone: let the loop actor return so the test reports instead of hanging.
            done.complete(null);
            LockSupport.unpark(l.thread());
        }
    }

    @Arbiter
    public void arbiter(LI_Result r) {
        r.r1 = log + loopError + submitError;
        r.r2 = late;
    }

    private void record(char c) {
        log.append(c);
        ran = ran + 1;
    }

    private EventLoop awaitLoop() {
        if (!Waits.spinUntil(() -> loop != null, 10 * Waits.LATE_NANOS)) {
            submitError = " loop did not start";
            return null;
        }
        return loop;
    }

    /** Waits for {@code n} callbacks to have run; if they are late, counts it and wakes the loop. */
    private boolean awaitRan(EventLoop l, int n) {
        if (Waits.spinUntil(() -> ran >= n, Waits.LATE_NANOS)) {
            return true;
        }
        late++;
        LockSupport.unpark(l.thread());
        return Waits.spinUntil(() -> ran >= n, Waits.LATE_NANOS);
    }
}
