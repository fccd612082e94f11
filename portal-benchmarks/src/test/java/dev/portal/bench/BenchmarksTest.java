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
import dev.portal.bench.jmh.ContextPropagationBenchmark;
import dev.portal.bench.jmh.ExternalCallBenchmark;
import dev.portal.bench.jmh.OffloadBenchmark;
import dev.portal.bench.jmh.PortalWorkerExecutor;
import dev.portal.bench.jmh.StartTaskSoonBenchmark;
import dev.portal.bench.jmh.WorkerInterruptedBenchmark;

import io.micrometer.context.ContextRegistry;

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
            assertThat(tasks.startTaskSoon20k(s))
                    .isEqualTo((long) StartTaskSoonBenchmark.TASKS * (StartTaskSoonBenchmark.TASKS + 1) / 2);
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
            for (int i = 0; i < 3; i++) {
                s.startTrial();
                assertThat(b.cancelObserved(s)).isTrue();
                s.endTrial();
            }
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
            for (int i = 0; i < 3; i++) {
                t.startTrial();
                assertThat(b.workerInterrupted(t)).isTrue();
                t.endTrial();
            }
        } finally {
            t.stop();
        }
    }

    @Test
    void contextPropagationBenchmarkCarriesTheContextToEveryWorkerAndUnregistersIt() throws Exception {
        ContextPropagationBenchmark b = new ContextPropagationBenchmark();
        b.start();
        try {
            for (int i = 0; i < 3; i++) {
                assertThat(b.roundTrip()).isEqualTo(OffloadBenchmark.SEQUENTIAL);
                assertThat(b.inFlight1000()).isTrue();
            }
        } finally {
            b.stop();
        }
        assertThat(ContextRegistry.getInstance().getThreadLocalAccessors())
                .noneMatch(a -> a.key().equals(ContextPropagationBenchmark.ACCESSOR_KEY));
    }

    @Test
    void contextPropagationBenchmarkFailsWhenAWorkerMissesTheContext() throws Exception {
        ContextPropagationBenchmark b = new ContextPropagationBenchmark();
        b.start();
        try {
            // Unregistered, nothing reaches the workers: the benchmark must refuse to report a number.
            ContextRegistry.getInstance().removeThreadLocalAccessor(ContextPropagationBenchmark.ACCESSOR_KEY);
            assertThatThrownBy(b::inFlight1000).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("did not see the caller's context");
        } finally {
            ContextPropagationBenchmark.clearMissing();
            b.stop();
        }
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
                "CheckCancelledBenchmark_isInterrupted_jmhTest", "ContextPropagationBenchmark_roundTrip_jmhTest",
                "ContextPropagationBenchmark_inFlight1000_jmhTest");
    }
}
