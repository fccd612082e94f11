package dev.portal.bench.report;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.portal.bench.Contenders;

import org.jspecify.annotations.Nullable;

/**
 * Turns JMH's JSON results and the footprint probe's output into the results tables (time or
 * throughput, and CPU per operation, each with every contender's cost relative to the JDK floor),
 * the verdict on every target, and an SVG chart. {@code bench/run.sh} calls it; with
 * {@code --publish} it replaces the generated part of {@code docs/performance.md} (between the
 * {@code results:begin} and {@code results:end} markers); with {@code --compact-jmh} it writes JMH's
 * results without the raw histograms of the sampled benchmarks, for publishing.
 *
 * <p>Every figure is the median of the forks' means (each fork: the mean of its measurement
 * iterations, from JMH's {@code rawData}), published with the range of the fork means; JMH's own
 * ±error is not used. CPU per operation comes from {@code dev.portal.bench.jmh.CpuPerOpProfiler}'s
 * secondary result; the cancellation benchmarks' times from the clocks the user's code reads
 * (their {@code *Nanos} and {@code trials} counters).
 *
 * <pre>
 * java -cp ... dev.portal.bench.report.BenchmarkReport --jmh jmh.json --footprint footprint.tsv \
 *     --svg chart.svg [--markdown out.md] [--publish docs/performance.md --chart-link ../path/chart.svg] \
 *     [--machine "2 cores, ..."] [--command "bench/run.sh"] [--compact-jmh jmh.json]
 * </pre>
 */
public final class BenchmarkReport {

    static final String BEGIN = "<!-- results:begin -->";
    static final String END = "<!-- results:end -->";
    static final Map<String, String> DISPLAY = Map.of("jdk", "JDK floor", "portal", "Portal",
            "portal-nomdc", "Portal, no context", "vertx", "Vert.x", "reactor", "Reactor");
    /** The contender the targets judge: Portal with the MDC on, as a Spring application runs it. */
    static final String PORTAL = "portal";
    /** The peers Portal is compared with in the targets. */
    static final List<String> PEERS = List.of("jdk", "vertx", "reactor");
    /** The secondary result of the CPU profiler. */
    static final String CPU = "cpu.per.op";
    /** The secondary result of JMH's {@code -prof comp}: the JIT's compilation time in one iteration, in ms. */
    static final String JIT = "compiler.time.profiled";
    /**
     * Compilation in one measured iteration above which the report lists the cell: 5 % of a 1 s
     * iteration, time the benchmark's threads may have waited for a core or run unoptimised code.
     */
    static final double JIT_LIMIT_MS = 50;

    /** Lower is better for TIME and BYTES, higher for RATE. */
    enum Kind {
        TIME, RATE, BYTES
    }

    /** One row of the tables: where each contender's number comes from. */
    record Metric(String id, String label, Kind kind, Map<String, String> sources) {
        /** The label without the details in the chart's narrow column. */
        String shortLabel() {
            return CHART_LABELS.getOrDefault(id, label);
        }

        /** The label without its "(x) " prefix, for the verdicts. */
        String what() {
            return label.replaceFirst("^\\([a-g]\\) ", "");
        }
    }

    static final Map<String, String> CHART_LABELS = Map.ofEntries(Map.entry("a", "(a) offload round trip"),
            Map.entry("a200", "(a) paced, every 200 µs"), Map.entry("a1000", "(a) paced, every 1 ms"),
            Map.entry("b", "(b) 1000 offloads in flight"), Map.entry("c1", "(c) external call, 1 thread"),
            Map.entry("c200", "(c) paced, every 200 µs"), Map.entry("c1000", "(c) paced, every 1 ms"),
            Map.entry("c8", "(c) external calls, 8 threads"), Map.entry("c64", "(c) external calls, 64 threads"),
            Map.entry("d", "(d) 20 000 tasks, get() each"), Map.entry("dAll", "(d) 20 000 tasks, allOf"),
            Map.entry("e1", "(e) cancel → loop code sees it"), Map.entry("e2", "(e) cancel → worker interrupted"),
            Map.entry("f", "(f) cancellation poll"), Map.entry("g", "(g) heap per queued offload"));

    /**
     * One measured number: the median of the runs (forks), the smallest and largest run, and how
     * many runs there were (1 when the figure has no spread, such as the heap probe's).
     */
    record Cell(double score, double min, double max, int runs, String unit) {
        static Cell single(double score, String unit) {
            return new Cell(score, score, score, 1, unit);
        }

        boolean hasSpread() {
            return runs > 1 && !Double.isNaN(min) && !Double.isNaN(max);
        }
    }

