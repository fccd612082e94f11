package dev.portal.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import dev.portal.bench.contenders.PortalContender;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.MDC;

/**
 * Every contender does what the benchmarks claim it does: results come back on the loop, the
 * counts add up, and cancellation reaches the awaiting code or the worker.
 */
class ContenderTest {

    static final List<String> CONTENDERS = Contenders.ALL;

    private Contender c;

    @AfterEach
    void close() {
        if (c != null) {
            c.close();
        }
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void sequentialOffloadsReturnEveryResult(String name) throws Exception {
        c = Contenders.create(name);
        assertThat(c.name()).isEqualTo(name);
        assertThat(c.sequentialOffloads(50).get(20, TimeUnit.SECONDS)).isEqualTo(50);
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void startedOffloadsReportEveryResultOnTheLoop(String name) throws Exception {
        c = Contenders.create(name);
        AtomicInteger offLoop = new AtomicInteger();
        AtomicInteger results = new AtomicInteger();
        Countdown all = new Countdown(500);
        Contender contender = c;
        contender.startOffloads(500, () -> {
            if (contender.inLoop()) {
                offLoop.incrementAndGet();   // the function must run on a worker, not the loop
            }
            return 1;
        }, () -> {
            if (!contender.inLoop()) {
                offLoop.incrementAndGet();
            }
            results.incrementAndGet();
            all.run();
        }).get(20, TimeUnit.SECONDS);
        all.done.get(20, TimeUnit.SECONDS);
        assertThat(results).hasValue(500);
        assertThat(offLoop).hasValue(0);
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void callsFromOtherThreadsGetTheLoopsAnswer(String name) throws Exception {
        c = Contenders.create(name);
        assertThat(c.callOnLoop(41)).isEqualTo(42);
        ExecutorService callers = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> sums = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int base = t * 1000;
                sums.add(callers.submit(() -> {
                    int wrong = 0;
                    for (int i = 0; i < 50; i++) {
                        if (c.callOnLoop(base + i) != base + i + 1) {
                            wrong++;
                        }
                    }
                    return wrong;
                }));
            }
            for (Future<Integer> f : sums) {
                assertThat(f.get(20, TimeUnit.SECONDS)).isZero();
            }
        } finally {
            callers.shutdownNow();
        }
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void tasksStartedSoonAllFinishWithTheirValues(String name) throws Exception {
        c = Contenders.create(name);
        Object[] handles = new Object[2000];
        for (int i = 0; i < handles.length; i++) {
            handles[i] = c.startTaskSoon(i);
        }
        for (int i = 0; i < handles.length; i++) {
            assertThat(c.awaitTask(handles[i])).isEqualTo(i + 1);
        }
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void tasksWaitedForAllAtOnceSumTheirValues(String name) throws Exception {
        c = Contenders.create(name);
        Object[] handles = new Object[2000];
        for (int i = 0; i < handles.length; i++) {
            handles[i] = c.startTaskSoon(i);
        }
        assertThat(c.awaitAll(handles)).isEqualTo(2000L * 2001 / 2);
        assertThat(c.awaitAll(new Object[0])).isZero();
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void portalCarriesTheCallersMdcToTheLoopAndTheWorkersOnlyWithTheMdcOn(boolean mdc) throws Exception {
        MDC.clear();
        c = Contenders.create(mdc ? "portal" : "portal-nomdc");
        Contender contender = c;
        ConcurrentLinkedQueue<Map<String, String>> seen = new ConcurrentLinkedQueue<>();
        Countdown all = new Countdown(50);
        contender.startOffloads(50, () -> {
            seen.add(mdcOrEmpty());   // on a worker
            return 1;
        }, () -> {
            seen.add(mdcOrEmpty());   // on the loop
            all.run();
        }).get(20, TimeUnit.SECONDS);
        all.done.get(20, TimeUnit.SECONDS);
        try {
            assertThat(seen).hasSize(100);
            if (mdc) {
                // The contender gave the calling thread a request's MDC, and every hop carried it.
                assertThat(mdcOrEmpty()).isEqualTo(PortalContender.MDC_ENTRIES).hasSize(4);
                assertThat(seen).allSatisfy(m -> assertThat(m).isEqualTo(PortalContender.MDC_ENTRIES));
            } else {
                assertThat(mdcOrEmpty()).isEmpty();
                assertThat(seen).allSatisfy(m -> assertThat(m).isEmpty());
            }
        } finally {
            MDC.clear();
        }
    }

    private static Map<String, String> mdcOrEmpty() {
        Map<String, String> m = MDC.getCopyOfContextMap();
        return m == null ? Map.of() : m;
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void cancellingARunningCallReachesTheAwaitingLoopCode(String name) throws Exception {
        c = Contenders.create(name);
        for (int i = 0; i < 3; i++) {
            CancelTrial trial = c.startCancellable(false);
            trial.running.get(20, TimeUnit.SECONDS);
            assertThat(trial.observed).isNotDone();
            trial.cancel();
            trial.observed.get(20, TimeUnit.SECONDS);
            assertThat(trial.observedNanos()).isPositive().isLessThan(TimeUnit.SECONDS.toNanos(20));
            trial.release();
            trial.finished.get(20, TimeUnit.SECONDS);
        }
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void cancellingInInterruptModeInterruptsTheWorker(String name) throws Exception {
        c = Contenders.create(name);
        if (!c.supportsInterrupt()) {
            assertThatThrownBy(() -> c.startCancellable(true)).isInstanceOf(UnsupportedOperationException.class);
            return;
        }
        for (int i = 0; i < 3; i++) {
            CancelTrial trial = c.startCancellable(true);
            trial.running.get(20, TimeUnit.SECONDS);
            assertThatThrownBy(trial::interruptedNanos).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("not cancelled and interrupted yet");
            trial.cancel();
            trial.interrupted.get(20, TimeUnit.SECONDS);
            assertThat(trial.interruptedNanos()).isPositive().isLessThan(TimeUnit.SECONDS.toNanos(20));
            trial.finished.get(20, TimeUnit.SECONDS);
        }
    }

    @org.junit.jupiter.api.Test
    void unknownContenderIsRejectedWithTheChoices() {
        assertThatThrownBy(() -> Contenders.create("akka"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[jdk, portal, portal-nomdc, vertx, reactor]")
                .hasMessageContaining("akka");
    }
}
