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

        private long period;
        private long next;
        /** Ticks skipped because a call (or a late wake-up) ran past them. */
        public long skipped;

        /** Starts the schedule now. */
        @Setup(Level.Iteration)
        public void start() {
            if (periodMicros <= 0) {
                throw new IllegalArgumentException("periodMicros must be > 0 (was " + periodMicros + ")");
            }
            period = TimeUnit.MICROSECONDS.toNanos(periodMicros);
            next = System.nanoTime();
        }

        /** Parks until the next tick of the schedule, skipping ticks already past. */
        @Setup(Level.Invocation)
        public void awaitTick() {
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