    static final List<Metric> METRICS = List.of(
            perContender("a", "(a) offload round trip, loop → worker → loop, back to back", Kind.TIME,
                    "OffloadBenchmark.roundTrip", Contenders.ALL),
            perContender("a200", "(a) paced: one round trip from an external thread every 200 µs (latency)",
                    Kind.TIME, "PacedBenchmark.roundTripPaced@200", Contenders.ALL),
            perContender("a1000", "(a) paced: one round trip from an external thread every 1 ms (latency)",
                    Kind.TIME, "PacedBenchmark.roundTripPaced@1000", Contenders.ALL),
            perContender("b", "(b) 1000 offloads in flight, 40 workers", Kind.RATE,
                    "OffloadBenchmark.inFlight1000", Contenders.ALL),
            perContender("c1", "(c) external thread → loop → back, 1 thread, back to back (latency)", Kind.TIME,
                    "ExternalCallBenchmark.call1Thread", Contenders.ALL),
            perContender("c200", "(c) paced: one external call every 200 µs (latency)", Kind.TIME,
                    "PacedBenchmark.callPaced@200", Contenders.ALL),
            perContender("c1000", "(c) paced: one external call every 1 ms (latency)", Kind.TIME,
                    "PacedBenchmark.callPaced@1000", Contenders.ALL),
            perContender("c8", "(c) external calls, 8 threads", Kind.RATE,
                    "ExternalCallBenchmark.call8Threads", Contenders.ALL),
            perContender("c64", "(c) external calls, 64 threads", Kind.RATE,
                    "ExternalCallBenchmark.call64Threads", Contenders.ALL),
            perContender("d", "(d) 20 000 startTaskSoon, then get() on each in turn", Kind.RATE,
                    "StartTaskSoonBenchmark.startTaskSoon20k", Contenders.ALL),
            perContender("dAll", "(d) 20 000 startTaskSoon, then allOf(...).join()", Kind.RATE,
                    "StartTaskSoonBenchmark.startTaskSoon20kAllOf", Contenders.ALL),
            perContender("e1", "(e) cancel on the loop → awaiting loop code sees it", Kind.TIME,
                    "CancelObservedBenchmark.cancelObserved", Contenders.ALL),
            perContender("e2", "(e) cancel on the loop → worker sees its interrupt", Kind.TIME,
                    "WorkerInterruptedBenchmark.workerInterrupted",
                    List.of("jdk", "portal", "portal-nomdc", "reactor")),
            new Metric("f", "(f) cancellation poll on a worker", Kind.TIME, Map.of(
                    "jdk", "CheckCancelledBenchmark.threadLocalPlusVolatile",
                    "portal", "CheckCancelledBenchmark.checkCancelled",
                    "reactor", "CheckCancelledBenchmark.isInterrupted")),
            perContender("g", "(g) heap per offload queued for a worker", Kind.BYTES, "footprint", Contenders.ALL));

    /** The rows whose CPU per call the CPU target compares with the JDK floor's. */
    static final List<String> CPU_TARGET_ROWS = List.of("a", "a200", "a1000", "c1", "c200", "c1000");

    private static Metric perContender(String id, String label, Kind kind, String benchmark, List<String> who) {
        Map<String, String> sources = new LinkedHashMap<>();
        for (String c : who) {
            sources.put(c, benchmark + "#" + c);
        }
        return new Metric(id, label, kind, sources);
    }

    /** Benchmark key ({@code Class.method[@param]#contender} or {@code Class.method}) to its number. */
    final Map<String, Cell> cells = new TreeMap<>();
    /** The same keys to the CPU per operation, in ns/op. */
    final Map<String, Cell> cpu = new TreeMap<>();
    /** The same keys to the most compilation in any one measured iteration of any run, in ms. */
    final Map<String, Double> jitMs = new TreeMap<>();
    /** Sampled benchmarks' percentiles, by the same key: JMH's percentile ("99.9") to the time. */
    final Map<String, Map<String, Double>> percentiles = new TreeMap<>();
    /** Facts about the run: JDK, JVM, JMH settings. */
    final Map<String, String> run = new LinkedHashMap<>();

    // ---------------------------------------------------------------------------------------------
    // Reading

    /** Reads JMH's JSON result file. */
    @SuppressWarnings("unchecked")
    void readJmh(String json) {
        Object root = Json.parse(json);
        if (!(root instanceof List)) {
            throw new IllegalArgumentException("JMH results must be a JSON array");
        }
        for (Object o : (List<Object>) root) {
            Map<String, Object> b = (Map<String, Object>) o;
            String key = key(b);
            Map<String, Object> pm = (Map<String, Object>) b.get("primaryMetric");
            Map<String, Object> secondary = b.get("secondaryMetrics") instanceof Map
                    ? (Map<String, Object>) b.get("secondaryMetrics") : Map.of();
            Cell primary = userClock(secondary);
            cells.put(key, primary != null ? primary : fromRuns(pm));
            Map<String, Object> cpuMetric = secondaryMetric(secondary, CPU);
            if (cpuMetric != null) {
                cpu.put(key, fromRuns(cpuMetric));
            }
            Map<String, Object> jitMetric = secondaryMetric(secondary, JIT);
            if (jitMetric != null) {
                double most = 0;
                for (List<Double> fork : rawData(jitMetric)) {
                    for (double ms : fork) {
                        most = Double.isNaN(ms) ? most : Math.max(most, ms);
                    }
                }
                jitMs.put(key, most);
            }
            if (pm.get("scorePercentiles") instanceof Map) {
                Map<String, Double> p = new LinkedHashMap<>();
                ((Map<String, Object>) pm.get("scorePercentiles")).forEach((q, v) -> p.put(q, Json.number(v)));
                percentiles.put(key, p);
            }
            if (run.isEmpty()) {
                run.put("jdk", b.get("jdkVersion") + " (" + b.get("vmName") + " " + b.get("vmVersion") + ")");
                run.put("jvmArgs", String.join(" ", (List<String>) b.get("jvmArgs")));
                run.put("jmh", String.valueOf(b.get("jmhVersion")));
                int forks = b.get("forks") instanceof Number ? ((Number) b.get("forks")).intValue() : 0;
                run.put("forks", String.valueOf(forks));
                run.put("settings", String.format(Locale.ROOT, "%s %s, %s warm-up × %s, %s measurement × %s",
                        forks, forks == 1 ? "fork" : "forks", intString(b.get("warmupIterations")),
                        b.get("warmupTime"), intString(b.get("measurementIterations")), b.get("measurementTime")));
            }
        }
    }

    /** {@code Class.method}, then {@code @value} for each parameter but the contender, then {@code #contender}. */
    @SuppressWarnings("unchecked")
    private static String key(Map<String, Object> b) {
        String fqn = (String) b.get("benchmark");
        String simple = fqn.substring(fqn.lastIndexOf('.', fqn.lastIndexOf('.') - 1) + 1);
        Map<String, Object> params = b.get("params") instanceof Map ? (Map<String, Object>) b.get("params") : Map.of();
        StringBuilder key = new StringBuilder(simple);
        new TreeMap<>(params).forEach((name, value) -> {
            if (!name.equals("contender")) {
                key.append('@').append(value);
            }
        });
        if (params.get("contender") != null) {
            key.append('#').append(params.get("contender"));
        }
        return key.toString();
    }

