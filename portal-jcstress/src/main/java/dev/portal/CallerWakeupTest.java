package dev.portal;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

import dev.portal.jcstress.Waits;

/**
 * Two callers answered in one loop turn are both woken, once, however they race the hand-out. The
 * handshake under test ({@link Wakeup}): the loop links the turn's waiters into a tree and moves
 * the first from waiting to handed, unparking it; a handed caller, as it leaves, hands on to its
 * child; a caller that leaves on its own moves itself to left, and whoever reaches it hands on to
 * its child in its place.
 *
 * <p>The {@code rootCaller} actor is the first caller of the turn: it publishes its wake-up and
 * parks until its result is in, as {@code BlockingPortal}'s futures do. The {@code loop} actor
 * starts the second caller (the child) on a thread of its own, puts both results in and hands out
 * the turn, racing each caller's way from its last look at the result into park. A caller parks at
 * most {@link Waits#LATE_NANOS} and then reports itself late, so a lost wake-up shows up as an
 * outcome instead of a hang.
 */
@JCStressTest
@Description("The wake-up tree of a loop turn racing its callers parking and leaving on their own")
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "Both callers parked and were woken: the root by the loop, the "
        + "child by the root.")
@Outcome(id = "2, 1", expect = ACCEPTABLE, desc = "The root saw its result before it parked and left; the loop, "
        + "finding it gone, woke the child in its place.")
@Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "The root was woken; the child saw its result before it parked.")
@Outcome(id = "2, 2", expect = ACCEPTABLE, desc = "Both saw their results before they parked; nobody was unparked.")
@Outcome(expect = FORBIDDEN, desc = "A caller was never woken (0: still parked after 1 s, though its result was "
        + "in), or an error (-1).")
@State
public class CallerWakeupTest {

    /** Unused by the handshake; a wake-up names its loop only to be queued on it. */
    private static final EventLoop LOOP = EventLoop.builder().name("jcstress-caller-wakeup").daemon(true).start();

    private static final int LATE = 0;
    private static final int HANDED = 1;
    private static final int LEFT_ON_ITS_OWN = 2;
    private static final int ERROR = -1;

    private volatile Wakeup root;
    private volatile Wakeup child;
    private volatile boolean rootDone;
    private volatile boolean childDone;
    private volatile Thread childThread;
    private int rootOutcome = ERROR;
    private volatile int childOutcome = ERROR;

    @Actor
    public void loop() {
        Thread childThread = new Thread(() -> {
            Wakeup w = new Wakeup(LOOP);
            child = w;
            childOutcome = waitAndLeave(w, () -> childDone);
        }, "jcstress-child-caller");
        childThread.setDaemon(true);
        this.childThread = childThread;
        childThread.start();
        // The child first (a thread start takes a while); the root publishes only once the child
        // has, so its last look at its result and the loop's hand-out land close together.
        if (!Waits.until(() -> child != null, Waits.LATE_NANOS)
                || !Waits.spinUntil(() -> root != null, Waits.LATE_NANOS)) {
            return;
        }
        Waits.jitter();
        rootDone = true;
        childDone = true;
        Wakeup.wakeAll(List.of(root, child));
    }

    @Actor
    public void rootCaller() {
        if (!Waits.until(() -> child != null, Waits.LATE_NANOS)) {
            return;
        }
        Wakeup w = new Wakeup(LOOP);
        root = w;
        rootOutcome = waitAndLeave(w, () -> rootDone);
    }

    /** Parks until the result is in, as a portal future's caller does, then leaves. */
    private static int waitAndLeave(Wakeup w, BooleanSupplier resultIn) {
        long deadline = System.nanoTime() + Waits.LATE_NANOS;
        Waits.jitter();
        while (!resultIn.getAsBoolean()) {
            LockSupport.parkNanos(deadline - System.nanoTime());
            if (System.nanoTime() - deadline >= 0) {
                // Nobody woke this caller: its result (in long ago) was seen only at the timeout.
                w.leave(); // as an interrupted caller would; the tree must not wait for this one
                return LATE;
            }
        }
        return w.leave() ? HANDED : LEFT_ON_ITS_OWN;
    }

    @Arbiter
    public void arbiter(II_Result r) {
        Thread t = childThread;
        if (t != null) {
            Waits.until(() -> !t.isAlive(), 2 * Waits.LATE_NANOS);
        }
        r.r1 = rootOutcome;
        r.r2 = childOutcome;
    }
}
