package dev.portal.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import dev.portal.bench.jmh.CancelObservedBenchmark;
import dev.portal.bench.jmh.CheckCancelledBenchmark;
import dev.portal.bench.jmh.ContenderState;
import dev.portal.bench.jmh.CpuPerOpProfiler;
import dev.portal.bench.jmh.ExternalCallBenchmark;
import dev.portal.bench.jmh.OffloadBenchmark;
import dev.portal.bench.jmh.PacedBenchmark;
import dev.portal.bench.jmh.PortalWorkerExecutor;
import dev.portal.bench.jmh.StartTaskSoonBenchmark;
import dev.portal.bench.jmh.WorkerInterruptedBenchmark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The smoke test CI runs: every benchmark method, called directly a few times with each contender,
 * returns what it should. (The real runs go through JMH with bench/run.sh.)
 */
class BenchmarksTest {

    static final java.util.List<String> CONTENDERS = Contenders.ALL;

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void everyBenchmarkMethodRunsWithEveryContender(String name) throws Exception {
        ContenderState s = new ContenderState();
        s.contender = name;
        s.start();
        try {
            OffloadBenchmark offload = new OffloadBenchmark();
            ExternalCallBenchmark external = new ExternalCallBenchmark();
            StartTaskSoonBenchmark tasks = new StartTaskSoonBenchmark();
            for (int i = 0; i < 3; i++) {
                assertThat(offload.roundTrip(s)).isEqualTo(OffloadBenchmark.SEQUENTIAL);
                assertThat(offload.inFlight1000(s)).isTrue();
                assertThat(external.call1Thread(s)).isEqualTo(42);
                assertThat(external.call8Threads(s)).isEqualTo(42);
                assertThat(external.call64Threads(s)).isEqualTo(42);
                assertThat(external.call64ThreadsLatency(s)).isEqualTo(42);
            }
            long sum = (long) StartTaskSoonBenchmark.TASKS * (StartTaskSoonBenchmark.TASKS + 1) / 2;
            assertThat(tasks.startTaskSoon20k(s)).isEqualTo(sum);
            assertThat(tasks.startTaskSoon20kAllOf(s)).isEqualTo(sum);
        } finally {
            s.stop();
        }
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void cancellationBenchmarksRunWithEveryContender(String name) throws Exception {
        CancelObservedBenchmark.Trial s = new CancelObservedBenchmark.Trial();
        s.contender = name;
        s.start();
        try {
            CancelObservedBenchmark b = new CancelObservedBenchmark();
            CancelObservedBenchmark.LoopClock clock = new CancelObservedBenchmark.LoopClock();
            clock.reset();
            for (int i = 0; i < 3; i++) {
                s.startTrial();
                assertThat(b.cancelObserved(s, clock)).isTrue();
                s.endTrial();
            }
            // Each trial's time, read on the loop, is summed for JMH: positive, and far below the bound.
            assertThat(clock.trials).isEqualTo(3);
            assertThat(clock.loopNanos).isPositive().isLessThan(TimeUnit.SECONDS.toNanos(30));
        } finally {
            s.stop();
        }
        if (name.equals("vertx")) {
            return;
        }
        WorkerInterruptedBenchmark.Trial t = new WorkerInterruptedBenchmark.Trial();
        t.contender = name;
        t.start();
        try {
            WorkerInterruptedBenchmark b = new WorkerInterruptedBenchmark();
            WorkerInterruptedBenchmark.WorkerClock clock = new WorkerInterruptedBenchmark.WorkerClock();
            clock.reset();
            for (int i = 0; i < 3; i++) {
                t.startTrial();
                assertThat(b.workerInterrupted(t, clock)).isTrue();
                t.endTrial();
            }
            assertThat(clock.trials).isEqualTo(3);
            assertThat(clock.workerNanos).isPositive().isLessThan(TimeUnit.SECONDS.toNanos(30));
        } finally {
            t.stop();
        }
    }

    @ParameterizedTest
    @FieldSource("CONTENDERS")
    void pacedBenchmarksMakeOneCallPerTick(String name) throws Exception {
        ContenderState s = new ContenderState();
        s.contender = name;
        s.start();
        try {
            PacedBenchmark b = new PacedBenchmark();
            PacedBenchmark.Pacer pacer = new PacedBenchmark.Pacer();
            pacer.periodMicros = 1000;
            pacer.start(false);
            long started = System.nanoTime();
            for (int i = 0; i < 10; i++) {
                pacer.awaitTick();
                assertThat(b.roundTripPaced(s, pacer)).isEqualTo(1);
                pacer.awaitTick();
                assertThat(b.callPaced(s, pacer)).isEqualTo(42);
            }
            // 20 ticks 1 ms apart: the calls cannot have come sooner than the schedule allows.
            assertThat(System.nanoTime() - started).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(20));
        } finally {
            s.stop();
        }
    }

