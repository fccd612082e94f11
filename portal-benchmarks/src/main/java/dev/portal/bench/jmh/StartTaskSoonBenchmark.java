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
 * then waits for every one; tasks per second. Two ways to wait, since callers use both and the
 * result depends on it: {@code get()} on each future in turn, and all at once with
 * {@code CompletableFuture.allOf(...).join()} (Vert.x: {@code Future.all(...).await()}).
 */
@Fork(3)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
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
        return checked(sum);
    }

    /** (d) with {@code allOf(...).join()}: the same tasks, waited for all at once. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @OperationsPerInvocation(TASKS)
    public long startTaskSoon20kAllOf(ContenderState s) throws Exception {
        Object[] handles = new Object[TASKS];
        for (int i = 0; i < TASKS; i++) {
            handles[i] = s.c.startTaskSoon(i);
        }
        return checked(s.c.awaitAll(handles));
    }

    private static long checked(long sum) {
        if (sum != (long) TASKS * (TASKS + 1) / 2) {
            throw new IllegalStateException("tasks returned the wrong values: sum " + sum);
        }
        return sum;
    }
}
