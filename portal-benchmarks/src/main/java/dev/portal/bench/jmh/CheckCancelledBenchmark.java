package dev.portal.bench.jmh;

import java.util.concurrent.TimeUnit;

import dev.portal.FromThread;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * (f) The cost of polling for cancellation on a worker: {@link FromThread#checkCancelled()} beside
 * the JVM's floor for such a poll, the interrupt flag and a ThreadLocal lookup plus a volatile read.
 * JMH runs this benchmark's threads inside {@code ToThread.runSync} calls (see
 * {@link PortalWorkerExecutor}), so all three run on a Portal worker, as in real use.
 */
@Fork(value = 3, jvmArgsAppend = {"-Djmh.executor=CUSTOM",
        "-Djmh.executor.class=dev.portal.bench.jmh.PortalWorkerExecutor"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Thread)
public class CheckCancelledBenchmark {

    /** What a hand-made poll reads: a per-thread holder with a volatile flag. */
    public static final class Flag {
        volatile boolean cancelled;
    }

    static final ThreadLocal<Flag> FLAG = ThreadLocal.withInitial(Flag::new);

    /** Fails fast when the benchmark does not run on a Portal worker. */
    @Setup
    public void requireWorker() {
        FromThread.checkCancelled();
    }

    @Benchmark
    public void checkCancelled() {
        FromThread.checkCancelled();
    }

    @Benchmark
    public boolean threadLocalPlusVolatile() {
        return FLAG.get().cancelled;
    }

    @Benchmark
    public boolean isInterrupted() {
        return Thread.currentThread().isInterrupted();
    }
}
