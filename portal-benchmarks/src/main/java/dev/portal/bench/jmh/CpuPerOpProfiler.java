package dev.portal.bench.jmh;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ScalarResult;

/**
 * CPU time per operation, beside JMH's time or throughput: the forked JVM's process CPU time (user
 * plus system, every thread: the benchmark's, the contender's loop and workers, the GC and the JIT)
 * read at the start and at the end of each iteration, divided by the operations the iteration ran.
 * Reported as the secondary result {@value #LABEL} in ns/op. Use it with
 * {@code -prof dev.portal.bench.jmh.CpuPerOpProfiler}.
 *
 * <p>The divisor is every operation the benchmark threads ran in the iteration
 * ({@code IterationResultMetaData.getAllOps()}, already multiplied by
 * {@code @OperationsPerInvocation}), not only the timed ones: the CPU reading covers the whole
 * iteration, including the operations JMH runs while it starts and stops several benchmark threads.
 * For benchmarks with per-invocation setup (the paced and the cancellation benchmarks) the CPU of
 * the setup is counted too: for the paced ones that is the point (a loop that spins between two
 * calls pays for it here), for the cancellation ones the figure is the CPU of a whole trial.
 *
 * <p>JMH calls the profiler on the forked JVM's main thread, once before and once after each
 * iteration, warm-up iterations included.
 */
public final class CpuPerOpProfiler implements InternalProfiler {

    /** The name of the secondary result (JMH prefixes it with "·" in its output). */
    public static final String LABEL = "cpu.per.op";

    private final com.sun.management.OperatingSystemMXBean os;
    private long startCpu = -1;

    /** Called by JMH (by reflection) in each forked JVM. */
    public CpuPerOpProfiler() {
        java.lang.management.OperatingSystemMXBean bean = ManagementFactory.getOperatingSystemMXBean();
        if (!(bean instanceof com.sun.management.OperatingSystemMXBean)) {
            throw new IllegalStateException("this JVM does not report process CPU time ("
                    + bean.getClass().getName() + ")");
        }
        this.os = (com.sun.management.OperatingSystemMXBean) bean;
    }

    @Override
    public String getDescription() {
        return "CPU time of the whole process per operation (ns/op)";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        startCpu = os.getProcessCpuTime();
    }

    @Override
    public Collection<? extends Result> afterIteration(BenchmarkParams benchmarkParams,
            IterationParams iterationParams, IterationResult result) {
        long cpu = os.getProcessCpuTime();
        if (startCpu < 0 || cpu < 0) {
            return List.of();
        }
        long ops = result.getMetadata().getAllOps();
        if (ops <= 0) {
            ops = result.getMetadata().getMeasuredOps();
        }
        double value = perOp(startCpu, cpu, ops);
        startCpu = -1;
        return List.of(new ScalarResult(LABEL, value, "ns/op", AggregationPolicy.AVG));
    }

    /** The per-operation figure from two process CPU readings and an operation count; NaN without operations. */
    public static double perOp(long cpuBefore, long cpuAfter, long ops) {
        return ops > 0 ? (double) (cpuAfter - cpuBefore) / ops : Double.NaN;
    }
}
