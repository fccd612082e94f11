package dev.portal.bench.jmh;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.TimeUnit;

import dev.portal.BlockingPortal;
import dev.portal.EventLoop;
import dev.portal.ToThread;

/**
 * An {@link java.util.concurrent.ExecutorService} that runs each task as a {@link ToThread#runSync}
 * call on a Portal worker, started from a portal task. JMH uses it for its benchmark threads when
 * started with {@code -Djmh.executor=CUSTOM -Djmh.executor.class=} this class, so benchmarks can
 * call worker-only API such as {@code FromThread.checkCancelled()}.
 */
public final class PortalWorkerExecutor extends AbstractExecutorService {

    private final BlockingPortal portal;
    private volatile boolean shutdown;

    /** The constructor JMH calls: the most threads it will use, and a thread name prefix. */
    public PortalWorkerExecutor(int maxThreads, String prefix) {
        this.portal = BlockingPortal.start(EventLoop.builder().name(prefix + "-portal-loop").daemon(true)
                .defaultThreadLimit(Math.max(40, maxThreads)));
    }

    @Override
    public void execute(Runnable command) {
        if (shutdown) {
            throw new java.util.concurrent.RejectedExecutionException("executor is shut down");
        }
        portal.startTaskSoon(() -> ToThread.runSync(() -> {
            command.run();
            return null;
        }));
    }

    @Override
    public void shutdown() {
        shutdown = true;
        portal.close();
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown();
        return List.of();
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return shutdown && portal.eventLoop().isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return portal.eventLoop().awaitTermination(java.time.Duration.ofNanos(unit.toNanos(timeout)));
    }
}
