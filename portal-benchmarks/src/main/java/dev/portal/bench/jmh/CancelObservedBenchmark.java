package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;

import dev.portal.bench.CancelTrial;

import org.openjdk.jmh.annotations.AuxCounters;
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
 * (e) Cancellation of an offloaded call that is running, timed where the user's code sees it: loop
 * code reads the clock and cancels (Portal: {@code CancelScope.cancel()} around a
 * {@code CancelMode.ABANDON} call), and the loop code awaiting the call reads it again when it sees
 * the cancellation. JMH's own score times the benchmark thread's request to the loop instead, which
 * adds the hop onto the loop (and the wake-up of a parked loop); the figure that counts is the
 * {@link LoopClock}'s: {@code loopNanos / trials}, which the report computes. Starting the call and
 * letting the worker go afterwards happen outside the measured time.
 */
@Fork(3)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
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

    /** Sums of the times the user's code saw, reported by JMH per iteration beside its own score. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class LoopClock {
        /** Nanoseconds from the cancel on the loop to the awaiting loop code seeing it, summed. */
        public long loopNanos;
        /** Trials summed into {@link #loopNanos}. */
        public long trials;

        @Setup(Level.Iteration)
        public void reset() {
            loopNanos = 0;
            trials = 0;
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public boolean cancelObserved(Trial s, LoopClock clock) throws Exception {
        s.trial.cancel();
        s.trial.observed.get(30, TimeUnit.SECONDS);
        clock.loopNanos += s.trial.observedNanos();
        clock.trials++;
        return s.trial.observed.isDone();
    }
}
