package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/**
 * Worker and loop threads that cannot be started (a thread factory that throws, a thread whose
 * {@code start()} throws the JVM's "unable to create native thread" {@code OutOfMemoryError}), at
 * every place Portal starts one: the first worker, a worker started by a worker that holds a job, a
 * worker started by a foreign thread that resized a paused limiter, and the loop thread. Each time
 * the call that could not get a thread fails with the error, no token is lost, the pool's counts
 * are taken back, and the next call starts a thread and runs.
 */
class ThreadStartFailureTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final int ROUNDS = 20;

    /** A worker thread factory that fails its next calls on demand, or gates the threads it makes. */
    static final class FlakyFactory implements ThreadFactory {
        final AtomicInteger failNext = new AtomicInteger();
        /** Fail in {@code Thread.start()} (as the JVM does) rather than in the factory. */
        volatile boolean failInStart;
        /** A thread made while set waits for it before it runs its worker. */
        volatile CountDownLatch gate;
        final Queue<String> askedBy = new ConcurrentLinkedQueue<>();
        final AtomicInteger made = new AtomicInteger();

        @Override
        public Thread newThread(Runnable r) {
            askedBy.add(Thread.currentThread().getName());
            if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                OutOfMemoryError e = new OutOfMemoryError("unable to create native thread (on purpose)");
                if (failInStart) {
                    return new Unstartable(r, e);
                }
                throw e;
            }
            made.incrementAndGet();
            CountDownLatch g = gate;
            return new Thread(g == null ? r : () -> {
                awaitUninterruptibly(g);
                r.run();
            });
        }
    }

    /** A thread whose start fails as when the JVM cannot create a native thread. */
    static final class Unstartable extends Thread {
        private final OutOfMemoryError error;

        Unstartable(Runnable r, OutOfMemoryError error) {
            super(r);
            this.error = error;
        }

        @Override
        public synchronized void start() {
            throw error;
        }
    }

    static void awaitUninterruptibly(CountDownLatch latch) {
        boolean interrupted = false;
        while (true) {
            try {
                if (!latch.await(30, TimeUnit.SECONDS)) {
                    throw new AssertionError("gate not opened within 30 s");
                }
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static BlockingPortal portal(String name, FlakyFactory factory) {
        return BlockingPortal.start(EventLoop.builder().name(name).daemon(true).threadFactory(factory));
    }

    /** The next call starts a thread and runs; every token is back; the counts add up. */
    private static void recovers(BlockingPortal portal, long failures) throws Exception {
        assertThat(portal.<String>call(() -> ToThread.runSync(() -> "ran"))).isEqualTo("ran");
        EventLoop loop = portal.eventLoop();
        await().atMost(WAIT).until(() -> loop.defaultThreadLimiter().borrowedTokens() == 0);
        WorkerPoolStatistics workers = loop.statistics().workers();
        assertThat(workers.startFailures()).isEqualTo(failures);
        assertThat(workers.created()).isEqualTo(workers.live() + workers.retired()).isPositive();
        OffloadStatistics offloads = loop.statistics().offloads();
        assertThat(offloads.started()).isEqualTo(offloads.succeeded() + offloads.failed());
    }

    @Test
    void aFirstWorkerThatCannotBeStartedFailsItsCallAndTheNextCallStartsOne() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            FlakyFactory factory = new FlakyFactory();
            factory.failInStart = round % 2 == 0;
            factory.failNext.set(1);
            try (BlockingPortal portal = portal("start-fail-first", factory)) {
                Throwable thrown = catchThrowable(() -> portal.call(() -> ToThread.runSync(() -> "never")));

                assertThat(thrown).isInstanceOf(OutOfMemoryError.class).hasMessageContaining("on purpose");
                WorkerPoolStatistics workers = portal.eventLoop().statistics().workers();
                assertThat(workers.live()).isZero();
                assertThat(workers.created()).isZero();
                assertThat(portal.eventLoop().defaultThreadLimiter().borrowedTokens()).isZero();
                recovers(portal, 1);
            }
        }
    }

    /**
     * The worker takes the first of two queued calls, sees the second with nobody searching, and
     * starts a thread for it, which fails: the worker runs its own call, the second one fails.
     */
    @Test
    void aWorkerThatCannotStartAnotherKeepsItsJobAndTheQueuedCallFails() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            FlakyFactory factory = new FlakyFactory();
            factory.failInStart = round % 2 == 0;
            CountDownLatch gate = new CountDownLatch(1);
            factory.gate = gate;
            try (BlockingPortal portal = portal("start-fail-worker", factory)) {
                CompletableFuture<CompletionStage<String>[]> dispatched = portal.startTaskSoon(() -> {
                    @SuppressWarnings("unchecked")
                    CompletionStage<String>[] calls = new CompletionStage[] {
                        ToThread.runSync(() -> "first"), ToThread.runSync(() -> "second")};
                    // Both calls are queued before the one started worker may look at the queue.
                    factory.gate = null;
                    factory.failNext.set(1);
                    return CompletableFuture.completedFuture(calls);
                });
                CompletionStage<String>[] calls = dispatched.get(30, TimeUnit.SECONDS);
                gate.countDown();

                assertThat(calls[0].toCompletableFuture().get(30, TimeUnit.SECONDS)).isEqualTo("first");
                Throwable second = catchThrowable(() -> calls[1].toCompletableFuture().get(30, TimeUnit.SECONDS));
                assertThat(second).isInstanceOf(ExecutionException.class)
                        .cause().isInstanceOf(OutOfMemoryError.class).hasMessageContaining("on purpose");
                assertThat(factory.askedBy).hasSize(2).last().asString().startsWith("start-fail-worker-worker-");
                recovers(portal, 1);
            }
        }
    }

    /**
     * A paused limiter is resized by a thread that is neither the loop's nor a worker: the call it
     * grants needs a thread, started on the resizing thread, which fails. The call fails and gives
     * the token back; the resizing thread is not hurt.
     */
    @Test
    void aWorkerStartedByAResizeThatFailsFailsTheGrantedCallAndReturnsItsToken() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            FlakyFactory factory = new FlakyFactory();
            factory.failInStart = round % 2 == 0;
            CapacityLimiter paused = new CapacityLimiter("paused", 0);
            try (BlockingPortal portal = portal("start-fail-resize", factory)) {
                CompletableFuture<String> call = portal.startTaskSoon(
                        () -> ToThread.runSync(() -> "never", paused));
                await().atMost(WAIT).until(() -> paused.tasksWaiting() == 1);
                factory.failNext.set(1);

                paused.setTotalTokens(1); // on this thread: grants the call, which needs a worker

                Throwable thrown = catchThrowable(() -> call.get(30, TimeUnit.SECONDS));
                assertThat(thrown).isInstanceOf(ExecutionException.class)
                        .cause().isInstanceOf(OutOfMemoryError.class).hasMessageContaining("on purpose");
                assertThat(factory.askedBy).containsExactly(Thread.currentThread().getName());
                assertThat(paused.borrowedTokens()).isZero();
                assertThat(portal.<String>call(() -> ToThread.runSync(() -> "ran", paused))).isEqualTo("ran");
                assertThat(paused.borrowedTokens()).isZero();
                recovers(portal, 1);
            }
        }
    }

    /**
     * Every thread start fails while 200 calls wait on a paused limiter that is then given one
     * token: each call fails with the error in turn (the failing one's token goes to the next, which
     * fails to start a thread too, inside the first one's failure: handled in a loop, not by
     * recursion), and the pool then serves.
     */
    @Test
    void aStormOfFailedStartsFailsEveryCallAndLosesNoToken() throws Exception {
        FlakyFactory factory = new FlakyFactory();
        CapacityLimiter one = new CapacityLimiter("one", 0);
        try (BlockingPortal portal = portal("start-fail-storm", factory)) {
            factory.failNext.set(Integer.MAX_VALUE);
            CompletableFuture<Integer> failed = portal.startTaskSoon(() -> {
                int n = 200;
                CompletableFuture<?>[] calls = new CompletableFuture<?>[n];
                for (int i = 0; i < n; i++) {
                    calls[i] = ToThread.runSync(() -> "never", one).toCompletableFuture();
                }
                one.setTotalTokens(1);
                return CompletableFuture.allOf(calls).handle((v, e) -> {
                    int count = 0;
                    for (CompletableFuture<?> c : calls) {
                        if (c.isCompletedExceptionally()) {
                            count++;
                        }
                    }
                    return count;
                });
            });

            assertThat(failed.get(30, TimeUnit.SECONDS)).isEqualTo(200);
            assertThat(one.borrowedTokens()).isZero();
            assertThat(one.tasksWaiting()).isZero();
            factory.failNext.set(0);
            assertThat(portal.<String>call(() -> ToThread.runSync(() -> "ran", one))).isEqualTo("ran");
            recovers(portal, 200);
        }
    }

    @Test
    void aLoopThreadThatCannotBeStartedFailsStartAndLeavesNothingRunning() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            boolean inStart = round % 2 == 0;
            ThreadFactory failing = r -> {
                OutOfMemoryError e = new OutOfMemoryError("unable to create native thread (on purpose)");
                if (inStart) {
                    return new Unstartable(r, e);
                }
                throw e;
            };
            EventLoop.Builder builder = EventLoop.builder().name("start-fail-loop").loopThreadFactory(failing);

            Throwable thrown = catchThrowable(builder::start);

            assertThat(thrown).isInstanceOf(OutOfMemoryError.class).hasMessageContaining("on purpose");
            assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("start-fail-loop"));
            AtomicInteger made = new AtomicInteger();
            try (EventLoop loop = builder.loopThreadFactory(r -> {
                made.incrementAndGet();
                Thread t = new Thread(r);
                t.setDaemon(true);
                return t;
            }).start(); BlockingPortal portal = BlockingPortal.openOn(loop)) {
                assertThat(made).hasValue(1);
                assertThat(loop.thread().getName()).isEqualTo("start-fail-loop");
                assertThat(portal.<String>call(() -> ToThread.runSync(() -> "ran"))).isEqualTo("ran");
            }
        }
    }

    @Test
    void aLoopThreadFactoryThatReturnsNullOrAStartedThreadIsRefusedWithTheReason() {
        Throwable nulled = catchThrowable(() -> EventLoop.builder().name("null-factory").loopThreadFactory(r -> null)
                .start());
        assertThat(nulled).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("loopThreadFactory").hasMessageContaining("returned null");

        CountDownLatch release = new CountDownLatch(1);
        Throwable started = catchThrowable(() -> EventLoop.builder().name("started-factory").loopThreadFactory(r -> {
            Thread t = new Thread(() -> awaitUninterruptibly(release));
            t.setDaemon(true);
            t.start();
            return t;
        }).start());
        release.countDown();
        assertThat(started).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("loopThreadFactory").hasMessageContaining("already started");
    }

    @Test
    void aWorkerThreadFactoryThatReturnsNullFailsTheCallWithTheReasonAndTheNextCallTriesAgain() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        ThreadFactory nullFirst = r -> asked.getAndIncrement() == 0 ? null : new Thread(r);
        try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("null-worker-factory").daemon(true)
                .threadFactory(nullFirst))) {
            Throwable thrown = catchThrowable(() -> portal.call(() -> ToThread.runSync(() -> "never")));

            assertThat(thrown).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("threadFactory").hasMessageContaining("returned null");
            recovers(portal, 1);
        }
    }

    @Test
    void virtualWorkersAndAThreadFactoryTogetherAreRefusedAtStart() {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.portal.internal.VirtualThreads.available(),
                "virtual threads need JDK 21+");
        Throwable thrown = catchThrowable(() -> EventLoop.builder().virtualWorkers(true)
                .threadFactory(Thread::new).start());

        assertThat(thrown).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("virtualWorkers(true) and threadFactory")
                .hasMessageContaining("Thread.ofVirtual().factory()");
    }

    @Test
    void workerThreadsFromTheFactoryAreNamedAndDaemon() throws Exception {
        try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("named-factory").daemon(true)
                .workerNamePrefix("pool-x-").threadFactory(r -> new Thread(r, "factory-name")))) {
            String[] seen = portal.call(() -> ToThread.runSync(() -> new String[] {
                Thread.currentThread().getName(), String.valueOf(Thread.currentThread().isDaemon())}));

            assertThat(seen[0]).startsWith("pool-x-");
            assertThat(seen[1]).isEqualTo("true");
        }
    }
}
