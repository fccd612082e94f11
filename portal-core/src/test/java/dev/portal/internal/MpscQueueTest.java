package dev.portal.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

class MpscQueueTest {

    private static final int PRODUCERS = 4;

    @Test
    void pollsInTheOrderOffered() {
        MpscQueue<Integer> q = new MpscQueue<>();
        assertThat(q.isEmpty()).isTrue();
        assertThat(q.poll()).isNull();
        for (int i = 0; i < 100; i++) {
            assertThat(q.offer(i)).isTrue();
        }
        assertThat(q.isEmpty()).isFalse();
        for (int i = 0; i < 100; i++) {
            assertThat(q.poll()).isEqualTo(i);
        }
        assertThat(q.poll()).isNull();
        assertThat(q.isEmpty()).isTrue();
    }

    @Test
    void aClosedQueueRefusesOffersAndStillHandsOutWhatGotIn() {
        MpscQueue<String> q = new MpscQueue<>();
        q.offer("a");
        q.offer("b");
        q.close();
        q.close(); // idempotent
        assertThat(q.isClosed()).isTrue();
        assertThat(q.offer("c")).isFalse();
        assertThat(q.isEmpty()).isFalse();
        assertThat(q.poll()).isEqualTo("a");
        assertThat(q.poll()).isEqualTo("b");
        assertThat(q.poll()).isNull();
        assertThat(q.isEmpty()).isTrue();
        assertThat(q.offer("d")).isFalse();
    }

    @Test
    void anEmptyClosedQueueIsEmpty() {
        MpscQueue<String> q = new MpscQueue<>();
        q.offer("a");
        assertThat(q.poll()).isEqualTo("a");
        q.close();
        assertThat(q.isEmpty()).isTrue();
        assertThat(q.poll()).isNull();
    }

    @Test
    void backlogCountsWhatWaitsToBePolled() {
        MpscQueue<Integer> q = new MpscQueue<>();
        assertThat(q.backlog()).isZero();
        for (int i = 0; i < 5; i++) {
            q.offer(i);
        }
        assertThat(q.backlog()).isEqualTo(5);
        q.poll();
        q.poll();
        assertThat(q.backlog()).isEqualTo(3);
        q.close();
        assertThat(q.backlog()).as("a closed queue takes no more").isZero();
    }

    @Test
    void appendedIsTheSequenceNumberOfTheNewestElement() {
        MpscQueue<Integer> q = new MpscQueue<>();
        assertThat(q.appended()).isZero();
        long first = q.append(1);
        long second = q.append(2);
        assertThat(q.appended()).isEqualTo(second).isEqualTo(first + 1);
        q.poll();
        assertThat(q.appended()).as("polling does not move it").isEqualTo(second);
        q.close();
        assertThat(q.appended()).as("closed: the last polled, so nothing counts as queued after it")
                .isEqualTo(q.polled()).isEqualTo(first);
    }

    @Test
    void aTrimmedQueueKeepsNothingItHandedOutReachable() {
        MpscQueue<Object> q = new MpscQueue<>();
        List<WeakReference<Object>> handedOut = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            Object e = new byte[1024];
            handedOut.add(new WeakReference<>(e));
            q.offer(e);
        }
        while (q.poll() != null) {
            // drain
        }
        q.trim();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            System.gc();
            assertThat(handedOut).allMatch(ref -> ref.get() == null);
        });
        q.offer("after");
        assertThat(q.poll()).isEqualTo("after");
    }

    @Test
    void concurrentProducersLoseNothingAndKeepEachProducersOrder() throws Exception {
        int perProducer = 200_000;
        MpscQueue<long[]> q = new MpscQueue<>();
        CyclicBarrier start = new CyclicBarrier(PRODUCERS);
        List<Thread> producers = new ArrayList<>();
        for (int p = 0; p < PRODUCERS; p++) {
            int id = p;
            Thread t = new Thread(() -> {
                awaitBarrier(start);
                for (int i = 0; i < perProducer; i++) {
                    q.offer(new long[] {id, i});
                }
            }, "producer-" + p);
            producers.add(t);
            t.start();
        }
        long[] next = new long[PRODUCERS];
        int received = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (received < PRODUCERS * perProducer) {
            long[] e = q.poll();
            if (e == null) {
                assertThat(System.nanoTime() - deadline).as("all elements polled within 30 s").isNegative();
                Thread.onSpinWait();
                continue;
            }
            assertThat(e[1]).as("next element of producer %d", e[0]).isEqualTo(next[(int) e[0]]);
            next[(int) e[0]]++;
            received++;
        }
        for (Thread t : producers) {
            t.join(TimeUnit.SECONDS.toMillis(10));
            assertThat(t.isAlive()).isFalse();
        }
        assertThat(q.poll()).isNull();
        assertThat(q.isEmpty()).isTrue();
    }

    /**
     * Producers race a close: every offer that returned true is polled exactly once, and no
     * refused element ever comes out.
     */
    @RepeatedTest(50)
    void closeRacingOffersHandsOutExactlyTheAcceptedElements() throws Exception {
        MpscQueue<Integer> q = new MpscQueue<>();
        AtomicInteger ids = new AtomicInteger();
        Set<Integer>[] accepted = newSets(PRODUCERS);
        Set<Integer>[] refused = newSets(PRODUCERS);
        CountDownLatch running = new CountDownLatch(PRODUCERS);
        List<Thread> producers = new ArrayList<>();
        for (int p = 0; p < PRODUCERS; p++) {
            int id = p;
            Thread t = new Thread(() -> {
                running.countDown();
                while (true) {
                    int e = ids.incrementAndGet();
                    if (q.offer(e)) {
                        accepted[id].add(e);
                    } else {
                        refused[id].add(e);
                        return; // once refused, always refused
                    }
                }
            }, "producer-" + p);
            producers.add(t);
            t.start();
        }
        assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();
        Set<Integer> polled = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            Integer e = q.poll();
            if (e != null) {
                assertThat(polled.add(e)).isTrue();
            }
        }
        q.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!q.isEmpty()) {
            Integer e = q.poll();
            if (e != null) {
                assertThat(polled.add(e)).as("polled once: %s", e).isTrue();
            } else {
                assertThat(System.nanoTime() - deadline).as("the queue drains after close").isNegative();
                Thread.onSpinWait();
            }
        }
        for (Thread t : producers) {
            t.join(TimeUnit.SECONDS.toMillis(10));
            assertThat(t.isAlive()).isFalse();
        }
        Set<Integer> allAccepted = new HashSet<>();
        for (int p = 0; p < PRODUCERS; p++) {
            assertThat(refused[p]).hasSize(1);
            allAccepted.addAll(accepted[p]);
            assertThat(polled).doesNotContainAnyElementsOf(refused[p]);
        }
        assertThat(polled).isEqualTo(allAccepted);
        assertThat(q.offer(-1)).isFalse();
    }

    @SuppressWarnings("unchecked")
    private static Set<Integer>[] newSets(int n) {
        Set<Integer>[] sets = new Set[n];
        for (int i = 0; i < n; i++) {
            sets[i] = new HashSet<>();
        }
        return sets;
    }

    private static void awaitBarrier(CyclicBarrier barrier) {
        try {
            barrier.await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
