package dev.portal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.TimeUnit;

import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ManagedStrategyGuaranteeKt;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jetbrains.lincheck.datastructures.ThreadIdGen;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Model-checks {@link CapacityLimiter}'s any-thread operations with Lincheck: every concurrent
 * history of the non-blocking acquire, release, resize and statistics must be explained by some
 * sequential order, and so must the FIFO queue that {@link ToThread#runSync} uses (enqueue, grant
 * on release or resize from any thread, cancellation racing with the grant). The loop-bound async
 * acquire is covered by {@link StressTest}.
 *
 * <p>Each check is a fixed amount of CPU work, so its wall time is the machine's to decide: with
 * both cores busy one took 148 s, against the 60 s every other test gets. Lincheck itself reports
 * a deadlock or livelock in the code under test, so the JUnit limit only has to catch a stuck
 * run, and these tests get ten minutes.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class LimiterLincheckTest {

    static final int MC_ITERATIONS = Integer.getInteger("portal.lincheck.iterations", 10);
    static final int MC_INVOCATIONS = Integer.getInteger("portal.lincheck.invocations", 60);
    static final int STRESS_ITERATIONS = Integer.getInteger("portal.lincheck.stressIterations", 10);
    static final int STRESS_INVOCATIONS = Integer.getInteger("portal.lincheck.stressInvocations", 500);

    /**
     * Switch points only in Portal code: JDK collections, strings and records run atomically (the
     * limiter calls them under its lock anyway), which keeps each invocation cheap.
     */
    static ModelCheckingOptions modelChecking() {
        return new ModelCheckingOptions().iterations(MC_ITERATIONS).invocationsPerIteration(MC_INVOCATIONS)
                .addGuarantee(ManagedStrategyGuaranteeKt.forClasses(LimiterLincheckTest::isJdkClass).allMethods()
                        .treatAsAtomic());
    }

    private static Boolean isJdkClass(String className) {
        return className.startsWith("java.") || className.startsWith("jdk.") || className.startsWith("sun.");
    }

    @Test
    void nonBlockingOperationsAreLinearizableUnderModelChecking() {
        modelChecking().threads(3).actorsPerThread(3).check(NonBlocking.class);
    }

    @Test
    void nonBlockingOperationsAreLinearizableUnderStress() {
        new StressOptions().iterations(STRESS_ITERATIONS).invocationsPerIteration(STRESS_INVOCATIONS).threads(3)
                .actorsPerThread(3).check(NonBlocking.class);
    }

    @Test
    void fifoQueueWithCancellationIsLinearizableUnderModelChecking() {
        modelChecking().threads(3).actorsPerThread(4).sequentialSpecification(QueueModel.class).check(Queue.class);
    }

    @Test
    void fifoQueueWithCancellationIsLinearizableUnderStress() {
        new StressOptions().iterations(STRESS_ITERATIONS).invocationsPerIteration(STRESS_INVOCATIONS).threads(3)
                .actorsPerThread(4).sequentialSpecification(QueueModel.class).check(Queue.class);
    }

    /** acquireOnBehalfOfNowait, releaseOnBehalfOf, setTotalTokens and statistics from any thread. */
    @Param(name = "borrower", gen = IntGen.class, conf = "0:3")
    @Param(name = "total", gen = IntGen.class, conf = "0:3")
    public static class NonBlocking {

        private static final String[] BORROWERS = {"b0", "b1", "b2", "b3"};

        private final CapacityLimiter limiter = new CapacityLimiter(2);

        @Operation
        public String acquireNowait(@Param(name = "borrower") int b) {
            try {
                limiter.acquireOnBehalfOfNowait(BORROWERS[b]);
                return "acquired";
            } catch (WouldBlockException e) {
                return "would-block";
            } catch (IllegalStateException e) {
                return "already-holding";
            }
        }

        @Operation
        public String release(@Param(name = "borrower") int b) {
            try {
                limiter.releaseOnBehalfOf(BORROWERS[b]);
                return "released";
            } catch (IllegalStateException e) {
                return "not-holding";
            }
        }

        @Operation
        public void setTotalTokens(@Param(name = "total") int total) {
            limiter.setTotalTokens(total);
        }

        @Operation
        public String statistics() {
            CapacityLimiterStatistics s = limiter.statistics();
            List<String> borrowers = new ArrayList<>();
            for (Object o : s.borrowers()) {
                borrowers.add((String) o);
            }
            Collections.sort(borrowers);
            return s.totalTokens() + "/" + s.borrowedTokens() + "/" + s.availableTokens() + "/" + s.tasksWaiting()
                    + "/" + borrowers + "/" + s.acquisitions();
        }

        @Operation
        public int availableTokens() {
            return limiter.availableTokens();
        }
    }

    /** A queued acquirer like a runSync call: granted once, or cancelled while it still waits. */
    static final class TestWaiter implements CapacityLimiter.Waiter {
        static final int WAITING = 0;
        static final int GRANTED = 1;
        static final int CANCELLED = 2;

        final AtomicInteger state = new AtomicInteger(WAITING);
        final int owner;
        private Object link;

        TestWaiter(int owner) {
            this.owner = owner;
        }

        @Override
        public Object borrower() {
            return null;
        }

        @Override
        public boolean claim() {
            return state.compareAndSet(WAITING, GRANTED);
        }

        @Override
        public boolean withdraw() {
            return state.compareAndSet(WAITING, CANCELLED);
        }

        @Override
        public boolean isWithdrawn() {
            return state.get() == CANCELLED;
        }

        @Override
        public void granted() {
        }

        @Override
        public Object limiterLink() {
            return link;
        }

        @Override
        public void limiterLink(Object link) {
            this.link = link;
        }

        @Override
        public String toString() {
            return "waiter-" + owner;
        }
    }

    /**
     * The queue path used by runSync: acquireOrEnqueue, grants from release and resize on any
     * thread, and a cancellation that races with the grant (the loser hands the token on). Each
     * Lincheck thread owns one acquirer slot.
     */
    @Param(name = "thread", gen = ThreadIdGen.class)
    @Param(name = "total", gen = IntGen.class, conf = "0:2")
    public static class Queue {

        private final CapacityLimiter limiter = new CapacityLimiter(1);
        private final TestWaiter[] slots = new TestWaiter[16];
        private final List<TestWaiter> all = Collections.synchronizedList(new ArrayList<>());

        @Operation
        public String acquire(@Param(name = "thread") int t) {
            if (slots[t] != null) {
                return "busy";
            }
            TestWaiter w = new TestWaiter(t);
            slots[t] = w;
            all.add(w);
            if (limiter.acquireOrEnqueue(w, System.nanoTime())) {
                return "acquired";
            }
            return "queued";
        }

        @Operation
        public String cancel(@Param(name = "thread") int t) {
            TestWaiter w = slots[t];
            if (w == null) {
                return "none";
            }
            if (limiter.withdraw(w)) {
                slots[t] = null;
                return "cancelled";
            }
            return "holding";
        }

        @Operation
        public String release(@Param(name = "thread") int t) {
            TestWaiter w = slots[t];
            if (w == null) {
                return "none";
            }
            if (w.state.get() != TestWaiter.GRANTED) {
                return "waiting";
            }
            limiter.releaseHeld(w, null);
            slots[t] = null;
            return "released";
        }

        @Operation
        public void setTotalTokens(@Param(name = "total") int total) {
            limiter.setTotalTokens(total);
        }

        @Validate
        public void tokensMatchTheGrantedAcquirers() {
            CapacityLimiterStatistics s = limiter.statistics();
            Set<Object> granted = new HashSet<>();
            int waiting = 0;
            for (TestWaiter w : slots) {
                if (w != null && w.state.get() == TestWaiter.GRANTED) {
                    granted.add(w);
                } else if (w != null && w.state.get() == TestWaiter.WAITING) {
                    waiting++;
                }
            }
            if (!new HashSet<>(s.borrowers()).equals(granted) || s.tasksWaiting() != waiting) {
                throw new AssertionError("limiter " + s + " does not match granted " + granted + " and " + waiting
                        + " waiting");
            }
            if (waiting > 0 && s.borrowedTokens() < s.totalTokens()) {
                throw new AssertionError("a token is free while " + waiting + " acquirers wait: " + s);
            }
        }
    }

    /** The sequential specification of {@link Queue}. */
    public static final class QueueModel {
        private int total = 1;
        private final Set<Integer> holders = new LinkedHashSet<>();
        private final ArrayDeque<Integer> queue = new ArrayDeque<>();

        public String acquire(int t) {
            if (holders.contains(t) || queue.contains(t)) {
                return "busy";
            }
            if (queue.isEmpty() && holders.size() < total) {
                holders.add(t);
                return "acquired";
            }
            queue.add(t);
            return "queued";
        }

        public String cancel(int t) {
            if (queue.remove(t)) {
                return "cancelled";
            }
            return holders.contains(t) ? "holding" : "none";
        }

        public String release(int t) {
            if (queue.contains(t)) {
                return "waiting";
            }
            if (!holders.remove(t)) {
                return "none";
            }
            grant();
            return "released";
        }

        public void setTotalTokens(int total) {
            this.total = total;
            grant();
        }

        private void grant() {
            while (!queue.isEmpty() && holders.size() < total) {
                holders.add(queue.poll());
            }
        }
    }
}
