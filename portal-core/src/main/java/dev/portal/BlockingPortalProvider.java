package dev.portal;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import org.jspecify.annotations.Nullable;

/**
 * Shares one {@link BlockingPortal} among any number of threads, starting it on demand (AnyIO's
 * {@code BlockingPortalProvider}).
 *
 * <pre>{@code
 * private final BlockingPortalProvider portals = new BlockingPortalProvider();
 *
 * void doStuff() throws Exception {
 *     try (PortalLease lease = portals.lease()) {
 *         lease.portal().call(asyncObj::doAsyncStuff);
 *     }
 * }
 * }</pre>
 *
 * <p>The first lease starts a portal (concurrent first users wait for the same start); later leases
 * share it; the last release stops it gracefully, waiting for its tasks, outside the provider's
 * lock. The next lease then starts a new portal. Leases nest: a thread may take a second lease while
 * it holds one. Releasing a lease twice is an {@link IllegalStateException}.
 *
 * <p>Thread-safe. {@link #lease()} blocks while a portal starts; the last {@link PortalLease#close()}
 * blocks until the portal's tasks have finished.
 */
public final class BlockingPortalProvider {

    private final Supplier<BlockingPortal> factory;
    private @Nullable BlockingPortal portal;
    private int leases;
    private long totalLeases;
    private long starts;
    private long stops;

    /** A provider whose portals run on new loops with default settings. */
    public BlockingPortalProvider() {
        this(BlockingPortal::start);
    }

    /** A provider whose portals run on loops built from {@code loopSettings}. */
    public BlockingPortalProvider(EventLoop.Builder loopSettings) {
        Objects.requireNonNull(loopSettings, "loopSettings must not be null");
        this.factory = () -> BlockingPortal.start(loopSettings);
    }

    /** A provider that makes its portals with {@code factory} (each call must start a new portal). */
    public BlockingPortalProvider(Supplier<BlockingPortal> factory) {
        this.factory = Objects.requireNonNull(factory, "factory must not be null");
    }

    /** Takes a lease on the shared portal, starting one if there is none. */
    public PortalLease lease() {
        synchronized (this) {
            BlockingPortal p = portal;
            if (p == null) {
                p = Objects.requireNonNull(factory.get(), "the portal factory returned null");
                portal = p;
                starts++;
            }
            leases++;
            totalLeases++;
            return new PortalLease(this, p);
        }
    }

    void release(PortalLease lease) {
        BlockingPortal toClose = null;
        synchronized (this) {
            if (leases <= 0 || lease.portal() != portal) {
                throw new IllegalStateException("unbalanced release: this provider has no lease on " + lease.portal());
            }
            if (leases == 1 && lease.portal().eventLoop().inEventLoop()) {
                throw new IllegalStateException("the last PortalLease cannot be closed on its portal's own event loop "
                        + "thread (" + Thread.currentThread().getName() + "): closing it stops the portal and waits "
                        + "for its tasks, which need this thread. Close the lease on the thread that took it");
            }
            leases--;
            if (leases == 0) {
                toClose = portal;
                portal = null;
                stops++;
            }
        }
        if (toClose != null) {
            toClose.close();
        }
    }

    /** An immutable snapshot. Any thread. */
    public synchronized PortalProviderStatistics statistics() {
        return new PortalProviderStatistics(portal != null, leases, totalLeases, starts, stops,
                portal != null ? portal.statistics() : null);
    }

    @Override
    public synchronized String toString() {
        return "BlockingPortalProvider[" + leases + " leases, " + (portal != null ? "portal running" : "no portal")
                + "]";
    }

    /** A lease on a provider's shared portal; close it once (try-with-resources does). */
    public static final class PortalLease implements AutoCloseable {
        private final BlockingPortalProvider provider;
        private final BlockingPortal portal;
        private final AtomicBoolean released = new AtomicBoolean();

        PortalLease(BlockingPortalProvider provider, BlockingPortal portal) {
            this.provider = provider;
            this.portal = portal;
        }

        /** The shared portal. */
        public BlockingPortal portal() {
            return portal;
        }

        /**
         * Releases the lease; the last release stops the portal and waits for its tasks.
         *
         * @throws IllegalStateException if this lease was already released
         */
        @Override
        public void close() {
            if (!released.compareAndSet(false, true)) {
                throw new IllegalStateException("this PortalLease was already released; release each lease exactly "
                        + "once (try-with-resources does)");
            }
            try {
                provider.release(this);
            } catch (IllegalStateException refused) {
                released.set(false);
                throw refused;
            }
        }
    }
}
