package dev.portal;

import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

import org.jspecify.annotations.Nullable;

/**
 * Watches event loops for callbacks that run too long. The loop only bumps a tick counter per
 * callback (an opaque store, no fence); a shared daemon thread samples the counters. A loop that is
 * awake and whose counter has not moved for the threshold is reported once per stall, with its
 * thread's stack.
 */
final class BlockedLoopDetector {

    private static final Object LOCK = new Object();
    private static @Nullable ScheduledExecutorService watchdog;
    private static final Set<Probe> PROBES = ConcurrentHashMap.newKeySet();

    private BlockedLoopDetector() {
    }

    private static ScheduledExecutorService watchdog() {
        synchronized (LOCK) {
            if (watchdog == null) {
                ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, r -> {
                    Thread t = new Thread(r, "portal-loop-watchdog");
                    t.setDaemon(true);
                    return t;
                });
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
        private final @Nullable EventLoopListener listener;
        private @Nullable ScheduledFuture<?> task;
        private long lastTicks = -1;
        private long stuckSince;
        private boolean reported;
        private volatile long blockedEvents;
        private volatile long longestBlockNanos;

        Probe(EventLoop loop, Duration threshold, @Nullable EventLoopListener listener) {
            this.loop = loop;
            this.thresholdNanos = threshold.toNanos();
            this.intervalNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(10), Math.min(thresholdNanos / 2,
                    TimeUnit.SECONDS.toNanos(1)));
            this.listener = listener;
        }

        void register() {
            if (thresholdNanos <= 0) {
                return;
            }
            PROBES.add(this);
            task = watchdog().scheduleWithFixedDelay(this::check, intervalNanos, intervalNanos, TimeUnit.NANOSECONDS);
        }

        void unregister() {
            ScheduledFuture<?> t = task;
            if (t != null) {
                t.cancel(false);
            }
            PROBES.remove(this);
        }

        private void check() {
            long now = System.nanoTime();
            long ticks = loop.ticks();
            if (loop.isSleeping() || ticks != lastTicks) {
                lastTicks = ticks;
                stuckSince = now;
                reported = false;
                return;
            }
            long blocked = now - stuckSince;
            if (blocked > longestBlockNanos) {
                longestBlockNanos = blocked;
            }
            if (blocked < thresholdNanos || reported) {
                return;
            }
            reported = true;
            blockedEvents++;
            Thread thread = loop.thread();
            if (thread == null) {
                return;
            }
            BlockedLoopEvent event = new BlockedLoopEvent(loop.name(), thread.getName(), Duration.ofNanos(blocked),
                    Duration.ofNanos(thresholdNanos), Arrays.asList(thread.getStackTrace()));
            try {
                if (listener != null) {
                    listener.onBlockedLoop(event);
                } else {
                    new EventLoopListener() { }.onBlockedLoop(event);
                }
            } catch (Throwable ignored) {
                // a failing listener must not stop the watchdog
            }
        }

        long blockedEvents() {
            return blockedEvents;
        }

        Duration longestBlock() {
            return Duration.ofNanos(longestBlockNanos);
        }
    }
}
