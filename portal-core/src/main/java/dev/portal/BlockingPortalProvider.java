package dev.portal;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

import org.jspecify.annotations.Nullable;

/**
 * Shares one {@link BlockingPortal} among any number of threads (AnyIO's
 * {@code BlockingPortalProvider}), either starting it on demand or on a loop the application owns.
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
 * <p><b>On demand</b> (the constructors without a loop, AnyIO's semantics): the first lease starts a
 * portal on a loop thread of its own (concurrent first users wait for the same start); later leases
 * share it; the last release stops it gracefully, waiting for its tasks, outside the provider's
 * lock, and stops its loop. The next lease then starts a new portal.
 *
 * <p><b>Bound to a loop</b> ({@link #BlockingPortalProvider(EventLoop)}, the form for an
 * application that owns one loop): every lease shares one portal on that loop, opened by the first
 * lease and kept open when the last lease is released, so no lease starts or stops a thread. The
 * portal stops when the provider is {@linkplain #close() closed} or the loop stops; leases taken
 * after the loop stopped fail.
 *
 * <p>Leases nest: a thread may take a second lease while it holds one. Releasing a lease twice is an
 * {@link IllegalStateException}.
 *
 * <p>Thread-safe. {@link #lease()} blocks while a portal starts (on demand) or opens (bound: within
 * one turn of the loop); on demand, the last {@link PortalLease#close()} blocks until the portal's
 * tasks have finished. Neither responds to interrupts.
 */
public final class BlockingPortalProvider implements AutoCloseable {

    private final Supplier<BlockingPortal> factory;
    private final @Nullable EventLoop boundLoop;
    private boolean closed;
    private @Nullable BlockingPortal portal;
    private int leases;
    private long totalLeases;
    private long starts;
    private long stops;

    /** A provider whose portals run on new loops with default settings, started on demand. */
    public BlockingPortalProvider() {
        this(BlockingPortal::start);
    }

    /** A provider whose portals run on new loops built from {@code loopSettings}, started on demand. */
    public BlockingPortalProvider(EventLoop.Builder loopSettings) {
        Objects.requireNonNull(loopSettings, "loopSettings must not be null");
        this.factory = () -> BlockingPortal.start(loopSettings);
        this.boundLoop = null;
    }

    /** A provider that makes its portals with {@code factory} (each call must start a new portal). */
    public BlockingPortalProvider(Supplier<BlockingPortal> factory) {
        this.factory = Objects.requireNonNull(factory, "factory must not be null");
        this.boundLoop = null;
    }

    /**
     * A provider bound to {@code loop}, a loop the application runs: its leases share one portal on
     * that loop ({@link BlockingPortal#openOn}), which the last lease leaves open. Taking and
     * releasing a lease then costs no thread.
     */
    public BlockingPortalProvider(EventLoop loop) {
        Objects.requireNonNull(loop, "loop must not be null");
        this.factory = () -> BlockingPortal.openOn(loop);
        this.boundLoop = loop;
    }

    /** Whether this provider shares a portal on a given loop rather than starting portals on demand. */
    public boolean isBound() {
        return boundLoop != null;
    }

    /**
     * Takes a lease on the shared portal, starting (on demand) or opening (bound) one if there is
     * none. Any thread.
     *
     * @throws IllegalStateException if the provider is closed, or a bound provider's loop has stopped
     */
    public PortalLease lease() {
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("this BlockingPortalProvider is closed; it gives out no more leases");
            }
            BlockingPortal p = portal;
            if (p != null && boundLoop != null && !p.isRunning()) {
                // The bound portal stopped with its loop (or was stopped by a holder): open another,
                // which fails with the loop's state if the loop is gone.
                portal = null;
                p = null;
            }
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
            // A bound provider's lease may hold a portal that has stopped since (closed, or its loop
            // stopped) and been replaced: its release only counts.
            if (leases <= 0 || (boundLoop == null && lease.portal() != portal)) {
                throw new IllegalStateException("unbalanced release: this provider has no lease on " + lease.portal());
            }
            if (leases == 1 && boundLoop == null && lease.portal().eventLoop().inEventLoop()) {
                throw new IllegalStateException("the last PortalLease cannot be closed on its portal's own event loop "
                        + "thread (" + Thread.currentThread().getName() + "): closing it stops the portal and waits "
                        + "for its tasks, which need this thread. Close the lease on the thread that took it");
            }
            leases--;
            if (leases == 0 && boundLoop == null) {
                toClose = portal;
                portal = null;
                stops++;
            }
        }
        if (toClose != null) {
            toClose.close();
        }
    }

    /**
     * Closes the provider: later {@link #lease()} calls fail. A bound provider stops its portal
     * gracefully now, waiting for the portal's tasks (its loop runs on); leases still held then see
     * a stopped portal. An on-demand provider stops its portal when its last lease is released, as
     * before. Idempotent; any thread but the portal's loop thread. Waits uninterruptibly (an
     * interrupt is re-asserted).
     */
    @Override
    public void close() {
        BlockingPortal toClose = null;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            if (boundLoop != null && portal != null) {
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
        return "BlockingPortalProvider[" + (boundLoop != null ? "on " + boundLoop.name() + ", " : "") + leases
                + " leases, " + (closed ? "closed" : portal != null ? "portal running" : "no portal") + "]";
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
