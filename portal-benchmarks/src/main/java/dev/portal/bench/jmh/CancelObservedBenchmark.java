package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;

import dev.portal.bench.CancelTrial;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * (e) Cancellation of an offloaded call that is running: from the moment the benchmark thread asks
 * the loop to cancel until the loop code awaiting the call sees the cancellation (Portal:
 * {@code CancelScope.cancel()} around a {@code CancelMode.ABANDON} call). Starting the call and
 * letting the worker go afterwards happen outside the measured time.
 */
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class CancelObservedBenchmark {

    /** A running contender and one started trial per invocation. */
    @State(Scope.Benchmark)
    public static class Trial extends ContenderState {
        CancelTrial trial;

        @Setup(Level.Invocation)
        public void startTrial() throws Exception {
            trial = c.startCancellable(false);
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
    public boolean cancelObserved(Trial s) throws Exception {
        s.trial.cancel();
        s.trial.observed.get(30, TimeUnit.SECONDS);
        return s.trial.observed.isDone();
    }
}
