package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;

import dev.portal.bench.CancelTrial;
import dev.portal.bench.Contender;
import dev.portal.bench.Contenders;

import org.openjdk.jmh.annotations.AuxCounters;
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
 * (e) Cancellation in interrupt mode, timed where the user's code sees it: from the clock reading of
 * the loop code that cancels to the one of the worker that catches the interrupt (Portal:
 * {@code CancelMode.INTERRUPT}). As in {@link CancelObservedBenchmark}, JMH's own score adds the
 * benchmark thread's hop onto the loop; the figure that counts is the {@link WorkerClock}'s
 * {@code workerNanos / trials}. Vert.x cannot interrupt one call and is left out.
 */
@Fork(3)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class WorkerInterruptedBenchmark {

    /** A running contender and one started trial per invocation. */
    @State(Scope.Benchmark)
    public static class Trial {
        @Param({"jdk", "portal", "portal-nomdc", "reactor"})
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

    /** Sums of the times the worker saw, reported by JMH per iteration beside its own score. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class WorkerClock {
        /** Nanoseconds from the cancel on the loop to the worker catching the interrupt, summed. */
        public long workerNanos;
        /** Trials summed into {@link #workerNanos}. */
        public long trials;

        @Setup(Level.Iteration)
        public void reset() {
            workerNanos = 0;
            trials = 0;
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public boolean workerInterrupted(Trial s, WorkerClock clock) throws Exception {
        s.trial.cancel();
        s.trial.interrupted.get(30, TimeUnit.SECONDS);
        clock.workerNanos += s.trial.interruptedNanos();
        clock.trials++;
        return s.trial.interrupted.isDone();
    }
}
