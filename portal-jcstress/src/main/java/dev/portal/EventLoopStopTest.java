package dev.portal;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.LL_Result;

import dev.portal.jcstress.Waits;

/**
 * A callback submitted while the loop stops either runs or hears of the rejection, exactly once,
 * never both and never neither (the promise of {@link EventLoop}'s class comment). The handshake
 * under test: the submitter offers to the external queue and then re-reads the loop's state,
 * taking its callback back if the loop has terminated; the loop marks itself terminated and then
 * drains the queue, running plain callbacks and rejecting {@link LoopRejectable} ones.
 *
 * <p>One actor runs a loop whose main function returns a completed stage, so the loop stops as
 * soon as it starts. The other submits a plain callback {@code x}, then a rejectable one {@code y}.
 * Each ends as {@code ran} (by the loop, before or during the drain), {@code rejected} (told so by
 * the drain) or {@code threw} ({@code execute} threw {@link RejectedExecutionException}). Once
 * {@code x} is refused, {@code y}, submitted after it by the same thread, must be refused too.
 */
@JCStressTest
@Description("EventLoop.execute from another thread racing the loop stopping")
@Outcome(id = "ran, ran", expect = ACCEPTABLE, desc = "Both were submitted before the loop stopped.")
@Outcome(id = "ran, rejected", expect = ACCEPTABLE,
        desc = "y reached the queue as the loop terminated: the drain rejected it.")
@Outcome(id = "ran, threw", expect = ACCEPTABLE, desc = "y came after the loop terminated: execute threw.")
@Outcome(id = "threw, threw", expect = ACCEPTABLE, desc = "Both came after the loop terminated.")
@Outcome(expect = FORBIDDEN, desc = "A callback vanished (lost), was both run and refused, ran twice, or y was "
        + "accepted after x was refused.")
@State
public class EventLoopStopTest {

    private volatile boolean submitterReady;
    private volatile EventLoop loop;
    // Written on the loop thread (which is the first actor's thread), read by the arbiter.
    private int xRan;
    private int yRan;
    private int yRejected;
    // Written by the submitter.
    private int xThrew;
    private int yThrew;
    // Errors, each written by one actor only.
    private String loopError = "";
    private String submitError = "";

    @Actor
    public void loopThread() {
        // Start together: this actor does not wait for the submitter otherwise, and would run ahead.
        if (!Waits.spinUntil(() -> submitterReady, 10 * Waits.LATE_NANOS)) {
            loopError = " submitter did not come";
        }
        try {
            EventLoop.builder().blockedLoopThreshold(Duration.ZERO).run(() -> {
                loop = EventLoop.current();
                return CompletableFuture.completedFuture(null);
            });
        } catch (Throwable t) {
            loopError = " " + t;
        }
    }

    @Actor
    public void submitter() {
        submitterReady = true;
        if (!Waits.spinUntil(() -> loop != null, 10 * Waits.LATE_NANOS)) {
            submitError = " loop did not start";
            return;
        }
        EventLoop l = loop;
        Waits.jitter();
        try {
            l.execute(() -> xRan++);
        } catch (RejectedExecutionException e) {
            xThrew++;
        }
        try {
            l.execute(new Rejectable());
        } catch (RejectedExecutionException e) {
            yThrew++;
        }
    }

    @Arbiter
    public void arbiter(LL_Result r) {
        r.r1 = fate(xRan, 0, xThrew) + loopError + submitError;
        r.r2 = fate(yRan, yRejected, yThrew);
    }

    private static String fate(int ran, int rejected, int threw) {
        int n = ran + rejected + threw;
        if (n == 0) {
            return "lost";
        }
        if (n > 1) {
            return "ran " + ran + " rejected " + rejected + " threw " + threw;
        }
        return ran == 1 ? "ran" : rejected == 1 ? "rejected" : "threw";
    }

    private final class Rejectable implements Runnable, LoopRejectable {

        @Override
        public void run() {
            yRan++;
        }

        @Override
        public void rejected(RejectedExecutionException e) {
            yRejected++;
        }
    }
}