    private static @Nullable Map<String, Object> secondaryMetric(Map<String, Object> secondary, String name) {
        Object m = secondary.get(name);
        if (m == null) {
            m = secondary.get("·" + name);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> metric = m instanceof Map ? (Map<String, Object>) m : null;
        return metric;
    }

    /**
     * The time the user's code saw, when the benchmark reports one (the cancellation benchmarks'
     * {@code loopNanos} or {@code workerNanos} summed over {@code trials}): per run, the sum of the
     * nanoseconds over the sum of the trials, in µs; null for the other benchmarks.
     */
    private static @Nullable Cell userClock(Map<String, Object> secondary) {
        Map<String, Object> trials = secondaryMetric(secondary, "trials");
        if (trials == null) {
            return null;
        }
        for (String name : List.of("loopNanos", "workerNanos")) {
            Map<String, Object> nanos = secondaryMetric(secondary, name);
            if (nanos == null) {
                continue;
            }
            List<List<Double>> n = rawData(nanos);
            List<List<Double>> t = rawData(trials);
            List<Double> perRun = new ArrayList<>();
            for (int f = 0; f < Math.min(n.size(), t.size()); f++) {
                double sumNanos = n.get(f).stream().mapToDouble(Double::doubleValue).sum();
                double sumTrials = t.get(f).stream().mapToDouble(Double::doubleValue).sum();
                if (sumTrials > 0) {
                    perRun.add(sumNanos / sumTrials / 1000);
                }
            }
            if (!perRun.isEmpty()) {
                return summarise(perRun, "us/op");
            }
        }
        return null;
    }

    /** The median, range and count of the forks' means of one metric; JMH's score when it has no rawData. */
    static Cell fromRuns(Map<String, Object> metric) {
        String unit = String.valueOf(metric.get("scoreUnit"));
        List<List<Double>> raw = rawData(metric);
        List<Double> means = new ArrayList<>();
        for (List<Double> fork : raw) {
            double sum = 0;
            int n = 0;
            for (double v : fork) {
                if (!Double.isNaN(v)) {
                    sum += v;
                    n++;
                }
            }
            if (n > 0) {
                means.add(sum / n);
            }
        }
        if (means.isEmpty()) {
            return Cell.single(Json.number(metric.get("score")), unit);
        }
        return summarise(means, unit);
    }

    static Cell summarise(List<Double> runs, String unit) {
        List<Double> sorted = new ArrayList<>(runs);
        Collections.sort(sorted);
        int n = sorted.size();
        double median = n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
        return new Cell(median, sorted.get(0), sorted.get(n - 1), n, unit);
    }

    /** JMH's {@code rawData} ({@code [fork][iteration]}), or the means of a sample-mode histogram. */
    @SuppressWarnings("unchecked")
    private static List<List<Double>> rawData(Map<String, Object> metric) {
        Object raw = metric.get("rawData");
        if (!(raw instanceof List)) {
            return Json.iterationMeans(metric.get("rawDataHistogram"));
        }
        List<List<Double>> out = new ArrayList<>();
        for (Object fork : (List<Object>) raw) {
            List<Double> values = new ArrayList<>();
            if (fork instanceof List) {
                for (Object v : (List<Object>) fork) {
                    values.add(Json.number(v));
                }
            }
            out.add(values);
        }
        return out;
    }

    private static String intString(@Nullable Object o) {
        return o instanceof Number ? String.valueOf(((Number) o).intValue()) : String.valueOf(o);
    }

    /** Reads the footprint probe's lines: {@code contender bytesPerOffload queued}. */
    void readFootprint(String tsv) {
        for (String line : tsv.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.trim().split("\t");
            cells.put("footprint#" + f[0], Cell.single(Double.parseDouble(f[1]), "B/offload"));
            run.put("queued", f[2]);
        }
    }

    @Nullable Cell cell(Metric m, String contender) {
        String key = m.sources().get(contender);
        return key == null ? null : cells.get(key);
    }

    @Nullable Cell cpuCell(Metric m, String contender) {
        String key = m.sources().get(contender);
        return key == null ? null : cpu.get(key);
    }

    /** Cost relative to the JDK floor: above 1 is worse, below 1 better. NaN when not measured. */
    double ratio(Metric m, String contender) {
        return cost(m.kind(), cell(m, contender), cell(m, "jdk"));
    }

    /** CPU per operation relative to the JDK floor's. NaN when not measured. */
    double cpuRatio(Metric m, String contender) {
        return cost(Kind.TIME, cpuCell(m, contender), cpuCell(m, "jdk"));
    }

    private static double cost(Kind kind, @Nullable Cell c, @Nullable Cell base) {
        if (c == null || base == null) {
            return Double.NaN;
        }
        return kind == Kind.RATE ? base.score() / c.score() : c.score() / base.score();
    }

    // ---------------------------------------------------------------------------------------------
    // The tables

    /** Time or throughput per contender: median (range of the runs) and the cost relative to the floor. */
    String table() {
        return table(false);
    }

    /** CPU per operation per contender, the same way. */
    String cpuTable() {
        return table(true);
    }

    private String table(boolean cpuPerOp) {
        StringBuilder sb = new StringBuilder();
        sb.append("| Operation |");
        for (String c : Contenders.ALL) {
            sb.append(' ').append(DISPLAY.get(c)).append(" |");
        }
        sb.append("\n|---|");
        sb.append("---:|".repeat(Contenders.ALL.size()));
        sb.append('\n');
        for (Metric m : METRICS) {
            if (cpuPerOp && m.kind() == Kind.BYTES) {
                continue;
            }
            sb.append("| ").append(m.label()).append(" |");
            for (String c : Contenders.ALL) {
                Cell cell = cpuPerOp ? cpuCell(m, c) : cell(m, c);
                if (cell == null) {
                    sb.append(" n/a |");
                    continue;
                }
                if (cpuPerOp) {
                    cell = cpuInReadableUnit(cell);
                }
                sb.append(' ').append(format(cell));
                if (cell.hasSpread()) {
                    sb.append(" (").append(formatRange(cell)).append(')');
                }
                sb.append(String.format(Locale.ROOT, " %.2f×", cpuPerOp ? cpuRatio(m, c) : ratio(m, c)));
                if (m.id().equals("f") && c.equals("reactor")) {
                    sb.append(" ¹");
                }
                sb.append(" |");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    /** CPU per operation in µs from 1 µs up, in ns below. */
    static Cell cpuInReadableUnit(Cell ns) {
        if (!ns.unit().equals("ns/op") || ns.score() < 1000) {
            return ns;
        }
        return new Cell(ns.score() / 1000, ns.min() / 1000, ns.max() / 1000, ns.runs(), "us/op");
    }

    static String format(Cell c) {
        return formatNumber(c.score(), c.unit()) + " " + unit(c.unit());
    }

    static String formatRange(Cell c) {
        return formatNumber(c.min(), c.unit()) + "–" + formatNumber(c.max(), c.unit());
    }

    static String unit(String jmhUnit) {
        switch (jmhUnit) {
            case "us/op":
                return "µs";
            case "ns/op":
                return "ns";
            case "ms/op":
                return "ms";
            case "ops/s":
                return "ops/s";
            case "B/offload":
                return "B";
            default:
                return jmhUnit;
        }
    }

    static String formatNumber(double v, String unit) {
        if (unit.equals("ops/s")) {
            if (v >= 1e6) {
                return String.format(Locale.ROOT, "%.2f M", v / 1e6);
            }
            if (v >= 1e3) {
                return String.format(Locale.ROOT, "%.1f k", v / 1e3);
            }
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (v >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (v >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        return String.format(Locale.ROOT, "%.2f", v);
    }

    // ---------------------------------------------------------------------------------------------
    // Targets

    /** One target's verdict. */
    record Verdict(String id, String target, boolean met, String evidence) {
    }

    List<Verdict> verdicts() {
        List<Verdict> out = new ArrayList<>();
        Metric a = metric("a");
        out.add(verdict("a", "no slower than the JDK floor and faster than Vert.x",
                cmp(a, PORTAL, "jdk", 1.0), cmpStrict(a, PORTAL, "vertx")));
        Metric b = metric("b");
        out.add(verdict("b", "at least Vert.x's throughput", cmp(b, PORTAL, "vertx", 1.0)));
        Metric c1 = metric("c1");
        Metric c64 = metric("c64");
        String best = bestOf(c64, PEERS);
        out.add(verdict("c", "1-thread latency no slower than the JDK floor; 64-thread throughput ≥ 1.5× the best "
                + "contender (" + DISPLAY.get(best) + ")", cmp(c1, PORTAL, "jdk", 1.0), cmp(c64, PORTAL, best, 1.5)));
        Metric d = metric("d");
        Metric dAll = metric("dAll");
        out.add(verdict("d", "≥ 0.8× Vert.x's throughput, whichever way the caller waits",
                cmp(d, PORTAL, "vertx", 0.8), cmp(dAll, PORTAL, "vertx", 0.8)));
        Metric e1 = metric("e1");
        Metric e2 = metric("e2");
        out.add(verdict("e", "no slower than the JDK floor; interruption sooner than Reactor's",
                cmp(e1, PORTAL, "jdk", 1.0), cmp(e2, PORTAL, "jdk", 1.0), cmpStrict(e2, PORTAL, "reactor")));
        Metric f = metric("f");
        out.add(verdict("f", "within 3× the ThreadLocal-plus-volatile floor", cmp(f, PORTAL, "jdk", 3.0)));
        Metric g = metric("g");
        String leanest = bestOf(g, PEERS);
        out.add(verdict("g", "no more bytes than the leanest contender (" + DISPLAY.get(leanest) + ")",
                cmp(g, PORTAL, leanest, 1.0)));
        List<Comparison> cpuParts = new ArrayList<>();
        for (String id : CPU_TARGET_ROWS) {
            cpuParts.add(cmpCpu(metric(id), PORTAL, "jdk"));
        }
        out.add(verdict("cpu", "per call no higher than the JDK floor's at every rate: (a) and (c), back to back "
                + "and paced", cpuParts.toArray(new Comparison[0])));
        out.add(tailVerdict());
        return out;
    }

    private Metric metric(String id) {
        for (Metric m : METRICS) {
            if (m.id().equals(id)) {
                return m;
            }
        }
        throw new IllegalArgumentException(id);
    }

    /** The contender with the best score among {@code who}. */
    private String bestOf(Metric m, List<String> who) {
        String best = who.get(0);
        for (String c : who) {
            Cell x = cell(m, c);
            Cell y = cell(m, best);
            if (x != null && (y == null || better(m.kind(), x.score(), y.score()))) {
                best = c;
            }
        }
        return best;
    }

    private static boolean better(Kind kind, double x, double y) {
        return kind == Kind.RATE ? x > y : x < y;
    }

    /** A comparison: Portal against a reference, with the factor the target allows. */
    record Comparison(boolean met, String text) {
    }

    /**
     * Portal "no worse than factor × reference": for RATE, portal ≥ factor × ref; for TIME/BYTES,
     * portal ≤ factor × ref.
     */
    Comparison cmp(Metric m, String who, String ref, double factor) {
        return compare(m.kind(), m.what(), cell(m, who), cell(m, ref), who, ref, factor, false);
    }

    /** Portal strictly better than the reference. */
    Comparison cmpStrict(Metric m, String who, String ref) {
        return compare(m.kind(), m.what(), cell(m, who), cell(m, ref), who, ref, 1.0, true);
    }

    /** Portal's CPU per operation no higher than the reference's. */
    Comparison cmpCpu(Metric m, String who, String ref) {
        return compare(Kind.TIME, "CPU per call, " + m.what(), cpuCell(m, who), cpuCell(m, ref), who, ref, 1.0,
                false);
    }

    private static Comparison compare(Kind kind, String what, @Nullable Cell p, @Nullable Cell r, String who,
            String ref, double factor, boolean strict) {
        if (p == null || r == null) {
            return new Comparison(false, what + ": not measured");
        }
        boolean met;
        if (strict) {
            met = better(kind, p.score(), r.score());
        } else {
            met = kind == Kind.RATE ? p.score() >= factor * r.score() : p.score() <= factor * r.score();
        }
        return new Comparison(met, describe(what, who, ref, p, r, factor, kind));
    }

    private static String describe(String what, String who, String ref, Cell p, Cell r, double factor, Kind kind) {
        Cell pr = kind == Kind.TIME && p.unit().equals("ns/op") ? cpuInReadableUnit(p) : p;
        Cell rr = kind == Kind.TIME && r.unit().equals("ns/op") ? cpuInReadableUnit(r) : r;
        String overlap = "";
        if (p.hasSpread() && r.hasSpread() && p.min() <= factor * r.max() && factor * r.min() <= p.max()) {
            overlap = ", the runs' ranges overlap";
        }
        return String.format(Locale.ROOT, "%s: %s %s vs %s %s (%.2f×%s%s)", what, DISPLAY.get(who), format(pr),
                DISPLAY.get(ref), format(rr), p.score() / r.score(), factor != 1.0
                        ? String.format(Locale.ROOT, ", needs %s%.1f×", kind == Kind.RATE ? "≥ " : "≤ ", factor)
                        : "", overlap);
    }

    private static Verdict verdict(String id, String target, Comparison... parts) {
        boolean met = true;
        List<String> texts = new ArrayList<>();
        for (Comparison c : parts) {
            met &= c.met();
            texts.add((c.met() ? "✓ " : "✗ ") + c.text());
        }
        return new Verdict(id, target, met, String.join("; ", texts));
    }

    /** The tail target: Portal's p99.9 and max with 64 callers no worse than the best peer's. */
    Verdict tailVerdict() {
        String target = "of (c) with 64 callers: p99.9 and max of one call no worse than the best contender's";
        Map<String, Double> portal = percentiles.get(LATENCY_BENCHMARK + "#" + PORTAL);
        List<Comparison> parts = new ArrayList<>();
        for (String[] q : new String[][] {{"p99.9", "99.9"}, {"max", "100.0"}}) {
            String best = null;
            double bestValue = Double.NaN;
            for (String c : PEERS) {
                Map<String, Double> p = percentiles.get(LATENCY_BENCHMARK + "#" + c);
                Double v = p == null ? null : p.get(q[1]);
                if (v != null && (best == null || v < bestValue)) {
                    best = c;
                    bestValue = v;
                }
            }
            Double mine = portal == null ? null : portal.get(q[1]);
            if (mine == null || best == null) {
                parts.add(new Comparison(false, q[0] + ": not measured"));
                continue;
            }
            String unit = unit(latencyUnit());
            parts.add(new Comparison(mine <= bestValue, String.format(Locale.ROOT, "%s: Portal %s %s vs %s %s %s "
                    + "(%.2f×)", q[0], formatNumber(mine, latencyUnit()), unit, DISPLAY.get(best),
                    formatNumber(bestValue, latencyUnit()), unit, mine / bestValue)));
        }
        return verdict("tail", target, parts.toArray(new Comparison[0]));
    }

    private String latencyUnit() {
        Cell c = cells.get(LATENCY_BENCHMARK + "#" + PORTAL);
        return c == null ? "us/op" : c.unit();
    }

    String targets() {
        StringBuilder sb = new StringBuilder();
        sb.append("| Target | Verdict | Numbers |\n|---|---|---|\n");
        for (Verdict v : verdicts()) {
            String id = v.id().length() == 1 ? "(" + v.id() + ")" : v.id().equals("cpu") ? "CPU" : "Tail";
            sb.append("| ").append(id).append(' ').append(v.target()).append(" | **")
                    .append(v.met() ? "met" : "missed").append("** | ").append(v.evidence()).append(" |\n");
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------------------------------------
    // The chart

    private static final String[] SERIES = {"portal", "portal-nomdc", "vertx", "reactor"};
    private static final Map<String, String> COLOURS = Map.of("portal", "#1f6fb4", "portal-nomdc", "#8fbbe0",
            "vertx", "#8e5bb8",
            "reactor", "#3a9a3a");

    /** Diverging bars on a log scale: each contender's cost relative to the JDK floor. */
    String svg(String title) {
        int labelWidth = 250;
        int plotWidth = 520;
        int right = 90;
        int top = 94;
        int bar = 11;
        int gap = 3;
        int groupGap = 16;
        int groupHeight = SERIES.length * (bar + gap) - gap + groupGap;
        int height = top + METRICS.size() * groupHeight + 46;
        int width = labelWidth + plotWidth + right;

        double lo = 1.0 / 4;
        double hi = 4;
        for (Metric m : METRICS) {
            for (String c : SERIES) {
                double r = ratio(m, c);
                if (!Double.isNaN(r) && r > 0) {
                    while (r < lo) {
                        lo /= 2;
                    }
                    while (r > hi) {
                        hi *= 2;
                    }
                }
            }
        }
        double logLo = Math.log(lo) / Math.log(2);
        double logHi = Math.log(hi) / Math.log(2);
        java.util.function.DoubleUnaryOperator x = r -> labelWidth
                + (Math.log(r) / Math.log(2) - logLo) / (logHi - logLo) * plotWidth;

        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
                width, height, width, height));
        s.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", width, height));
        s.append(String.format(Locale.ROOT, "<text x=\"12\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>\n",
                escape(title)));
        s.append("<text x=\"12\" y=\"40\" fill=\"#444\">Cost relative to the JDK floor (the 1× line), log scale: "
                + "left of the line is better than the floor, right is worse.</text>\n");
        s.append("<text x=\"12\" y=\"56\" fill=\"#444\">Time ÷ floor time; floor throughput ÷ throughput; "
                + "bytes ÷ floor bytes.</text>\n");
        int lx = labelWidth;
        for (String c : SERIES) {
            s.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"66\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                    + "<text x=\"%d\" y=\"76\">%s</text>\n", lx, COLOURS.get(c), lx + 17, DISPLAY.get(c)));
            lx += c.equals("portal-nomdc") ? 150 : 95;
        }
        // Grid: powers of two.
        for (double g = lo; g <= hi * 1.0001; g *= 2) {
            double gx = x.applyAsDouble(g);
            boolean one = Math.abs(g - 1) < 1e-9;
            s.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" "
                    + "stroke-width=\"%s\"/>\n", gx, top - 6, gx, height - 36, one ? "#222" : "#ddd",
                    one ? "1.5" : "1"));
            s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#444\">"
                    + "%s×</text>\n", gx, height - 20, ratioLabel(g)));
        }
        int y = top;
        double oneX = x.applyAsDouble(1);
        for (Metric m : METRICS) {
            int labelY = y + (SERIES.length * (bar + gap) - gap) / 2 + 4;
            s.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n",
                    labelWidth - 10, labelY, escape(m.shortLabel())));
            for (String c : SERIES) {
                double r = ratio(m, c);
                if (Double.isNaN(r)) {
                    s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" fill=\"#888\" "
                            + "font-size=\"10\">%s n/a</text>\n", oneX + 4, y + bar - 2, DISPLAY.get(c)));
                } else {
                    double bx = x.applyAsDouble(r);
                    double left = Math.min(bx, oneX);
                    double w = Math.max(1, Math.abs(bx - oneX));
                    s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                            + "fill=\"%s\"><title>%s: %s</title></rect>\n", left, y, w, bar, COLOURS.get(c),
                            DISPLAY.get(c), escape(format(cell(m, c)))));
                    boolean worse = r >= 1;
                    s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" "
                            + "text-anchor=\"%s\">%s×</text>\n", worse ? bx + 3 : bx - 3, y + bar - 2,
                            worse ? "start" : "end", ratioLabel(r)));
                }
                y += bar + gap;
            }
            y += groupGap - gap;
        }
        s.append("</svg>\n");
        return s.toString();
    }

    private static String ratioLabel(double r) {
        if (r >= 10) {
            return String.format(Locale.ROOT, "%.0f", r);
        }
        if (r >= 1) {
            return String.format(Locale.ROOT, "%.2f", r).replaceAll("0+$", "").replaceAll("\\.$", "");
        }
        return String.format(Locale.ROOT, "%.2f", r);
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    // ---------------------------------------------------------------------------------------------
    // The generated section

    /** Why the run's JVM options are there, for those the report knows; empty for none of them. */
    static String jvmOptionsNote(String jvmArgs) {
        List<String> notes = new ArrayList<>();
        if (jvmArgs.contains("AlwaysPreTouch")) {
            notes.add("`-XX:+AlwaysPreTouch` touches the whole heap at start-up, so no benchmark pays the first "
                    + "write to each fresh heap page, and allocation runs at full speed before eden's first "
                    + "collection");
        }
        // Only when the stub command is the sole scaling: a global -XX:CompileThresholdScaling= would
        // change the contenders' thresholds too, and the note says they keep the defaults.
        if (jvmArgs.contains("CompileCommand=CompileThresholdScaling,*::*_jmhStub,")
                && !jvmArgs.contains("-XX:CompileThresholdScaling=")) {
            notes.add("the `CompileThresholdScaling` command applies to JMH's generated measurement loops alone "
                    + "(`*_jmhStub`): they compile in the first warm-up second instead of in the measured ones; "
                    + "a loop that makes one call every 200 µs otherwise stayed interpreted until then, and once "
                    + "compiled it called the contender's methods from new code, which the JIT compiled again "
                    + "inside the measured seconds. The contenders' own code keeps the JVM's default thresholds");
        }
        return notes.isEmpty() ? "" : " (" + String.join("; ", notes) + ")";
    }

    String markdown(@Nullable String machine, @Nullable String command, @Nullable String chartLink, String date) {
        StringBuilder sb = new StringBuilder();
        sb.append("Generated by `bench/run.sh` on ").append(date).append(".\n\n");
        sb.append("- Command: `").append(command != null ? command : "bench/run.sh").append("`\n");
        if (machine != null) {
            sb.append("- Machine: ").append(machine).append('\n');
        }
        sb.append("- JDK: ").append(run.getOrDefault("jdk", "?")).append('\n');
        String jvmArgs = run.getOrDefault("jvmArgs", "");
        sb.append("- JVM options (every benchmark): `").append(jvmArgs).append('`').append(jvmOptionsNote(jvmArgs))
                .append('\n');
        sb.append("- JMH ").append(run.getOrDefault("jmh", "?")).append(": ").append(run.getOrDefault("settings", "?"))
                .append(" per benchmark and contender, with `-prof dev.portal.bench.jmh.CpuPerOpProfiler`")
                .append(jitMs.isEmpty() ? "" : " and `-prof comp`").append('\n');
        sb.append("- Versions: ").append(versions()).append('\n');
        if (run.containsKey("queued")) {
            sb.append("- Footprint (g): ").append(run.get("queued"))
                    .append(" queued offloads per contender, `-XX:+UseSerialGC -Xms1g -Xmx1g`, one run\n");
        }
        String forks = run.getOrDefault("forks", "?");
        sb.append(forks.equals("1")
                ? "\nEach cell: a single run (one JMH fork, the mean of its measurement iterations; no spread, so "
                        + "not for publishing), and the cost relative to the JDK floor (below 1× is better than the "
                        + "floor)."
                : "\nEach cell: the median of the " + forks + " runs (JMH forks, each the mean of its measurement "
                        + "iterations), the range of the runs in brackets, and the cost relative to the JDK floor "
                        + "(below 1× is better than the floor).");
        sb.append(" **Portal** carries a request's MDC of four entries "
                + "(SLF4J with Logback: what a Spring application runs) across every hop; **Portal, no context** "
                + "propagates nothing. The JDK floor, Vert.x and Reactor propagate nothing by default and run as "
                + "they are. The targets judge Portal with the MDC.\n\n");
        sb.append("### Time or throughput\n\n");
        sb.append(table());
        sb.append("\n¹ Reactor has no cancellation poll of its own; its workers read the interrupt flag, "
                + "`Thread.currentThread().isInterrupted()`, shown here. Vert.x has neither.\n\n"
                + "Paced rows: the benchmark thread parks until the next tick of a fixed schedule, then makes one "
                + "call; the time is the call's alone. (e) is timed where the user's code sees it: from the "
                + "cancel in loop code to the awaiting loop code (or the interrupted worker) seeing it.\n\n");
        if (chartLink != null) {
            sb.append("![Cost relative to the JDK floor](").append(chartLink).append(")\n\n");
        }
        if (!cpu.isEmpty()) {
            sb.append("### CPU per operation\n\n");
            sb.append("The whole process's CPU time (user + system, every thread: caller, loop, workers, GC, JIT) "
                    + "over each measurement iteration, divided by the operations it ran: per offload, call or "
                    + "task; for (e) per whole trial (start, cancel, release); for the paced rows the waits between "
                    + "calls are included, so a thread that spins after a call pays for it here.\n\n");
            sb.append(cpuTable());
            sb.append('\n');
        }
        sb.append("### Targets\n\n");
        sb.append(targets());
        String context = contextTable();
        if (!context.isEmpty()) {
            sb.append("\n### What the MDC costs Portal\n\n");
            sb.append("The Portal columns side by side: with a four-entry MDC captured, applied and restored on every "
                    + "hop (the caller's request to the loop, each offload to a worker and back), and with nothing "
                    + "propagated. Cost above 1× is what carrying the MDC adds.\n\n");
            sb.append(context);
        }
        String jit = jitSection();
        if (!jit.isEmpty()) {
            sb.append("\n### The JIT in the measured seconds\n\n");
            sb.append(jit);
        }
        String latency = latencyTable();
        if (!latency.isEmpty()) {
            sb.append("\n### (c) with 64 callers: how long one call takes\n\n");
            sb.append("The calls of (c) with 64 threads, timed one by one (JMH's sample mode, "
                    + "`ExternalCallBenchmark.call64ThreadsLatency`, all runs pooled). A throughput can be bought by "
                    + "making some callers wait longer than others; this table shows what each contender's callers "
                    + "see. Target: p99.9 and max no worse than the best contender's.\n\n");
            sb.append(latency);
        }
        return sb.toString();
    }

    static final String LATENCY_BENCHMARK = "ExternalCallBenchmark.call64ThreadsLatency";
    private static final String[][] LATENCY_COLUMNS = {
        {"p50", "50.0"}, {"p90", "90.0"}, {"p99", "99.0"}, {"p99.9", "99.9"}, {"p99.99", "99.99"}, {"max", "100.0"},
    };

    /** Each contender's percentiles of one call's time with 64 callers; empty if not measured. */
    String latencyTable() {
        StringBuilder sb = new StringBuilder();
        for (String c : Contenders.ALL) {
            Map<String, Double> p = percentiles.get(LATENCY_BENCHMARK + "#" + c);
            Cell mean = cells.get(LATENCY_BENCHMARK + "#" + c);
            if (p == null || mean == null) {
                continue;
            }
            sb.append("| ").append(DISPLAY.get(c)).append(" | ").append(format(mean));
            if (mean.hasSpread()) {
                sb.append(" (").append(formatRange(mean)).append(')');
            }
            for (String[] col : LATENCY_COLUMNS) {
                Double v = p.get(col[1]);
                sb.append(" | ").append(v == null ? "n/a" : formatNumber(v, mean.unit()) + " " + unit(mean.unit()));
            }
            sb.append(" |\n");
        }
        if (sb.length() == 0) {
            return "";
        }
        StringBuilder head = new StringBuilder("| Contender | mean");
        StringBuilder rule = new StringBuilder("|---|---:");
        for (String[] col : LATENCY_COLUMNS) {
            head.append(" | ").append(col[0]);
            rule.append("|---:");
        }
        return head.append(" |\n").append(rule).append("|\n").append(sb).toString();
    }

    /**
     * What JMH's {@code -prof comp} saw in the measured iterations: the cells measured while the JIT
     * compiled more than {@link #JIT_LIMIT_MS} in one iteration, or that there were none; empty if the
     * run had no compiler profile.
     */
    String jitSection() {
        if (jitMs.isEmpty()) {
            return "";
        }
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "JMH's `-prof comp` counts the JIT's "
                + "compilation time in each iteration. A figure measured while the JIT still compiles is a start-up "
                + "figure: the benchmark's threads share the cores with the compiler and run code not yet optimised, "
                + "which a running application no longer does. Listed here: every benchmark and contender with more "
                + "than %.0f ms of compilation in one measured iteration of any run.\n\n", JIT_LIMIT_MS));
        // In the tables' order, then what no row shows (the 64-caller latency samples).
        Set<String> ordered = new LinkedHashSet<>();
        for (Metric m : METRICS) {
            m.sources().values().stream().filter(jitMs::containsKey).forEach(ordered::add);
        }
        ordered.addAll(jitMs.keySet());
        List<String> over = new ArrayList<>();
        String mostKey = ordered.iterator().next();
        for (String key : ordered) {
            double ms = jitMs.get(key);
            if (ms > jitMs.get(mostKey)) {
                mostKey = key;
            }
            if (ms > JIT_LIMIT_MS) {
                over.add(String.format(Locale.ROOT, "| %s | %.0f ms |\n", String.join(" | ", rowOf(key)), ms));
            }
        }
        if (over.isEmpty()) {
            return sb.append(String.format(Locale.ROOT, "None: the most in one measured iteration was %.0f ms "
                    + "(%s).\n", jitMs.get(mostKey), String.join(", ", rowOf(mostKey)))).toString();
        }
        sb.append("| Operation | Contender | most compilation in one measured iteration |\n|---|---|---:|\n");
        over.forEach(sb::append);
        return sb.toString();
    }

    /**
     * The operation and the contender a benchmark key measures, as the tables name them: from the
     * row whose source it is ((f) measures each contender with a method of its own), else the
     * benchmark's name and its contender parameter.
     */
    private static List<String> rowOf(String key) {
        for (Metric m : METRICS) {
            for (Map.Entry<String, String> source : m.sources().entrySet()) {
                if (source.getValue().equals(key)) {
                    return List.of(m.label(), DISPLAY.get(source.getKey()));
                }
            }
        }
        int hash = key.indexOf('#');
        if (hash < 0) {
            return List.of("`" + key + "`", "n/a");
        }
        String contender = key.substring(hash + 1);
        return List.of("`" + key.substring(0, hash) + "`", DISPLAY.getOrDefault(contender, contender));
    }

    /** Portal without and with the MDC, per operation: time or throughput and CPU; empty if not measured. */
    String contextTable() {
        StringBuilder sb = new StringBuilder();
        for (Metric m : METRICS) {
            Cell without = cell(m, "portal-nomdc");
            Cell with = cell(m, PORTAL);
            if (without == null || with == null) {
                continue;
            }
            sb.append("| ").append(m.label()).append(" | ").append(format(without)).append(" | ").append(format(with))
                    .append(String.format(Locale.ROOT, " | %.2f×", cost(m.kind(), with, without)));
            Cell cpuWithout = cpuCell(m, "portal-nomdc");
            Cell cpuWith = cpuCell(m, PORTAL);
            if (cpuWithout != null && cpuWith != null) {
                sb.append(" | ").append(format(cpuInReadableUnit(cpuWithout))).append(" | ")
                        .append(format(cpuInReadableUnit(cpuWith)))
                        .append(String.format(Locale.ROOT, " | %.2f× |%n", cost(Kind.TIME, cpuWith, cpuWithout)));
            } else {
                sb.append(" | n/a | n/a | n/a |\n");
            }
        }
        if (sb.length() == 0) {
            return "";
        }
        return "| Operation | no context | MDC | cost | CPU, no context | CPU, MDC | CPU cost |\n"
                + "|---|---:|---:|---:|---:|---:|---:|\n" + sb;
    }

    /** Library versions, read from the jar names on this JVM's class path. */
    static String versions() {
        String[][] wanted = {{"Portal", "portal-core"}, {"Vert.x", "vertx-core"}, {"Netty", "netty-common"},
            {"Reactor", "reactor-core"}, {"JMH", "jmh-core"}};
        List<String> found = new ArrayList<>();
        String cp = System.getProperty("java.class.path", "");
        for (String[] w : wanted) {
            Pattern p = Pattern.compile(Pattern.quote(w[1]) + "-(\\d[^/\\\\]*?)\\.jar$");
            String version = w[0].equals("Portal") ? "(this checkout)" : "?";
            for (String entry : cp.split(File.pathSeparator)) {
                Matcher mt = p.matcher(entry);
                if (mt.find()) {
                    version = mt.group(1);
                }
            }
            found.add(w[0] + " " + version);
        }
        return String.join(", ", found);
    }

    /** Replaces the text between the markers in {@code doc} with {@code section}. */
    static String publish(String doc, String section) {
        int b = doc.indexOf(BEGIN);
        int e = doc.indexOf(END);
        if (b < 0 || e < b) {
            throw new IllegalArgumentException("the document has no " + BEGIN + " ... " + END + " section");
        }
        return doc.substring(0, b + BEGIN.length()) + "\n" + section + doc.substring(e);
    }

    public static void main(String[] args) throws IOException {
        Map<String, String> opts = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --option value pairs, got " + args[i]);
            }
            opts.put(args[i].substring(2), args[++i]);
        }
        BenchmarkReport report = new BenchmarkReport();
        String jmh = Files.readString(Path.of(require(opts, "jmh")), StandardCharsets.UTF_8);
        report.readJmh(jmh);
        if (opts.containsKey("compact-jmh")) {
            Files.writeString(Path.of(opts.get("compact-jmh")), Json.withoutHistograms(jmh), StandardCharsets.UTF_8);
        }
        if (opts.containsKey("footprint")) {
            report.readFootprint(Files.readString(Path.of(opts.get("footprint")), StandardCharsets.UTF_8));
        }
        String date = opts.getOrDefault("date", java.time.LocalDate.now().toString());
        String section = report.markdown(opts.get("machine"), opts.get("command"), opts.get("chart-link"), date);
        if (opts.containsKey("svg")) {
            Files.writeString(Path.of(opts.get("svg")), report.svg("Portal vs the JDK floor, Vert.x and Reactor"),
                    StandardCharsets.UTF_8);
        }
        if (opts.containsKey("markdown")) {
            Files.writeString(Path.of(opts.get("markdown")), section, StandardCharsets.UTF_8);
        }
        if (opts.containsKey("publish")) {
            Path doc = Path.of(opts.get("publish"));
            Files.writeString(doc, publish(Files.readString(doc, StandardCharsets.UTF_8), section),
                    StandardCharsets.UTF_8);
        }
        System.out.println(section);
    }

    private static String require(Map<String, String> opts, String name) {
        String v = opts.get(name);
        if (v == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return v;
    }
}
