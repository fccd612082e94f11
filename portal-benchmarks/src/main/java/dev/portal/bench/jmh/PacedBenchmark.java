package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

/**
 * (a) and (c) paced, the shape of a web application's traffic: one call every {@code periodMicros}
 * (200 µs or 1 ms) instead of back to back. Before each call the benchmark thread parks until the
 * next tick of a fixed schedule (ticks it has missed are skipped, not made up), so between two calls
 * every thread of the contender has nothing to do, and what it does then (park at once, or spin)
 * shows in the CPU.
 *
 * <p>JMH times the call only: the wait is a per-invocation setup, which JMH leaves out of the time.
 * The score is the latency of one call in µs; the CPU per call ({@link CpuPerOpProfiler}) covers
 * the whole iteration, waits included, which is what matters here.
 */
@Fork(3)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class PacedBenchmark {

    /** The schedule of one benchmark thread. */
    @State(Scope.Thread)
    public static class Pacer {
        /** Microseconds between two calls. */
        @Param({"200", "1000"})
        public int periodMicros = 200;

        /**
         * The period of the warm-up iterations, which also make one unpaced call after each paced
         * one. Paced at 1 ms, two seconds of warm-up make 2 000 calls, too few for C2: the measured
         * seconds then paid for the compiler (JMH's {@code -prof comp}: 322 ms of compilation in the
         * first measured second of (a) at 1 ms, 45 to 80 ms in each of the next four), a start-up
         * cost a running application pays once, not per call. Paced at 100 µs, every other call
         * still finds the threads idle (longer than any spin), so the paced paths are compiled, and
         * the unpaced calls compile the rest; measured, compilation in the measured seconds falls
         * to 0 to 5 ms. That also needs JMH's own measurement loop compiled early, which at this
         * rate it was not: {@code bench/run.sh} lowers the JIT's thresholds for it alone (see the
         * {@code CompileThresholdScaling} note there).
         */
        static final int WARM_UP_PERIOD_MICROS = 100;

        private long period;
        private int unpaced;
        private int unpacedLeft;
        private long next;
        /** Ticks skipped because a call (or a late wake-up) ran past them. */
        public long skipped;

        /**
         * Starts the schedule now. Warm-up iterations pace at {@link #WARM_UP_PERIOD_MICROS} (or the
         * period, if shorter) with an unpaced call after each paced one, so the JIT has compiled the
         * paced path before the measurement starts.
         */
        @Setup(Level.Iteration)
        public void start(IterationParams iteration) {
            start(iteration.getType() == IterationType.WARMUP);
        }

        /** Starts the schedule now, at the warm-up period (and with unpaced calls) if {@code warmUp}. */
        public void start(boolean warmUp) {
            if (periodMicros <= 0) {
                throw new IllegalArgumentException("periodMicros must be > 0 (was " + periodMicros + ")");
            }
            int micros = warmUp ? Math.min(periodMicros, WARM_UP_PERIOD_MICROS) : periodMicros;
            period = TimeUnit.MICROSECONDS.toNanos(micros);
            unpaced = warmUp ? 1 : 0;
            unpacedLeft = 0;
            next = System.nanoTime();
        }

        /** The period of the iteration now running, in nanoseconds. */
        public long periodNanos() {
            return period;
        }

        /** Unpaced calls made after each paced one: 1 in warm-up iterations, 0 when measuring. */
        public int unpacedPerPaced() {
            return unpaced;
        }

        /** Parks until the next tick of the schedule, skipping ticks already past. */
        @Setup(Level.Invocation)
        public void awaitTick() {
            if (unpacedLeft > 0) {
                unpacedLeft--;
                return;
            }
            unpacedLeft = unpaced;
            next += period;
            long now = System.nanoTime();
            if (now - next > 0) {
                long missed = (now - next) / period + 1;
                skipped += missed;
                next += missed * period;
            }
            for (long left = next - now; left > 0; left = next - System.nanoTime()) {
                LockSupport.parkNanos(left);
            }
        }
    }

    /** (a) paced: an external thread submits loop code that offloads once; it blocks for the result. */
    @Benchmark
    public int roundTripPaced(ContenderState s, Pacer p) throws Exception {
        return s.c.sequentialOffloads(1).get(30, TimeUnit.SECONDS);
    }

    /** (c) paced: one caller calls into the loop and blocks for the answer. */
    @Benchmark
    public int callPaced(ContenderState s, Pacer p) throws Exception {
        return s.c.callOnLoop(41);
    }
}
