package dev.portal.bench.jmh;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import dev.portal.bench.Contender;
import dev.portal.bench.Countdown;
import dev.portal.bench.contenders.PortalContender;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What context propagation costs Portal: (a) and (b) again, with one ThreadLocal registered with
 * Micrometer's context-propagation and set on the calling thread, so every hop (the portal task,
 * each offload to a worker and back) captures, applies and restores it. The ThreadLocal holds a
 * two-entry map that is copied on every capture and every apply, as SLF4J's MDC does with
 * Logback; in a Spring Boot application the MDC is registered this way, automatically. The
 * contenders in the main table propagate nothing, so Portal runs there with nothing registered.
 */
@Fork(1)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Benchmark)
public class ContextPropagationBenchmark {

    /** The propagated context: a request id and a user, as a logging MDC would hold them. */
    static final ThreadLocal<Map<String, String>> CONTEXT = new ThreadLocal<>();
    static final Map<String, String> VALUES = Map.of("requestId", "4bf92f3577b34da6", "user", "alice");
    /** The key of the accessor this benchmark registers for its trial. */
    public static final String ACCESSOR_KEY = "portal.bench.context";
    /** Offloaded calls that did not see the caller's context; any makes the benchmark fail. */
    private static final AtomicLong MISSING = new AtomicLong();

    private MapAccessor accessor;
    private Contender portal;

    @Setup(Level.Trial)
    public void start() {
        accessor = new MapAccessor();
        ContextRegistry.getInstance().registerThreadLocalAccessor(accessor);
        portal = new PortalContender();
    }

    @TearDown(Level.Trial)
    public void stop() {
        portal.close();
        ContextRegistry.getInstance().removeThreadLocalAccessor(ACCESSOR_KEY);
    }

    /** (a) with context: one offload at a time, loop → worker → loop. */
    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    @OperationsPerInvocation(OffloadBenchmark.SEQUENTIAL)
    public int roundTrip() throws Exception {
        CONTEXT.set(VALUES);
        try {
            return portal.sequentialOffloads(OffloadBenchmark.SEQUENTIAL).get(30, TimeUnit.SECONDS);
        } finally {
            CONTEXT.remove();
        }
    }

    /** (b) with context: 1000 offloads in flight under the 40-token limit. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @OperationsPerInvocation(OffloadBenchmark.IN_FLIGHT)
    public boolean inFlight1000() throws Exception {
        CONTEXT.set(VALUES);
        try {
            Countdown all = new Countdown(OffloadBenchmark.IN_FLIGHT);
            portal.startOffloads(OffloadBenchmark.IN_FLIGHT, ContextPropagationBenchmark::seenContext, all);
            all.done.get(30, TimeUnit.SECONDS);
            if (MISSING.get() > 0) {
                throw new IllegalStateException(MISSING.get() + " offloaded calls did not see the caller's context");
            }
            return all.done.isDone();
        } finally {
            CONTEXT.remove();
        }
    }

    /** Forgets the calls counted as missing the context (for a test that provokes them). */
    public static void clearMissing() {
        MISSING.set(0);
    }

    /** The offloaded function: checks that the context arrived, so the benchmark measures real work. */
    static Integer seenContext() {
        if (!VALUES.equals(CONTEXT.get())) {
            MISSING.incrementAndGet();
        }
        return 1;
    }

    /** Copies the map both ways, as Logback's MDC adapter does for context-propagation. */
    static final class MapAccessor implements ThreadLocalAccessor<Map<String, String>> {
        @Override
        public Object key() {
            return ACCESSOR_KEY;
        }

        @Override
        public Map<String, String> getValue() {
            Map<String, String> current = CONTEXT.get();
            return current == null ? null : new HashMap<>(current);
        }

        @Override
        public void setValue(Map<String, String> value) {
            CONTEXT.set(new HashMap<>(value));
        }

        @Override
        public void setValue() {
            CONTEXT.remove();
        }
    }
}
