package dev.portal.bench.report;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.portal.bench.Contenders;

import org.jspecify.annotations.Nullable;

/**
 * Turns JMH's JSON results and the footprint probe's output into the results table (with each
 * contender's cost relative to the JDK floor), the verdict on every target, and an SVG chart of the
 * same table. {@code bench/run.sh} calls it; with {@code --publish} it replaces the generated part
 * of {@code docs/performance.md} (between the {@code results:begin} and {@code results:end} markers);
 * with {@code --compact-jmh} it writes JMH's results without the raw histograms of the sampled
 * benchmarks, for publishing.
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
    static final Map<String, String> DISPLAY = Map.of("jdk", "JDK floor", "portal", "Portal", "vertx", "Vert.x",
            "reactor", "Reactor");

    /** Lower is better for TIME and BYTES, higher for RATE. */
    enum Kind {
        TIME, RATE, BYTES
    }

    /** One row of the table: where each contender's number comes from. */
    record Metric(String id, String label, Kind kind, Map<String, String> sources) {
        /** The label without the details in the chart's narrow column. */
        String shortLabel() {
            return CHART_LABELS.getOrDefault(id, label);
        }
    }

    static final Map<String, String> CHART_LABELS = Map.of("a", "(a) offload round trip", "b",
            "(b) 1000 offloads in flight", "c1", "(c) external call, 1 thread (latency)", "c8",
            "(c) external calls, 8 threads", "c64", "(c) external calls, 64 threads", "d",
            "(d) 20 000 startTaskSoon", "e1", "(e) cancel → loop code sees it", "e2",
            "(e) cancel → worker interrupted", "f", "(f) cancellation poll", "g", "(g) heap per queued offload");

    /** One measured number. */
    record Cell(double score, double error, String unit) {
        boolean hasError() {
            return !Double.isNaN(error);
        }
    }

    static final List<Metric> METRICS = List.of(
            perContender("a", "(a) offload round trip, loop → worker → loop, one at a time", Kind.TIME,
                    "OffloadBenchmark.roundTrip", Contenders.ALL),
            perContender("b", "(b) 1000 offloads in flight, 40 workers", Kind.RATE,
                    "OffloadBenchmark.inFlight1000", Contenders.ALL),
            perContender("c1", "(c) external thread → loop → back, 1 thread (latency)", Kind.TIME,
                    "ExternalCallBenchmark.call1Thread", Contenders.ALL),
            perContender("c8", "(c) external calls, 8 threads", Kind.RATE,
                    "ExternalCallBenchmark.call8Threads", Contenders.ALL),
            perContender("c64", "(c) external calls, 64 threads", Kind.RATE,
                    "ExternalCallBenchmark.call64Threads", Contenders.ALL),
            perContender("d", "(d) 20 000 startTaskSoon, then wait for all", Kind.RATE,
                    "StartTaskSoonBenchmark.startTaskSoon20k", Contenders.ALL),
            perContender("e1", "(e) cancel → awaiting loop code sees it", Kind.TIME,
                    "CancelObservedBenchmark.cancelObserved", Contenders.ALL),
            perContender("e2", "(e) cancel → worker interrupted", Kind.TIME,
                    "WorkerInterruptedBenchmark.workerInterrupted", List.of("jdk", "portal", "reactor")),
            new Metric("f", "(f) cancellation poll on a worker", Kind.TIME, Map.of(
                    "jdk", "CheckCancelledBenchmark.threadLocalPlusVolatile",
                    "portal", "CheckCancelledBenchmark.checkCancelled",
                    "reactor", "CheckCancelledBenchmark.isInterrupted")),
            new Metric("g", "(g) heap per offload queued for a worker", Kind.BYTES, Map.of(
                    "jdk", "footprint#jdk", "portal", "footprint#portal", "vertx", "footprint#vertx",
                    "reactor", "footprint#reactor")));

    private static Metric perContender(String id, String label, Kind kind, String benchmark, List<String> who) {
        Map<String, String> sources = new LinkedHashMap<>();
        for (String c : who) {
            sources.put(c, benchmark + "#" + c);
        }
        return new Metric(id, label, kind, sources);
    }

    /** Benchmark key ({@code Class.method#contender} or {@code Class.method}) to its number. */
    final Map<String, Cell> cells = new TreeMap<>();
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
            String fqn = (String) b.get("benchmark");
            String simple = fqn.substring(fqn.lastIndexOf('.', fqn.lastIndexOf('.') - 1) + 1);
            Map<String, Object> params = (Map<String, Object>) b.get("params");
            String key = params != null && params.get("contender") != null ? simple + "#" + params.get("contender")
                    : simple;
            Map<String, Object> pm = (Map<String, Object>) b.get("primaryMetric");
            cells.put(key, new Cell(Json.number(pm.get("score")), Json.number(pm.get("scoreError")),
                    (String) pm.get("scoreUnit")));
            if (pm.get("scorePercentiles") instanceof Map) {
                Map<String, Double> p = new LinkedHashMap<>();
                ((Map<String, Object>) pm.get("scorePercentiles")).forEach((q, v) -> p.put(q, Json.number(v)));
                percentiles.put(key, p);
            }
            if (run.isEmpty()) {
                run.put("jdk", b.get("jdkVersion") + " (" + b.get("vmName") + " " + b.get("vmVersion") + ")");
                run.put("jvmArgs", String.join(" ", (List<String>) b.get("jvmArgs")));
                run.put("jmh", String.valueOf(b.get("jmhVersion")));
                run.put("settings", String.format(Locale.ROOT, "%s fork, %s warm-up × %s, %s measurement × %s",
                        intString(b.get("forks")), intString(b.get("warmupIterations")), b.get("warmupTime"),
                        intString(b.get("measurementIterations")), b.get("measurementTime")));
            }
        }
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
            cells.put("footprint#" + f[0], new Cell(Double.parseDouble(f[1]), Double.NaN, "B/offload"));
            run.put("queued", f[2]);
        }
    }

    @Nullable Cell cell(Metric m, String contender) {
        String key = m.sources().get(contender);
        return key == null ? null : cells.get(key);
    }

    /** Cost relative to the JDK floor: above 1 is worse, below 1 better. NaN when not measured. */
    double ratio(Metric m, String contender) {
        Cell c = cell(m, contender);
        Cell base = cell(m, "jdk");
        if (c == null || base == null) {
            return Double.NaN;
        }
        return m.kind() == Kind.RATE ? base.score() / c.score() : c.score() / base.score();
    }

    // ---------------------------------------------------------------------------------------------
    // The table

    String table() {
        StringBuilder sb = new StringBuilder();
        sb.append("| Operation |");
        for (String c : Contenders.ALL) {
            sb.append(' ').append(DISPLAY.get(c)).append(" |");
        }
        sb.append("\n|---|");
        sb.append("---:|".repeat(Contenders.ALL.size()));
        sb.append('\n');
        for (Metric m : METRICS) {
            sb.append("| ").append(m.label()).append(" |");
            for (String c : Contenders.ALL) {
                Cell cell = cell(m, c);
                if (cell == null) {
                    sb.append(" n/a |");
                    continue;
                }
                sb.append(' ').append(format(cell));
                if (cell.hasError()) {
                    sb.append(" ± ").append(formatNumber(cell.error(), cell.unit()));
                }
                sb.append(String.format(Locale.ROOT, " (%.2f×)", ratio(m, c)));
                if (m.id().equals("f") && c.equals("reactor")) {
                    sb.append(" ¹");
                }
                sb.append(" |");
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    static String format(Cell c) {
        return formatNumber(c.score(), c.unit()) + " " + unit(c.unit());
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
        out.add(verdict("a", "no slower than the JDK floor and faster than Vert.x", a,
                cmp(a, "portal", "jdk", 1.0), cmpStrict(a, "portal", "vertx")));
        Metric b = metric("b");
        out.add(verdict("b", "at least Vert.x's throughput", b, cmp(b, "portal", "vertx", 1.0)));
        Metric c1 = metric("c1");
        Metric c64 = metric("c64");
        String best = bestOf(c64, List.of("jdk", "vertx", "reactor"));
        out.add(verdict("c", "1-thread latency no slower than the JDK floor; 64-thread throughput ≥ 1.5× the best "
                + "contender (" + DISPLAY.get(best) + ")", null, cmp(c1, "portal", "jdk", 1.0),
                cmp(c64, "portal", best, 1.5)));
        Metric d = metric("d");
        out.add(verdict("d", "≥ 0.8× Vert.x's throughput", d, cmp(d, "portal", "vertx", 0.8)));
        Metric e1 = metric("e1");
        Metric e2 = metric("e2");
        out.add(verdict("e", "no slower than the JDK floor; interruption sooner than Reactor's", null,
                cmp(e1, "portal", "jdk", 1.0), cmp(e2, "portal", "jdk", 1.0), cmpStrict(e2, "portal", "reactor")));
        Metric f = metric("f");
        out.add(verdict("f", "within 3× the ThreadLocal-plus-volatile floor", f, cmp(f, "portal", "jdk", 3.0)));
        Metric g = metric("g");
        String leanest = bestOf(g, List.of("jdk", "vertx", "reactor"));
        out.add(verdict("g", "no more bytes than the leanest contender (" + DISPLAY.get(leanest) + ")", g,
                cmp(g, "portal", leanest, 1.0)));
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
        Cell p = cell(m, who);
        Cell r = cell(m, ref);
        if (p == null || r == null) {
            return new Comparison(false, m.label() + ": not measured");
        }
        boolean met = m.kind() == Kind.RATE ? p.score() >= factor * r.score() : p.score() <= factor * r.score();
        return new Comparison(met, describe(m, who, ref, p, r, factor, met));
    }

    /** Portal strictly better than the reference. */
    Comparison cmpStrict(Metric m, String who, String ref) {
        Cell p = cell(m, who);
        Cell r = cell(m, ref);
        if (p == null || r == null) {
            return new Comparison(false, m.label() + ": not measured");
        }
        boolean met = better(m.kind(), p.score(), r.score());
        return new Comparison(met, describe(m, who, ref, p, r, 1.0, met));
    }

    private String describe(Metric m, String who, String ref, Cell p, Cell r, double factor, boolean met) {
        double rel = m.kind() == Kind.RATE ? p.score() / r.score() : p.score() / r.score();
        String noise = "";
        if (p.hasError() && r.hasError() && Math.abs(p.score() - factor * r.score())
                <= p.error() + factor * r.error()) {
            noise = ", within the error bars";
        }
        String what = m.label().replaceFirst("^\\([a-g]\\) ", "");
        return String.format(Locale.ROOT, "%s: %s %s vs %s %s (%.2f×%s)%s", what, DISPLAY.get(who), format(p),
                DISPLAY.get(ref), format(r), rel, factor != 1.0 ? String.format(Locale.ROOT, ", needs %s%.1f×",
                        m.kind() == Kind.RATE ? "≥ " : "≤ ", factor) : "", noise);
    }

    private static Verdict verdict(String id, String target, @Nullable Metric unused, Comparison... parts) {
        boolean met = true;
        List<String> texts = new ArrayList<>();
        for (Comparison c : parts) {
            met &= c.met();
            texts.add((c.met() ? "✓ " : "✗ ") + c.text());
        }
        return new Verdict(id, target, met, String.join("; ", texts));
    }

    String targets() {
        StringBuilder sb = new StringBuilder();
        sb.append("| Target | Verdict | Numbers |\n|---|---|---|\n");
        for (Verdict v : verdicts()) {
            sb.append("| (").append(v.id()).append(") ").append(v.target()).append(" | **")
                    .append(v.met() ? "met" : "missed").append("** | ").append(v.evidence()).append(" |\n");
        }
        return sb.toString();
    }

    // ---------------------------------------------------------------------------------------------
    // The chart

    private static final String[] SERIES = {"portal", "vertx", "reactor"};
    private static final Map<String, String> COLOURS = Map.of("portal", "#1f6fb4", "vertx", "#8e5bb8",
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
            lx += 95;
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

    String markdown(@Nullable String machine, @Nullable String command, @Nullable String chartLink, String date) {
        StringBuilder sb = new StringBuilder();
        sb.append("Generated by `bench/run.sh` on ").append(date).append(".\n\n");
        sb.append("- Command: `").append(command != null ? command : "bench/run.sh").append("`\n");
        if (machine != null) {
            sb.append("- Machine: ").append(machine).append('\n');
        }
        sb.append("- JDK: ").append(run.getOrDefault("jdk", "?")).append('\n');
        sb.append("- JVM options (every benchmark): `").append(run.getOrDefault("jvmArgs", "")).append("`\n");
        sb.append("- JMH ").append(run.getOrDefault("jmh", "?")).append(": ").append(run.getOrDefault("settings", "?"))
                .append(" per benchmark and contender\n");
        sb.append("- Versions: ").append(versions()).append('\n');
        if (run.containsKey("queued")) {
            sb.append("- Footprint (g): ").append(run.get("queued"))
                    .append(" queued offloads per contender, `-XX:+UseSerialGC -Xms1g -Xmx1g`\n");
        }
        sb.append("\nEach cell: score ± 99.9% error (cost relative to the JDK floor; below 1× is better than the "
                + "floor).\n\n");
        sb.append(table());
        sb.append("\n¹ Reactor has no cancellation poll of its own; its workers read the interrupt flag, "
                + "`Thread.currentThread().isInterrupted()`, shown here. Vert.x has neither.\n\n");
        if (chartLink != null) {
            sb.append("![Cost relative to the JDK floor](").append(chartLink).append(")\n\n");
        }
        sb.append("### Targets\n\n");
        sb.append(targets());
        String context = contextTable();
        if (!context.isEmpty()) {
            sb.append("\n### What context propagation costs Portal\n\n");
            sb.append("Portal again, with one ThreadLocal registered with Micrometer's context-propagation and set "
                    + "on the calling thread, so every hop captures, applies and restores it: a two-entry map "
                    + "copied on every capture and apply, as SLF4J's MDC is with Logback "
                    + "(`ContextPropagationBenchmark`). The table above runs Portal with nothing registered, as "
                    + "the contenders propagate nothing.\n\n");
            sb.append(context);
        }
        String latency = latencyTable();
        if (!latency.isEmpty()) {
            sb.append("\n### (c) with 64 callers: how long one call takes\n\n");
            sb.append("The calls of (c) with 64 threads, timed one by one (JMH's sample mode, "
                    + "`ExternalCallBenchmark.call64ThreadsLatency`). A throughput can be bought by making some "
                    + "callers wait longer than others; this table shows what each contender's callers see.\n\n");
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

    /** Portal's (a) and (b) without and with a propagated context; empty if not measured. */
    String contextTable() {
        String[][] rows = {
            {"(a) offload round trip", "OffloadBenchmark.roundTrip#portal", "ContextPropagationBenchmark.roundTrip"},
            {"(b) 1000 offloads in flight", "OffloadBenchmark.inFlight1000#portal",
                "ContextPropagationBenchmark.inFlight1000"},
        };
        StringBuilder sb = new StringBuilder();
        for (String[] r : rows) {
            Cell without = cells.get(r[1]);
            Cell with = cells.get(r[2]);
            if (without == null || with == null) {
                continue;
            }
            boolean rate = with.unit().endsWith("/s");
            double cost = rate ? without.score() / with.score() : with.score() / without.score();
            sb.append("| ").append(r[0]).append(" | ").append(format(without)).append(" | ").append(format(with));
            if (with.hasError()) {
                sb.append(" ± ").append(formatNumber(with.error(), with.unit()));
            }
            sb.append(String.format(Locale.ROOT, " | %.2f× |%n", cost));
        }
        if (sb.length() == 0) {
            return "";
        }
        return "| Operation | Portal, no context | Portal, MDC-like context | cost |\n|---|---:|---:|---:|\n" + sb;
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
