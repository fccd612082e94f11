package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * (c) A thread the loop did not start calls into the loop and blocks for the answer: Portal's
 * {@code BlockingPortal.call}. Latency with one caller; throughput with 8 and 64 callers; and how
 * long each of 64 callers' calls takes (percentiles), since a throughput can be bought by letting
 * some callers wait longer than others.
 */
@Fork(3)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ExternalCallBenchmark {

    @Benchmark
    @Threads(1)
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public int call1Thread(ContenderState s) throws Exception {
        return s.c.callOnLoop(41);
    }

    @Benchmark
    @Threads(8)
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public int call8Threads(ContenderState s) throws Exception {
        return s.c.callOnLoop(41);
    }

    @Benchmark
    @Threads(64)
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public int call64Threads(ContenderState s) throws Exception {
        return s.c.callOnLoop(41);
    }

    @Benchmark
    @Threads(64)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public int call64ThreadsLatency(ContenderState s) throws Exception {
        return s.c.callOnLoop(41);
    }
}
