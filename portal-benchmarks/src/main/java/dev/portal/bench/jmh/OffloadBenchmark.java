package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;

import dev.portal.bench.Contender;
import dev.portal.bench.Countdown;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/**
 * (a) and (b): offloading from loop code. Each invocation hops onto the loop once and does all
 * its offloads there, so the hop from the benchmark thread is spread over many operations.
 */
@Fork(3)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class OffloadBenchmark {

    /** Offloads per invocation of {@link #roundTrip}. */
    public static final int SEQUENTIAL = 100;
    /** Offloads in flight per invocation of {@link #inFlight1000}. */
    public static final int IN_FLIGHT = 1000;

    /** (a) One offload at a time: loop to worker and back to the loop, per offload. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @OperationsPerInvocation(SEQUENTIAL)
    public int roundTrip(ContenderState s) throws Exception {
        return s.c.sequentialOffloads(SEQUENTIAL).get(30, TimeUnit.SECONDS);
    }

    /** (b) 1000 offloads started at once under the 40-worker limit; offloads per second. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @OperationsPerInvocation(IN_FLIGHT)
    public boolean inFlight1000(ContenderState s) throws Exception {
        Countdown all = new Countdown(IN_FLIGHT);
        s.c.startOffloads(IN_FLIGHT, Contender.TRIVIAL, all);
        all.done.get(30, TimeUnit.SECONDS);
        return all.done.isDone();
    }
}