    @Test
    void pacerSkipsTicksItHasMissedInsteadOfCatchingUp() throws Exception {
        PacedBenchmark.Pacer pacer = new PacedBenchmark.Pacer();
        pacer.periodMicros = 200;
        pacer.start(false);
        // Late by at least 25 ticks: the next wait must not be followed by a burst of back-to-back ticks.
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        pacer.awaitTick();
        assertThat(pacer.skipped).isGreaterThanOrEqualTo(24);
        long before = System.nanoTime();
        pacer.awaitTick();
        pacer.awaitTick();
        // Two more ticks take at least one period each (the second is 200 µs after the first).
        assertThat(System.nanoTime() - before).isGreaterThanOrEqualTo(TimeUnit.MICROSECONDS.toNanos(200));

        PacedBenchmark.Pacer bad = new PacedBenchmark.Pacer();
        bad.periodMicros = 0;
        assertThatThrownBy(() -> bad.start(false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("periodMicros must be > 0 (was 0)");
    }

    @Test
    void warmUpIterationsPaceAtTheShorterWarmUpPeriod() {
        PacedBenchmark.Pacer pacer = new PacedBenchmark.Pacer();
        pacer.periodMicros = 1000;
        pacer.start(true);
        assertThat(pacer.periodNanos()).isEqualTo(TimeUnit.MICROSECONDS.toNanos(100));
        assertThat(pacer.unpacedPerPaced()).isEqualTo(1);
        pacer.start(false);
        assertThat(pacer.periodNanos()).isEqualTo(TimeUnit.MILLISECONDS.toNanos(1));
        assertThat(pacer.unpacedPerPaced()).isZero();
        // A period shorter than the warm-up one is kept in the warm-up too.
        pacer.periodMicros = 50;
        pacer.start(true);
        assertThat(pacer.periodNanos()).isEqualTo(TimeUnit.MICROSECONDS.toNanos(50));
    }

    @Test
    void cpuProfilerDividesTheProcessCpuByTheOperations() {
        assertThat(CpuPerOpProfiler.perOp(1_000, 41_000, 20)).isEqualTo(2_000.0);
        assertThat(CpuPerOpProfiler.perOp(1_000, 41_000, 0)).isNaN();
        CpuPerOpProfiler profiler = new CpuPerOpProfiler();
        assertThat(profiler.getDescription()).contains("CPU");
    }

    @Test
    void checkCancelledBenchmarkRunsOnAPortalWorkerThroughTheCustomExecutor() throws Exception {
        PortalWorkerExecutor executor = new PortalWorkerExecutor(1, "test");
        try {
            Future<Boolean> run = executor.submit(() -> {
                CheckCancelledBenchmark b = new CheckCancelledBenchmark();
                b.requireWorker();
                for (int i = 0; i < 1000; i++) {
                    b.checkCancelled();
                }
                return !b.threadLocalPlusVolatile() && !b.isInterrupted();
            });
            assertThat(run.get(20, TimeUnit.SECONDS)).isTrue();
        } finally {
            executor.shutdown();
        }
        assertThat(executor.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
        assertThat(executor.isTerminated()).isTrue();
    }

    @Test
    void checkCancelledBenchmarkFailsFastOffAWorker() {
        assertThatThrownBy(() -> new CheckCancelledBenchmark().requireWorker())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("worker thread");
    }

    @Test
    void jmhFoundEveryBenchmark() throws Exception {
        String list;
        try (InputStream in = getClass().getResourceAsStream("/META-INF/BenchmarkList")) {
            assertThat(in).as("JMH's annotation processor wrote META-INF/BenchmarkList").isNotNull();
            list = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(list).contains("OffloadBenchmark_roundTrip_jmhTest", "OffloadBenchmark_inFlight1000_jmhTest",
                "ExternalCallBenchmark_call1Thread_jmhTest", "ExternalCallBenchmark_call8Threads_jmhTest",
                "ExternalCallBenchmark_call64Threads_jmhTest",
                "ExternalCallBenchmark_call64ThreadsLatency_jmhTest", "StartTaskSoonBenchmark_startTaskSoon20k_jmhTest",
                "CancelObservedBenchmark_cancelObserved_jmhTest",
                "WorkerInterruptedBenchmark_workerInterrupted_jmhTest",
                "CheckCancelledBenchmark_checkCancelled_jmhTest",
                "CheckCancelledBenchmark_threadLocalPlusVolatile_jmhTest",
                "CheckCancelledBenchmark_isInterrupted_jmhTest", "StartTaskSoonBenchmark_startTaskSoon20kAllOf_jmhTest",
                "PacedBenchmark_roundTripPaced_jmhTest", "PacedBenchmark_callPaced_jmhTest");
        assertThat(list).doesNotContain("ContextPropagationBenchmark");
    }
}
