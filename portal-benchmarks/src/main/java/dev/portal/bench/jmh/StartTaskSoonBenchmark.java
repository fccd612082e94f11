package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/**
 * (d) An external thread starts 20 000 tasks on the loop ({@code BlockingPortal.startTaskSoon}),
 * then waits for every one; tasks per second.
 */
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class StartTaskSoonBenchmark {

    public static final int TASKS = 20_000;

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @OperationsPerInvocation(TASKS)
    public long startTaskSoon20k(ContenderState s) throws Exception {
        Object[] handles = new Object[TASKS];
        for (int i = 0; i < TASKS; i++) {
            handles[i] = s.c.startTaskSoon(i);
        }
        long sum = 0;
        for (int i = 0; i < TASKS; i++) {
            sum += s.c.awaitTask(handles[i]);
        }
        if (sum != (long) TASKS * (TASKS + 1) / 2) {
            throw new IllegalStateException("tasks returned the wrong values: sum " + sum);
        }
        return sum;
    }
}
