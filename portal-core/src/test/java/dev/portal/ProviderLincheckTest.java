package dev.portal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

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
 * Checks {@link BlockingPortalProvider}'s reference counting with Lincheck, on real portals: each
 * first lease starts a portal through a factory around {@link BlockingPortal#start(EventLoop.Builder)},
 * leases share it, the last close stops it (and its loop), a second close of a lease is rejected,
 * and a held lease's portal is always running. The sequential specification is a counter model.
 *
 * <p>Each check is a fixed amount of CPU work, so its wall time is the machine's to decide: with
 * both cores busy one took 148 s, against the 60 s every other test gets. Lincheck itself reports
 * a deadlock or livelock in the code under test, so the JUnit limit only has to catch a stuck
 * run, and these tests get ten minutes.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
@Param(name = "thread", gen = ThreadIdGen.class)
public class ProviderLincheckTest {

    private static final int THREADS = 3;

    private final List<BlockingPortal> started = new ArrayList<>();
    private final BlockingPortalProvider provider = new BlockingPortalProvider(() -> {
        BlockingPortal p = BlockingPortal.start(EventLoop.builder().daemon(true).name("lincheck-portal"));
        synchronized (started) {
            started.add(p);
        }
        return p;
    });
    @SuppressWarnings("unchecked")
    private final ArrayDeque<BlockingPortalProvider.PortalLease>[] held = new ArrayDeque[THREADS + 5];
    private final BlockingPortalProvider.PortalLease[] lastClosed = new BlockingPortalProvider.PortalLease[THREADS + 5];

    public ProviderLincheckTest() {
        for (int i = 0; i < held.length; i++) {
            held[i] = new ArrayDeque<>();
        }
    }

    private String ordinal(BlockingPortal p) {
        synchronized (started) {
            return "portal-" + (started.indexOf(p) + 1);
        }
    }

    @Operation
    public String lease(@Param(name = "thread") int t) {
        BlockingPortalProvider.PortalLease lease = provider.lease();
        held[t].push(lease);
        return ordinal(lease.portal());
    }

    @Operation
    public String close(@Param(name = "thread") int t) {
        BlockingPortalProvider.PortalLease lease = held[t].poll();
        if (lease == null) {
            return "none";
        }
        lease.close();
        lastClosed[t] = lease;
        return "closed";
    }

    @Operation
    public String closeAgain(@Param(name = "thread") int t) {
        BlockingPortalProvider.PortalLease lease = lastClosed[t];
        if (lease == null) {
            return "none";
        }
        try {
            lease.close();
            return "closed-twice";
        } catch (IllegalStateException e) {
            return "rejected";
        }
    }

    @Operation
    public String heldPortalRunning(@Param(name = "thread") int t) {
        BlockingPortalProvider.PortalLease lease = held[t].peek();
        if (lease == null) {
            return "none";
        }
        return String.valueOf(lease.portal().isRunning());
    }

    @Operation
    public String statistics() {
        PortalProviderStatistics s = provider.statistics();
        return "leases=" + s.activeLeases() + " running=" + s.portalRunning() + " total=" + s.totalLeases()
                + " starts=" + s.starts() + " stops=" + s.stops();
    }

    @Validate
    public void everyPortalStopsWithItsLastLease() {
        for (ArrayDeque<BlockingPortalProvider.PortalLease> leases : held) {
            BlockingPortalProvider.PortalLease lease;
            while ((lease = leases.poll()) != null) {
                lease.close();
            }
        }
        PortalProviderStatistics s = provider.statistics();
        if (s.activeLeases() != 0 || s.portalRunning() || s.starts() != s.stops() || s.starts() != started.size()) {
            throw new AssertionError("provider not back to idle: " + s + ", portals started: " + started.size());
        }
        for (BlockingPortal p : started) {
            if (p.isRunning() || !p.eventLoop().isTerminated()) {
                throw new AssertionError("portal still running after its last lease was closed: " + p);
            }
        }
    }

    /** The sequential specification: counts only, no portals. */
    public static final class Model {
        private final ArrayDeque<Integer>[] held;
        private final boolean[] closedOnce = new boolean[THREADS + 5];
        private int leases;
        private int current;
        private int starts;
        private int stops;
        private long total;

        @SuppressWarnings("unchecked")
        public Model() {
            held = new ArrayDeque[THREADS + 5];
            for (int i = 0; i < held.length; i++) {
                held[i] = new ArrayDeque<>();
            }
        }

        public String lease(int t) {
            if (current == 0) {
                starts++;
                current = starts;
            }
            leases++;
            total++;
            held[t].push(current);
            return "portal-" + current;
        }

        public String close(int t) {
            if (held[t].poll() == null) {
                return "none";
            }
            closedOnce[t] = true;
            leases--;
            if (leases == 0) {
                current = 0;
                stops++;
            }
            return "closed";
        }

        public String closeAgain(int t) {
            return closedOnce[t] ? "rejected" : "none";
        }

        public String heldPortalRunning(int t) {
            return held[t].isEmpty() ? "none" : "true";
        }

        public String statistics() {
            return "leases=" + leases + " running=" + (current != 0) + " total=" + total + " starts=" + starts
                    + " stops=" + stops;
        }
    }

    /** The portal's own code runs unanalysed (its loop thread is not a Lincheck thread); the counting is checked. */
    @Test
    void leaseCountingIsLinearizableUnderModelChecking() {
        new ModelCheckingOptions().iterations(LimiterLincheckTest.MC_ITERATIONS)
                .invocationsPerIteration(LimiterLincheckTest.MC_INVOCATIONS / 3).threads(THREADS).actorsPerThread(3)
                .sequentialSpecification(Model.class)
                .addGuarantee(ManagedStrategyGuaranteeKt.forClasses(BlockingPortal.class.getName(),
                        EventLoop.class.getName()).allMethods().ignore())
                .check(ProviderLincheckTest.class);
    }

    @Test
    void leaseCountingIsLinearizableUnderStress() {
        new StressOptions().iterations(LimiterLincheckTest.MC_ITERATIONS)
                .invocationsPerIteration(LimiterLincheckTest.MC_INVOCATIONS / 3).threads(THREADS).actorsPerThread(3)
                .sequentialSpecification(Model.class).check(ProviderLincheckTest.class);
    }
}
