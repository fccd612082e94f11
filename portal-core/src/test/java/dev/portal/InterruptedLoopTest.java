package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Loop code that leaves the loop thread's interrupt flag set, through every kind of callback the
 * loop runs: a task, a continuation, a timer's, a portal call, a {@code FromThread.runSync} from a
 * worker, a plain {@code execute} and a listener callback. A set flag makes every
 * {@code LockSupport.park} return at once, so an idle loop would spin on a core. After each, the
 * flag is cleared, the idle loop's CPU time over 300 ms stays small, and a timed wait still waits
 * for its time.
 */
class InterruptedLoopTest {

    private static final int ROUNDS = 3;
    /** An idle loop uses next to no CPU; a spinning one, under any load, far more than this. */
    private static final long IDLE_CPU_LIMIT_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private final AtomicBoolean interruptInListener = new AtomicBoolean();
    private final AtomicReference<Thread> listenerThread = new AtomicReference<>();
    private BlockingPortal portal;
    private Thread loopThread;

    @BeforeEach
    void startPortal() {
        portal = BlockingPortal.start(EventLoop.builder().name("interrupted-loop").daemon(true)
                .listener(new EventLoopListener() {
                    @Override
                    public void onOffload(OffloadEvent event) {
                        if (interruptInListener.get()) {
                            listenerThread.set(Thread.currentThread());
                            Thread.currentThread().interrupt();
                        }
                    }
                }));
        loopThread = portal.eventLoop().thread();
    }

    @AfterEach
    void closePortal() {
        portal.close();
    }

    private static <T> CompletableFuture<T> interruptThen(T value) {
        Thread.currentThread().interrupt();
        return CompletableFuture.completedFuture(value);
    }

    /**
     * After {@code leaveInterrupted} has left the loop thread's flag set: the flag is cleared, the
     * idle loop uses little CPU, and a 50 ms sleep takes at least 50 ms.
     */
    private void theLoopRecovers(String kind, ThrowingRunnable leaveInterrupted) throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            leaveInterrupted.run();

            long cpu = idleLoopCpuNanos();
            System.out.printf("[reliability] interrupted loop, %s: idle loop CPU %.1f ms in 300 ms%n", kind, cpu / 1e6);
            assertThat(cpu).as(kind + ": CPU time of the idle loop over 300 ms, in ns").isLessThan(IDLE_CPU_LIMIT_NANOS);
            await(kind + ": loop thread's interrupt flag cleared").atMost(Duration.ofSeconds(5))
                    .until(() -> !loopThread.isInterrupted());
            long start = System.nanoTime();
            portal.call(() -> Async.sleep(Duration.ofMillis(50)));
            assertThat(System.nanoTime() - start).as(kind + ": a 50 ms sleep after it")
                    .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(50));
        }
    }

    /** The loop thread's CPU time over a 300 ms window in which nothing is submitted to it. */
    private long idleLoopCpuNanos() throws InterruptedException {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        assertThat(mx.isThreadCpuTimeSupported()).isTrue();
        if (!mx.isThreadCpuTimeEnabled()) {
            mx.setThreadCpuTimeEnabled(true);
        }
        long id = loopThread.getId();
        long before = mx.getThreadCpuTime(id);
        Thread.sleep(300); // the measurement window, not a wait for a condition
        return mx.getThreadCpuTime(id) - before;
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void aTaskThatInterruptsTheLoopThread() throws Exception {
        theLoopRecovers("task", () -> portal.call(() -> interruptThen("done")));
    }

    @Test
    void aContinuationThatInterruptsTheLoopThread() throws Exception {
        theLoopRecovers("continuation", () -> portal.call(() -> ToThread.runSync(() -> 1).thenApply(v -> {
            Thread.currentThread().interrupt();
            return v;
        })));
    }

    @Test
    void aTimersCallbackThatInterruptsTheLoopThread() throws Exception {
        theLoopRecovers("timer", () -> portal.call(() -> Async.sleep(Duration.ofMillis(1)).thenApply(v -> {
            Thread.currentThread().interrupt();
            return v;
        })));
    }

    @Test
    void aPortalCallSyncThatInterruptsTheLoopThread() throws Exception {
        theLoopRecovers("portal callSync", () -> portal.callSync(() -> Thread.currentThread().interrupt()));
    }

    @Test
    void aWorkersFromThreadRunSyncThatInterruptsTheLoopThread() throws Exception {
        theLoopRecovers("FromThread.runSync", () -> portal.call(() -> ToThread.runSync(() -> {
            FromThread.runSync(() -> Thread.currentThread().interrupt());
            return null;
        })));
    }

    @Test
    void anExecutedCallbackThatInterruptsTheLoopThread() throws Exception {
        theLoopRecovers("execute", () -> {
            CompletableFuture<Void> ran = new CompletableFuture<>();
            portal.eventLoop().execute(() -> {
                Thread.currentThread().interrupt();
                ran.complete(null);
            });
            ran.get(30, TimeUnit.SECONDS);
        });
    }

    @Test
    void aListenerCallbackThatInterruptsTheLoopThread() throws Exception {
        interruptInListener.set(true);
        theLoopRecovers("listener", () -> {
            listenerThread.set(null);
            portal.call(() -> ToThread.runSync(() -> 1));
            await().atMost(Duration.ofSeconds(30)).until(() -> listenerThread.get() != null);
            assertThat(listenerThread.get()).isSameAs(loopThread);
        });
        interruptInListener.set(false);
    }

    @Test
    void aLoopRunOnTheCallersThreadKeepsTheCallersOwnInterruptAndClearsTheOnesItsCodeLeft() throws Exception {
        Thread.currentThread().interrupt();
        try {
            String value = EventLoop.run(() -> Async.sleep(Duration.ofMillis(20))
                    .thenCompose(v -> interruptThen("left set by loop code"))
                    .thenCompose(v -> Async.sleep(Duration.ofMillis(20)).thenApply(w -> v)));

            assertThat(value).isEqualTo("left set by loop code");
            assertThat(Thread.currentThread().isInterrupted()).as("the caller's own interrupt").isTrue();
        } finally {
            Thread.interrupted();
        }
        String plain = EventLoop.run(() -> interruptThen("only loop code interrupts"));
        assertThat(plain).isEqualTo("only loop code interrupts");
        assertThat(Thread.interrupted()).as("an interrupt left by loop code does not leak to the caller").isFalse();
    }
}
