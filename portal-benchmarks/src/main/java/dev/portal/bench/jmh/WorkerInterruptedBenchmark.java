package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;

import dev.portal.bench.CancelTrial;
import dev.portal.bench.Contender;
import dev.portal.bench.Contenders;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * (e) Cancellation in interrupt mode: from the moment the benchmark thread asks the loop to cancel
 * until the worker running the call is interrupted (Portal: {@code CancelMode.INTERRUPT}). Vert.x
 * cannot interrupt one call and is left out.
 */
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class WorkerInterruptedBenchmark {

    /** A running contender and one started trial per invocation. */
    @State(Scope.Benchmark)
    public static class Trial {
        @Param({"jdk", "portal", "reactor"})
        public String contender = "jdk";

        Contender c;
        CancelTrial trial;

        @Setup(Level.Trial)
        public void start() {
            c = Contenders.create(contender);
        }

        @TearDown(Level.Trial)
        public void stop() {
            c.close();
        }

        @Setup(Level.Invocation)
        public void startTrial() throws Exception {
            trial = c.startCancellable(true);
            trial.running.get(30, TimeUnit.SECONDS);
        }

        @TearDown(Level.Invocation)
        public void endTrial() throws Exception {
            trial.release();
            trial.finished.get(30, TimeUnit.SECONDS);
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public boolean workerInterrupted(Trial s) throws Exception {
        s.trial.cancel();
        s.trial.interrupted.get(30, TimeUnit.SECONDS);
        return s.trial.interrupted.isDone();
    }
}
