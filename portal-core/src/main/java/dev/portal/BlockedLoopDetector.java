package dev.portal;

import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

import org.jspecify.annotations.Nullable;

/**
 * Watches event loops for callbacks that run too long. The loop only bumps a tick counter per
 * callback (an opaque store, no fence); a shared daemon thread samples the counters. A loop that is
 * awake and whose counter has not moved for the threshold is reported once per stall, with its
 * thread's stack, and again when the stall ends (the counter moves or the loop parks). The samples
 * also answer {@link EventLoop#blockedFor()} on any thread.
 *
 * <p>The watchdog thread is started by whichever thread first registers a loop (a user's thread
 * calling {@code start()}), so it does not inherit that thread's InheritableThreadLocals. If it
 * cannot be started, the loops registered meanwhile run without the detector (a warning says so);
 * the next registration tries again.
 */
final class BlockedLoopDetector {

    private static final System.Logger LOG = System.getLogger(EventLoop.class.getName());
    private static final Object LOCK = new Object();
    private static @Nullable ScheduledExecutorService watchdog;
    private static final Set<Probe> PROBES = ConcurrentHashMap.newKeySet();
    /** Makes the watchdog's thread; replaced only by tests, to make it fail. */
    static volatile ThreadFactory watchdogThreads = r -> {
        Thread t = new Thread(null, r, "portal-loop-watchdog", 0, false);
        t.setDaemon(true);
        return t;
    };
    /** Thrown by a probe's check once it is unregistered: ends its periodic run. */
    private static final RuntimeException UNREGISTERED = new RuntimeException("probe unregistered", null, false, false) {
        private static final long serialVersionUID = 1L;
    };

    private BlockedLoopDetector() {
    }

    private static ScheduledExecutorService watchdog() {
        synchronized (LOCK) {
            if (watchdog == null) {
                ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1,
                        r -> watchdogThreads.newThread(r));
                executor.setRemoveOnCancelPolicy(true);
                // With no loop left to watch the queue is empty and the thread exits (a pool's last
                // thread times out only when its queue is empty); the next probe starts a new one.
                executor.setKeepAliveTime(1, TimeUnit.SECONDS);
                executor.allowCoreThreadTimeOut(true);
                watchdog = executor;
            }
            return watchdog;
        }
    }

    static final class Probe {
        private final EventLoop loop;
        private final long thresholdNanos;
        private final long intervalNanos;
        private @Nullable ScheduledFuture<?> task;
        /** Between register and unregister; a check of an inactive probe ends its periodic run. */
        private volatile boolean active;
        // Watchdog thread only.
        private long lastTicks = -1;
        private long stuckSince;
        private @Nullable BlockedLoopEvent reported;
        /**
         * The tick count the watchdog last saw move and when it saw it, for {@link #blockedForNanos}
         * on any thread: {@code sinceNanos} is written before {@code sinceTicks}, and a reader reads
         * the ticks, then the time, then the ticks again.
         */
        private volatile long sinceTicks = -1;
        private volatile long sinceNanos;
        private volatile long blockedEvents;
        private volatile long longestBlockNanos;

        Probe(EventLoop loop, Duration threshold) {
            this.loop = loop;
            this.thresholdNanos = threshold.toNanos();
            this.intervalNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(10), Math.min(thresholdNanos / 2,
                    TimeUnit.SECONDS.toNanos(1)));
        }

        void register() {
            if (thresholdNanos <= 0) {
                return;
            }
            active = true;
            PROBES.add(this);
            try {
                task = watchdog().scheduleWithFixedDelay(this::check, intervalNanos, intervalNanos,
                        TimeUnit.NANOSECONDS);
            } catch (Throwable e) {
                // The watchdog thread could not be started. The check stays queued in the executor
                // and runs once a later registration starts the thread; until then this loop is not
                // watched. A check after unregister ends itself (see check).
                try {
                    LOG.log(System.Logger.Level.WARNING, "Event loop " + loop.name() + " runs without its "
                            + "blocked-loop detector for now: the watchdog thread could not be started", e);
                } catch (Throwable ignored) {
                    // a failing logger must not fail the loop's start
                }
            }
        }

        void unregister() {
            active = false;
            ScheduledFuture<?> t = task;
            if (t != null) {
                t.cancel(false);
            }
            PROBES.remove(this);
            sinceTicks = -1;
        }

        private void check() {
            if (!active) {
                throw UNREGISTERED; // ends a periodic run whose future was never handed back
            }
            long now = System.nanoTime();
            long ticks = loop.ticks();
            if (loop.isSleeping() || ticks != lastTicks) {
                BlockedLoopEvent stall = reported;
                if (stall != null) {
                    reported = null;
                    ended(stall, now - stuckSince);
                }
                lastTicks = ticks;
                stuckSince = now;
                sinceNanos = now;
                sinceTicks = loop.isSleeping() ? -1 : ticks;
                return;
            }
            long blocked = now - stuckSince;
            if (blocked > longestBlockNanos) {
                longestBlockNanos = blocked;
            }
            if (blocked < thresholdNanos || reported != null) {
                return;
            }
            Thread thread = loop.thread();
            if (thread == null) {
                return;
            }
            blockedEvents++;
            BlockedLoopEvent event = new BlockedLoopEvent(loop.name(), thread.getName(), Duration.ofNanos(blocked),
                    Duration.ofNanos(thresholdNanos), Arrays.asList(thread.getStackTrace()));
            reported = event;
            try {
                LOG.log(System.Logger.Level.WARNING, event.toString(), event.asThrowable());
            } catch (Throwable ignored) {
                // a failing logger must not stop the watchdog
            }
            if (loop.listeners.any()) {
                loop.listeners.blockedLoop(event);
            }
        }

        private void ended(BlockedLoopEvent stall, long blockedNanos) {
            if (loop.listeners.any()) {
                loop.listeners.blockedLoopEnded(new BlockedLoopEvent(stall.loopName(), stall.threadName(),
                        Duration.ofNanos(blockedNanos), stall.threshold(), stall.stackTrace()));
            }
        }

        /**
         * How long the loop has been in its current callback, if that is at least the threshold,
         * else 0: from the watchdog's last sight of the tick count moving, as long as the count has
         * not moved since and the loop is awake. Any thread.
         */
        long blockedForNanos() {
            long ticks = sinceTicks;
            if (ticks < 0) {
                return 0;
            }
            long since = sinceNanos;
            if (sinceTicks != ticks || loop.ticks() != ticks || loop.isSleeping()) {
                return 0; // the loop moved on, or the watchdog is between its two writes
            }
            long blocked = System.nanoTime() - since;
            return blocked >= thresholdNanos ? blocked : 0;
        }

        long blockedEvents() {
            return blockedEvents;
        }

        Duration longestBlock() {
            return Duration.ofNanos(longestBlockNanos);
        }
    }
}
