package dev.portal.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The worker hand-off under its races: dispatchers claiming idle workers while those workers retire
 * on a 1 ms idle timeout, and jobs that return their worker to the pool early (as offloads do)
 * while a dispatcher claims it again. Every job must run exactly once, a worker must never run two
 * jobs at once, and every thread must exit after shutdown.
 */
class WorkerPoolHandOffTest {

    private static final int DISPATCHERS = 4;
    private static final int JOBS_PER_DISPATCHER = 5_000;

    @RepeatedTest(5)
    @Timeout(value = 5, unit = TimeUnit.MINUTES) // a busy machine slows the 20 000 jobs; see awaitWhileMoving
    void everyJobRunsExactlyOnceAndNoWorkerRunsTwoJobsAtOnce() throws Exception {
        AtomicReference<Throwable> uncaught = new AtomicReference<>();
        WorkerPool pool = new WorkerPool("handoff-test-", Duration.ofMillis(1), false, 2_000L, uncaught::set);
        int total = DISPATCHERS * JOBS_PER_DISPATCHER;
        AtomicReferenceArray<Integer> runs = new AtomicReferenceArray<>(total);
        ConcurrentHashMap<Worker, Boolean> busy = new ConcurrentHashMap<>();
        AtomicInteger overlaps = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(total);
        CountDownLatch start = new CountDownLatch(1);

        Thread[] dispatchers = new Thread[DISPATCHERS];
        for (int d = 0; d < DISPATCHERS; d++) {
            int base = d * JOBS_PER_DISPATCHER;
            dispatchers[d] = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < JOBS_PER_DISPATCHER; i++) {
                    int id = base + i;
                    pool.dispatch(worker -> {
                        if (busy.putIfAbsent(worker, Boolean.TRUE) != null) {
                            overlaps.incrementAndGet();
                        }
                        runs.accumulateAndGet(id, 1, (a, b) -> a == null ? b : a + b);
                        busy.remove(worker);
                        done.countDown();
                        if (id % 2 == 0) {
                            // Return early, as an offload does before posting its outcome, and keep
                            // the thread a little longer: a dispatcher may claim the worker again in
                            // that window, and the worker loop's own release must then be a no-op.
                            worker.release();
                            Thread.yield();
                        }
                    });
                    if (i % 64 == 0) {
                        Thread.yield();
                    }
                }
            }, "dispatcher-" + d);
            dispatchers[d].start();
        }
        start.countDown();
        assertThat(awaitWhileMoving(done)).as("all jobs ran (none lost by a double hand-off): %d left",
                done.getCount()).isTrue();
        for (Thread t : dispatchers) {
            t.join(TimeUnit.SECONDS.toMillis(10));
        }

        assertThat(overlaps).as("a worker ran two jobs at once").hasValue(0);
        for (int i = 0; i < total; i++) {
            assertThat(runs.get(i)).as("runs of job %d", i).isEqualTo(1);
        }
        assertThat(uncaught.get()).isNull();

        pool.shutdown();
        await().atMost(Duration.ofSeconds(20)).until(() -> pool.liveThreads() == 0);
        assertThat(pool.threads()).isEmpty();
    }

    @Test
    void aParkedWorkerIsWokenForTheNextJobInsteadOfANewThread() throws Exception {
        // An idle timeout no run reaches: the parked worker must not retire while the test waits.
        WorkerPool pool = new WorkerPool("reuse-test-", Duration.ofHours(1), false, 2_000L, t -> { });
        try {
            Thread first = runOne(pool);
            for (int job = 0; job < 20; job++) {
                // A worker still on its way to the idle stack when a job comes may leave it to a new
                // thread; one that is parked is always woken for it.
                await().atMost(Duration.ofSeconds(10)).until(() -> parked(first, pool));
                assertThat(runOne(pool)).as("the thread that ran job %d", job + 2).isSameAs(first);
            }
            assertThat(pool.createdThreads()).isEqualTo(1);
        } finally {
            pool.shutdown();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> pool.liveThreads() == 0);
    }

    @Test
    void anIdleWorkerRetiresAfterTheIdleTimeout() throws Exception {
        WorkerPool pool = new WorkerPool("retire-test-", Duration.ofMillis(300), false, 2_000L, t -> { });
        long dispatchedAt = System.nanoTime();
        Thread worker = runOne(pool);

        await().atMost(Duration.ofSeconds(10)).until(() -> pool.liveThreads() == 0);

        assertThat(System.nanoTime() - dispatchedAt).as("idle for the timeout first").isGreaterThanOrEqualTo(
                TimeUnit.MILLISECONDS.toNanos(300));
        assertThat(pool.retiredThreads()).isEqualTo(1);
        assertThat(pool.createdThreads()).isEqualTo(1);
        worker.join(TimeUnit.SECONDS.toMillis(10));
        assertThat(worker.isAlive()).isFalse();
        pool.shutdown();
    }

    /**
     * Waits for {@code latch} as long as it keeps counting down; false once it has not moved for
     * 10 s. A lost job stops it for good; a busy machine only slows it (20 000 jobs took over 20 s
     * with both cores taken), so a fixed total would fail a correct pool.
     */
    private static boolean awaitWhileMoving(CountDownLatch latch) throws InterruptedException {
        long left = latch.getCount();
        while (!latch.await(10, TimeUnit.SECONDS)) {
            long now = latch.getCount();
            if (now == left) {
                return false;
            }
            left = now;
        }
        return true;
    }

    /** Dispatches one job and returns the thread that ran it. */
    private static Thread runOne(WorkerPool pool) throws InterruptedException {
        AtomicReference<Thread> ranOn = new AtomicReference<>();
        CountDownLatch ran = new CountDownLatch(1);
        pool.dispatch(w -> {
            ranOn.set(Thread.currentThread());
            ran.countDown();
        });
        assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
        return ranOn.get();
    }

    /** The worker parks with its pool as the blocker only while it is on the idle stack. */
    private static boolean parked(Thread worker, WorkerPool pool) {
        Thread.State state = worker.getState();
        return (state == Thread.State.TIMED_WAITING || state == Thread.State.WAITING)
                && LockSupport.getBlocker(worker) == pool;
    }

    /**
     * Workers are woken one after another, not all at once, so a burst must still reach one thread
     * per job when every job blocks until all of them run: a lost or skipped wake-up hangs the
     * barrier. Bursts alternate with idle gaps longer than the idle timeout, so some bursts find
     * parked workers, some find workers retiring, and some find none.
     */
    @RepeatedTest(20)
    void aBurstOfBlockingJobsGetsOneThreadPerJob() throws Exception {
        int jobs = 40;
        WorkerPool pool = new WorkerPool("burst-test-", Duration.ofMillis(2), false, 2_000L, t -> { });
        try {
            for (int burst = 0; burst < 5; burst++) {
                CyclicBarrier allRunning = new CyclicBarrier(jobs);
                CountDownLatch done = new CountDownLatch(jobs);
                AtomicInteger broken = new AtomicInteger();
                for (int i = 0; i < jobs; i++) {
                    pool.dispatch(w -> {
                        try {
                            allRunning.await(10, TimeUnit.SECONDS);
                        } catch (Exception e) {
                            broken.incrementAndGet();
                        }
                        done.countDown();
                    });
                }
                assertThat(done.await(20, TimeUnit.SECONDS)).as("burst %d finished", burst).isTrue();
                assertThat(broken).as("jobs that never saw all %d running", jobs).hasValue(0);
                if (burst % 2 == 1) {
                    await().atMost(Duration.ofSeconds(10)).until(() -> pool.liveThreads() == 0);
                }
            }
        } finally {
            pool.shutdown();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> pool.liveThreads() == 0);
    }
}
