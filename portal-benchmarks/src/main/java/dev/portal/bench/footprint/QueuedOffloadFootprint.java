package dev.portal.bench.footprint;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import javax.management.ObjectName;

import dev.portal.bench.Contender;
import dev.portal.bench.Contenders;

/**
 * (g) Heap retained per offload that waits for a worker. For each contender: block all 40 workers,
 * then let loop code start N more offloads, which queue; used heap after full GCs, minus the same
 * before the N were started, divided by N. Then the workers are released and every one of the
 * N + 40 results must arrive on the loop. A smaller warm-up round first loads the classes and grows
 * the queues once.
 *
 * <pre>
 * java -XX:+UseSerialGC -Xms1g -Xmx1g -cp ... dev.portal.bench.footprint.QueuedOffloadFootprint \
 *     [--contenders jdk,portal,portal-nomdc,vertx,reactor] [--queued 100000] [--out footprint.tsv] [--histogram]
 * </pre>
 *
 * Output: one line per contender, {@code contender bytesPerOffload queued}, tab-separated. With
 * {@code --histogram}, also the classes whose live instances grew, in bytes per queued offload
 * (from the JVM's class histogram, taken with the same full GCs): where the bytes go.
 */
public final class QueuedOffloadFootprint {

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();
    private static boolean histogram;

    private QueuedOffloadFootprint() {
    }

    /** One contender's result. */
    public record Result(String contender, double bytesPerOffload, int queued) {
        String line() {
            return String.format(Locale.ROOT, "%s\t%.1f\t%d", contender, bytesPerOffload, queued);
        }
    }

    public static void main(String[] args) throws Exception {
        List<String> contenders = Contenders.ALL;
        int queued = 100_000;
        Path out = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--contenders":
                    contenders = List.of(args[++i].split(","));
                    break;
                case "--queued":
                    queued = Integer.parseInt(args[++i]);
                    break;
                case "--out":
                    out = Path.of(args[++i]);
                    break;
                case "--histogram":
                    histogram = true;
                    break;
                default:
                    throw new IllegalArgumentException("unknown argument " + args[i]
                            + "; expected --contenders a,b --queued N --out file");
            }
        }
        List<Result> results = new ArrayList<>();
        for (String name : contenders) {
            Result r = measure(name, queued, System.out);
            if (histogram) {
                System.out.println(lastHistogram);
            }
            results.add(r);
        }
        if (out != null) {
            write(out, results);
        }
    }

    /** Starts the contender, measures, checks completion, and closes it. */
    public static Result measure(String name, int queued, PrintStream log) throws Exception {
        try (Contender c = Contenders.create(name)) {
            round(c, Math.max(1, queued / 10));
            double bytes = round(c, queued);
            Result r = new Result(name, bytes, queued);
            log.println(r.line());
            return r;
        }
    }

    /** One round; returns the bytes retained per queued offload. */
    private static double round(Contender c, int queued) throws Exception {
        CountDownLatch running = new CountDownLatch(Contender.WORKERS);
        CountDownLatch gate = new CountDownLatch(1);
        AtomicInteger results = new AtomicInteger();
        Callable<Integer> blocker = () -> {
            running.countDown();
            if (!gate.await(120, TimeUnit.SECONDS)) {
                throw new IllegalStateException("gate never opened");
            }
            return 1;
        };
        Runnable count = results::incrementAndGet;
        c.startOffloads(Contender.WORKERS, blocker, count).get(30, TimeUnit.SECONDS);
        if (!running.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(c.name() + ": only " + (Contender.WORKERS - running.getCount()) + " of "
                    + Contender.WORKERS + " workers started");
        }
        long before = usedHeapAfterGc();
        Map<String, long[]> histogramBefore = histogram ? classHistogram() : Map.of();
        c.startOffloads(queued, Contender.TRIVIAL, count).get(120, TimeUnit.SECONDS);
        long after = usedHeapAfterGc();
        if (histogram) {
            lastHistogram = growth(histogramBefore, classHistogram(), queued);
        }
        if (results.get() != 0) {
            throw new IllegalStateException(c.name() + ": " + results.get() + " offloads completed while every worker "
                    + "was blocked; they should have queued");
        }
        gate.countDown();
        int expected = queued + Contender.WORKERS;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (results.get() < expected) {
            if (System.nanoTime() - deadline > 0) {
                throw new IllegalStateException(c.name() + ": only " + results.get() + " of " + expected
                        + " offloads completed after the workers were released");
            }
            Thread.sleep(5); // polling a counter with a deadline; nothing to wait on
        }
        return (double) (after - before) / queued;
    }

    /** Used heap after several full collections, once it has stopped shrinking. */
    static long usedHeapAfterGc() throws InterruptedException {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 6; i++) {
            System.gc();
            Thread.sleep(20);
            best = Math.min(best, MEMORY.getHeapMemoryUsage().getUsed());
        }
        return best;
    }

    private static String lastHistogram = "";

    /** The JVM's live-object class histogram (it runs a full GC): class name to {instances, bytes}. */
    static Map<String, long[]> classHistogram() throws Exception {
        String text = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                new Object[] {new String[0]}, new String[] {String[].class.getName()});
        Map<String, long[]> classes = new HashMap<>();
        for (String line : text.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 4 && f[0].endsWith(":")) {
                classes.put(f[3], new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])});
            }
        }
        return classes;
    }

    /** The classes that grew, largest first, in instances and bytes per queued offload. */
    static String growth(Map<String, long[]> before, Map<String, long[]> after, int queued) {
        List<Map.Entry<String, long[]>> grown = new ArrayList<>();
        for (Map.Entry<String, long[]> e : after.entrySet()) {
            long[] b = before.getOrDefault(e.getKey(), new long[2]);
            long[] d = {e.getValue()[0] - b[0], e.getValue()[1] - b[1]};
            if (d[1] > queued / 100) {
                grown.add(Map.entry(e.getKey(), d));
            }
        }
        grown.sort((x, y) -> Long.compare(y.getValue()[1], x.getValue()[1]));
        StringBuilder sb = new StringBuilder("  per queued offload: instances  bytes  class\n");
        for (Map.Entry<String, long[]> e : grown) {
            sb.append(String.format(Locale.ROOT, "  %8.2f %7.1f  %s%n", (double) e.getValue()[0] / queued,
                    (double) e.getValue()[1] / queued, e.getKey()));
        }
        return sb.toString();
    }

    static String format(List<Result> results) {
        StringBuilder sb = new StringBuilder();
        for (Result r : results) {
            sb.append(r.line()).append('\n');
        }
        return sb.toString();
    }

    static void write(Path out, List<Result> results) throws IOException {
        Files.writeString(out, format(results), StandardCharsets.UTF_8);
    }
}
