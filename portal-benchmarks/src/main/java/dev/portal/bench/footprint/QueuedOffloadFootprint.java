package dev.portal.bench.footprint;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

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
 *     [--contenders jdk,portal,vertx,reactor] [--queued 100000] [--out footprint.tsv]
 * </pre>
 *
 * Output: one line per contender, {@code contender bytesPerOffload queued}, tab-separated.
 */
public final class QueuedOffloadFootprint {

    private static final MemoryMXBean MEMORY = ManagementFactory.getMemoryMXBean();

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
                default:
                    throw new IllegalArgumentException("unknown argument " + args[i]
                            + "; expected --contenders a,b --queued N --out file");
            }
        }
        List<Result> results = new ArrayList<>();
        for (String name : contenders) {
            Result r = measure(name, queued, System.out);
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
        c.startOffloads(queued, Contender.TRIVIAL, count).get(120, TimeUnit.SECONDS);
        long after = usedHeapAfterGc();
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
