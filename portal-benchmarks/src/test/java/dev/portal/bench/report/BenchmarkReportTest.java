package dev.portal.bench.report;

import static java.lang.Double.NaN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BenchmarkReportTest {

    /**
     * One JMH result entry as JMH writes it, from three forks whose means are 0.9×, 1× and 1.2× the
     * score (so the median is the score and the range 0.9× to 1.2×), with the CPU profiler's result
     * made the same way from {@code cpuNs} (none when NaN). {@code params} are extra parameters.
     */
    static String entry(String benchmark, String contender, String mode, double score, String unit, double cpuNs,
            String params) {
        String all = (contender == null ? "" : "\"contender\" : \"" + contender + "\"")
                + (params.isEmpty() ? "" : (contender == null ? "" : ", ") + params);
        String secondary = Double.isNaN(cpuNs) ? "" : "\"cpu.per.op\" : { \"score\" : " + cpuNs
                + ", \"scoreError\" : 1.0, \"scoreUnit\" : \"ns/op\", \"rawData\" : " + forks(cpuNs) + " }";
        return String.format(Locale.ROOT, "{ \"jmhVersion\" : \"1.37\", \"benchmark\" : \"dev.portal.bench.jmh.%s\", "
                + "\"mode\" : \"%s\", \"threads\" : 1, \"forks\" : 3, \"jvm\" : \"/usr/bin/java\", "
                + "\"jvmArgs\" : [ \"-Xms1g\", \"-Xmx1g\", \"-XX:+AlwaysPreTouch\" ], \"jdkVersion\" : \"17.0.15\", "
                + "\"vmName\" : \"OpenJDK\", \"vmVersion\" : \"17.0.15+6\", \"warmupIterations\" : 2, "
                + "\"warmupTime\" : \"1 s\", \"measurementIterations\" : 3, \"measurementTime\" : \"1 s\"%s, "
                + "\"primaryMetric\" : { \"score\" : %s, \"scoreError\" : 123.0, \"scoreUnit\" : \"%s\", "
                + "\"rawData\" : %s }, \"secondaryMetrics\" : { %s } }",
                benchmark, mode, all.isEmpty() ? "" : ", \"params\" : { " + all + " }", Double.toString(score), unit,
                forks(score), secondary);
    }

    static String entry(String benchmark, String contender, String mode, double score, String unit, double cpuNs) {
        return entry(benchmark, contender, mode, score, unit, cpuNs, "");
    }

    /** Three forks of two or three iterations whose means are 0.9, 1 and 1.2 times {@code v}. */
    private static String forks(double v) {
        return String.format(Locale.ROOT, "[ [ %s, %s ], [ %s, %s, %s ], [ %s, %s ] ]", 0.8 * v, 1.0 * v, v, v, v,
                1.2 * v, 1.2 * v);
    }

    static final String[] OTHERS = {"jdk", "portal-nomdc", "vertx", "reactor"};

    /**
     * A complete result file. Rows: benchmark, mode, unit, then the scores of the JDK floor, Portal
     * without context, Vert.x and Reactor; Portal's score is {@code portal}'s, its CPU {@code portalCpu}'s.
     * Every other contender spends 20 µs of CPU per operation.
     */
    static String results(Map<String, Double> portal, Map<String, Double> portalCpu) {
        List<String> e = new ArrayList<>();
        String[][] rows = {
            {"OffloadBenchmark.roundTrip", "avgt", "us/op", "20", "9", "40", "30"},
            {"PacedBenchmark.roundTripPaced@200", "avgt", "us/op", "30", "25", "31", "40"},
            {"PacedBenchmark.roundTripPaced@1000", "avgt", "us/op", "30", "25", "31", "40"},
            {"OffloadBenchmark.inFlight1000", "thrpt", "ops/s", "2000000", "1200000", "1000000", "100000"},
            {"ExternalCallBenchmark.call1Thread", "avgt", "us/op", "7", "5", "8", "6"},
            {"PacedBenchmark.callPaced@200", "avgt", "us/op", "28", "20", "30", "29"},
            {"PacedBenchmark.callPaced@1000", "avgt", "us/op", "28", "20", "30", "29"},
            {"ExternalCallBenchmark.call8Threads", "thrpt", "ops/s", "150000", "110000", "40000", "120000"},
            {"ExternalCallBenchmark.call64Threads", "thrpt", "ops/s", "200000", "450000", "150000", "160000"},
            {"StartTaskSoonBenchmark.startTaskSoon20k", "thrpt", "ops/s", "20000000", "1400000", "1500000", "1000000"},
            {"StartTaskSoonBenchmark.startTaskSoon20kAllOf", "thrpt", "ops/s", "20000000", "1400000", "1500000",
                "1000000"},
            {"CancelObservedBenchmark.cancelObserved", "avgt", "us/op", "20", "11", "20", "70"},
        };
        for (String[] r : rows) {
            String[] name = r[0].split("@");
            String params = name.length > 1 ? "\"periodMicros\" : \"" + name[1] + "\"" : "";
            for (int i = 0; i < OTHERS.length; i++) {
                e.add(entry(name[0], OTHERS[i], r[1], Double.parseDouble(r[3 + i]), r[2], 20_000, params));
            }
            e.add(entry(name[0], "portal", r[1], portal.get(r[0]), r[2], portalCpu.getOrDefault(r[0], 20_000.0),
                    params));
        }
        e.add(entry("WorkerInterruptedBenchmark.workerInterrupted", "jdk", "avgt", 60, "us/op", 50_000));
        e.add(entry("WorkerInterruptedBenchmark.workerInterrupted", "reactor", "avgt", 25, "us/op", 50_000));
        e.add(entry("WorkerInterruptedBenchmark.workerInterrupted", "portal-nomdc", "avgt", 22, "us/op", 50_000));
        e.add(entry("WorkerInterruptedBenchmark.workerInterrupted", "portal", "avgt",
                portal.get("WorkerInterruptedBenchmark.workerInterrupted"), "us/op", 50_000));
        e.add(entry("CheckCancelledBenchmark.threadLocalPlusVolatile", null, "avgt", 1.5, "ns/op", 1.6));
        e.add(entry("CheckCancelledBenchmark.isInterrupted", null, "avgt", 0.5, "ns/op", 0.6));
        e.add(entry("CheckCancelledBenchmark.checkCancelled", null, "avgt",
                portal.get("CheckCancelledBenchmark.checkCancelled"), "ns/op", 1.0));
        return "[\n" + String.join(",\n", e) + "\n]\n";
    }

    static String results(Map<String, Double> portal) {
        return results(portal, Map.of());
    }

    /** The complete result file of {@link #results} with {@code extra} entries appended. */
    private static String resultsWith(String... extra) {
        String json = results(portalScores(10, 1_000_000, 2));
        return json.substring(0, json.lastIndexOf(']')) + ",\n" + String.join(",\n", extra) + "\n]\n";
    }

    /** A report of {@link #resultsWith} and the footprint probe's lines. */
    private static BenchmarkReport reportWith(String... extra) {
        BenchmarkReport r = new BenchmarkReport();
        r.readJmh(resultsWith(extra));
        r.readFootprint(FOOTPRINT);
        return r;
    }

    static final String FOOTPRINT = "jdk\t144.0\t100000\nportal\t212.0\t100000\nportal-nomdc\t112.0\t100000\n"
            + "vertx\t120.0\t100000\nreactor\t252.5\t100000\n";

    private static BenchmarkReport report(Map<String, Double> portal) {
        return report(portal, Map.of());
    }

    private static BenchmarkReport report(Map<String, Double> portal, Map<String, Double> portalCpu) {
        BenchmarkReport r = new BenchmarkReport();
        r.readJmh(results(portal, portalCpu));
        r.readFootprint(FOOTPRINT);
        return r;
    }

    private static Map<String, Double> portalScores(double roundTrip, double inFlight, double checkCancelled) {
        return Map.ofEntries(Map.entry("OffloadBenchmark.roundTrip", roundTrip),
                Map.entry("PacedBenchmark.roundTripPaced@200", 28.0),
                Map.entry("PacedBenchmark.roundTripPaced@1000", 28.0),
                Map.entry("OffloadBenchmark.inFlight1000", inFlight),
                Map.entry("ExternalCallBenchmark.call1Thread", 6.0),
                Map.entry("PacedBenchmark.callPaced@200", 27.0),
                Map.entry("PacedBenchmark.callPaced@1000", 27.0),
                Map.entry("ExternalCallBenchmark.call8Threads", 100000.0),
                Map.entry("ExternalCallBenchmark.call64Threads", 400000.0),
                Map.entry("StartTaskSoonBenchmark.startTaskSoon20k", 1300000.0),
                Map.entry("StartTaskSoonBenchmark.startTaskSoon20kAllOf", 1100000.0),
                Map.entry("CancelObservedBenchmark.cancelObserved", 12.0),
                Map.entry("WorkerInterruptedBenchmark.workerInterrupted", 20.0),
                Map.entry("CheckCancelledBenchmark.checkCancelled", checkCancelled));
    }

    @Test
    void tableShowsTheMedianOfTheRunsTheirRangeAndTheCostRelativeToTheJdkFloor() {
        String table = report(portalScores(10, 1_000_000, 2)).table();
        assertThat(table).contains("| Operation | JDK floor | Portal | Portal, no context | Vert.x | Reactor |");
        // Forks of 20 µs × (0.9, 1, 1.2): median 20, range 18 to 24. 10 µs against 20 µs is half the cost.
        assertThat(table).contains("| (a) offload round trip, loop → worker → loop, back to back | 20.0 µs (18.0–24.0) "
                + "1.00× | 10.0 µs (9.00–12.0) 0.50× | 9.00 µs (8.10–10.8) 0.45× | 40.0 µs (36.0–48.0) 2.00× |");
        // Throughput: 1 M/s against the floor's 2 M/s is twice the cost.
        assertThat(table).contains("| 2.00 M ops/s (1.80 M–2.40 M) 1.00× | 1.00 M ops/s (900.0 k–1.20 M) 2.00× |");
        assertThat(table).contains("| (a) paced: one round trip from an external thread every 200 µs (latency) | "
                + "30.0 µs (27.0–36.0) 1.00× | 28.0 µs");
        assertThat(table).contains("| (d) 20 000 startTaskSoon, then allOf(...).join() |");
        assertThat(table).contains("| (e) cancel on the loop → worker sees its interrupt | 60.0 µs (54.0–72.0) 1.00× | "
                + "20.0 µs (18.0–24.0) 0.33× | 22.0 µs (19.8–26.4) 0.37× | n/a | 25.0 µs (22.5–30.0) 0.42× |");
        // The heap probe runs once: no range.
        assertThat(table).contains("| 144 B 1.00× | 212 B 1.47× | 112 B 0.78× | 120 B 0.83× | 253 B 1.75× |");
    }

    @Test
    void cpuTableShowsTheCpuPerOperationOfEveryContender() {
        BenchmarkReport r = report(portalScores(10, 1_000_000, 2),
                Map.of("PacedBenchmark.callPaced@200", 55_000.0));
        String cpu = r.cpuTable();
        // 55 µs of CPU per paced call against the floor's 20 µs: 2.75×.
        assertThat(cpu).contains("| (c) paced: one external call every 200 µs (latency) | 20.0 µs (18.0–24.0) 1.00× | "
                + "55.0 µs (49.5–66.0) 2.75× |");
        // Below 1 µs the CPU stays in ns; the heap row has no CPU.
        assertThat(cpu).contains("| (f) cancellation poll on a worker | 1.60 ns (1.44–1.92) 1.00× | 1.00 ns");
        assertThat(cpu).doesNotContain("(g) heap");
        assertThat(r.markdown(null, null, null, "today")).contains("### CPU per operation");
    }

    @Test
    void cancellationTimesComeFromTheClocksTheUsersCodeReads() {
        // JMH's score (the benchmark thread's, 500 µs) is ignored: per run, the loop's nanoseconds over its trials.
        String observed = entry("CancelObservedBenchmark.cancelObserved", "portal", "avgt", 500, "us/op", 100_000)
                .replace("\"secondaryMetrics\" : { ", "\"secondaryMetrics\" : { "
                        + "\"loopNanos\" : { \"score\" : 1, \"scoreUnit\" : \"#\", \"rawData\" : "
                        + "[ [ 10000, 30000 ], [ 50000 ], [ 90000 ] ] }, "
                        + "\"trials\" : { \"score\" : 1, \"scoreUnit\" : \"#\", \"rawData\" : "
                        + "[ [ 1, 1 ], [ 2 ], [ 3 ] ] }, ");
        BenchmarkReport r = reportWith(observed);
        // Runs: 40 000 ns / 2, 50 000 / 2, 90 000 / 3 = 20, 25, 30 µs.
        assertThat(r.cells.get("CancelObservedBenchmark.cancelObserved#portal"))
                .isEqualTo(new BenchmarkReport.Cell(25.0, 20.0, 30.0, 3, "us/op"));
        assertThat(r.cpu.get("CancelObservedBenchmark.cancelObserved#portal").score()).isEqualTo(100_000.0);
    }

    @Test
    void targetsAreJudgedFromTheMediansWithTheMdcOnPortal() {
        List<BenchmarkReport.Verdict> met = report(portalScores(10, 1_500_000, 2)).verdicts();
        assertThat(met).extracting(BenchmarkReport.Verdict::id)
                .containsExactly("a", "b", "c", "d", "e", "f", "g", "cpu", "tail");
        assertThat(met).filteredOn(BenchmarkReport.Verdict::met).extracting(BenchmarkReport.Verdict::id)
                .containsExactly("a", "b", "c", "e", "f", "cpu");
        assertThat(met.get(6).evidence()).contains("Portal 212 B vs Vert.x 120 B (1.77×)");
        assertThat(met.get(3).evidence()).contains("then allOf(...).join(): Portal 1.10 M ops/s vs Vert.x 1.50 M ops/s "
                + "(0.73×, needs ≥ 0.8×")
                .as("the allOf idiom misses on its own").startsWith("✓").contains("✗");
        assertThat(met.get(8).evidence()).isEqualTo("✗ p99.9: not measured; ✗ max: not measured");

        List<BenchmarkReport.Verdict> missed = report(portalScores(25, 900_000, 4.6),
                Map.of("PacedBenchmark.roundTripPaced@1000", 41_000.0)).verdicts();
        assertThat(missed).filteredOn(v -> !v.met()).extracting(BenchmarkReport.Verdict::id)
                .containsExactly("a", "b", "d", "f", "g", "cpu", "tail");
        assertThat(missed.get(0).evidence()).startsWith("✗ offload round trip")
                .contains("Portal 25.0 µs vs JDK floor 20.0 µs (1.25×, the runs' ranges overlap)");
        assertThat(missed.get(5).evidence()).contains("needs ≤ 3.0×");
        assertThat(missed.get(7).evidence()).contains("✗ CPU per call, paced: one round trip from an external thread "
                + "every 1 ms (latency): Portal 41.0 µs vs JDK floor 20.0 µs (2.05×)");
        assertThat(report(portalScores(10, 1_500_000, 2)).targets())
                .contains("| CPU per call no higher than the JDK floor's at every rate")
                .contains("| Tail of (c) with 64 callers: p99.9 and max")
                .contains("| (d) ≥ 0.8× Vert.x's throughput, whichever way the caller waits | **missed** |");
    }

    @Test
    void chartIsWellFormedSvgWithABarPerContenderAndMetric() throws Exception {
        BenchmarkReport r = report(portalScores(10, 1_000_000, 2));
        String svg = r.svg("title & more");
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
        assertThat(doc.getDocumentElement().getTagName()).isEqualTo("svg");
        int bars = 0;
        int missing = 0;
        for (BenchmarkReport.Metric m : BenchmarkReport.METRICS) {
            for (String c : List.of("portal", "portal-nomdc", "vertx", "reactor")) {
                if (Double.isNaN(r.ratio(m, c))) {
                    missing++;
                } else {
                    bars++;
                }
            }
        }
        // 15 metrics × 4 series; (e) interrupt has no Vert.x, (f) only Portal and Reactor.
        assertThat(missing).isEqualTo(3);
        // A bar per measured cell, 4 legend swatches and the background.
        assertThat(doc.getElementsByTagName("rect").getLength()).isEqualTo(bars + 4 + 1);
        assertThat(svg).contains("Vert.x n/a").contains("title &amp; more").contains("0.50×");
    }

    @Test
    void contextTableComparesPortalWithAndWithoutTheMdc() {
        BenchmarkReport r = report(portalScores(10, 1_000_000, 2),
                Map.of("OffloadBenchmark.roundTrip", 25_000.0));
        // Time: 10 µs with the MDC against 9 µs without costs 1.11×; CPU 25 µs against 20 µs 1.25×.
        assertThat(r.contextTable())
                .startsWith("| Operation | no context | MDC | cost | CPU, no context | CPU, MDC | CPU cost |")
                .contains("| (a) offload round trip, loop → worker → loop, back to back | 9.00 µs | 10.0 µs | 1.11× | "
                        + "20.0 µs | 25.0 µs | 1.25× |")
                // Rate: 1 M/s with against 1.2 M/s without costs 1.2×.
                .contains("| (b) 1000 offloads in flight, 40 workers | 1.20 M ops/s | 1.00 M ops/s | 1.20× |")
                .contains("| (g) heap per offload queued for a worker | 112 B | 212 B | 1.89× | n/a | n/a | n/a |");
        assertThat(r.markdown(null, null, null, "today")).contains("### What the MDC costs Portal");
        BenchmarkReport none = new BenchmarkReport();
        assertThat(none.contextTable()).as("not measured: no table").isEmpty();
    }

    @Test
    void latencyTableShowsEachContendersPercentilesAndJudgesTheTail() {
        BenchmarkReport r = report(portalScores(10, 1_000_000, 2));
        assertThat(r.latencyTable()).as("not measured: no table").isEmpty();
        assertThat(r.markdown(null, null, null, "today")).doesNotContain("how long one call takes");

        String portal = sampled("portal", 40.5, "\"0.0\" : 0.2, \"50.0\" : 0.35, \"90.0\" : 3.1, \"99.0\" : 1200.0, "
                + "\"99.9\" : 1800.0, \"99.99\" : 21000.0, \"100.0\" : 52000.0");
        String jdk = sampled("jdk", 300, "\"50.0\" : 280.0, \"99.0\" : 700.0, \"99.9\" : 2000.0, \"100.0\" : 30000.0");
        String vertx = sampled("vertx", 290, "\"99.9\" : 1900.0, \"100.0\" : 17000.0");
        BenchmarkReport withLatency = reportWith(portal, jdk, vertx);

        assertThat(withLatency.latencyTable())
                .startsWith("| Contender | mean | p50 | p90 | p99 | p99.9 | p99.99 | max |\n")
                .contains("| Portal | 40.5 µs (36.5–48.6) | 0.35 µs | 3.10 µs | 1200 µs | 1800 µs | 21000 µs | 52000 µs |")
                .as("a percentile JMH did not write is shown as missing, not as zero")
                .contains("| JDK floor | 300 µs (270–360) | 280 µs | n/a | 700 µs | 2000 µs | n/a | 30000 µs |")
                .doesNotContain("Reactor");
        BenchmarkReport.Verdict tail = withLatency.tailVerdict();
        assertThat(tail.met()).isFalse();
        assertThat(tail.evidence()).isEqualTo("✓ p99.9: Portal 1800 µs vs Vert.x 1900 µs (0.95×); "
                + "✗ max: Portal 52000 µs vs Vert.x 17000 µs (3.06×)");
        assertThat(withLatency.markdown(null, null, null, "today"))
                .contains("### (c) with 64 callers: how long one call takes")
                .contains("Target: p99.9 and max no worse than the best contender's.");
    }

    @Test
    void jitSectionListsTheCellsMeasuredWhileTheJitCompiled() {
        BenchmarkReport without = report(portalScores(10, 1_000_000, 2));
        assertThat(without.jitSection()).as("no compiler profile in the run: no section").isEmpty();
        assertThat(without.markdown(null, null, null, "today")).doesNotContain("The JIT in the measured seconds")
                .doesNotContain("-prof comp");

        // Portal's second run compiled for 1.8 s in its second measured second; Reactor's never above 3 ms.
        BenchmarkReport compiling = reportWith(portal64WithJit("[ [ 40.0, 12.0, 3.0 ], [ 348.0, 1791.0, 887.0 ] ]"),
                withJit(entry("ExternalCallBenchmark.call64Threads", "reactor", "thrpt", 160000, "ops/s", 20_000),
                        "[ [ 3.0, 0.0, 1.0 ], [ 2.0, 0.0, 0.0 ] ]"),
                withJit(entry("OffloadBenchmark.roundTrip", "vertx", "avgt", 40, "us/op", 20_000), "[ [ 90.0 ] ]"),
                withJit(entry("CheckCancelledBenchmark.threadLocalPlusVolatile", null, "avgt", 1.5, "ns/op", 1.6),
                        "[ [ 70.0 ] ]"));
        assertThat(compiling.jitMs).containsEntry("ExternalCallBenchmark.call64Threads#portal", 1791.0)
                .containsEntry("ExternalCallBenchmark.call64Threads#reactor", 3.0);
        assertThat(compiling.jitSection())
                .contains("| Operation | Contender | most compilation in one measured iteration |")
                .contains("| (c) external calls, 64 threads | Portal | 1791 ms |")
                .as("a contender under the limit is not listed").doesNotContain("Reactor")
                .as("in the tables' order, (a) before (c)")
                .containsSubsequence("| (a) offload round trip, loop → worker → loop, back to back | Vert.x | 90 ms |",
                        "| (c) external calls, 64 threads | Portal | 1791 ms |")
                .as("(f) measures each contender with a method of its own, named by the row")
                .contains("| (f) cancellation poll on a worker | JDK floor | 70 ms |");
        assertThat(compiling.markdown(null, null, null, "today")).contains("### The JIT in the measured seconds")
                .contains("with `-prof dev.portal.bench.jmh.CpuPerOpProfiler` and `-prof comp`");

        BenchmarkReport quiet = reportWith(portal64WithJit("[ [ 40.0, 12.0, 3.0 ], [ 8.0, 50.0, 7.0 ] ]"),
                withJit(entry("StartTaskSoonBenchmark.startTaskSoon20kAllOf", "vertx", "thrpt", 1.5e6, "ops/s", 200),
                        "[ [ 2.0, 1.0, 0.0 ] ]"));
        assertThat(quiet.jitSection()).as("50 ms is at the limit, not above it").doesNotContain("| Operation |")
                .contains("None: the most in one measured iteration was 50 ms "
                        + "((c) external calls, 64 threads, Portal).");
    }

    private static String portal64WithJit(String rawData) {
        return withJit(entry("ExternalCallBenchmark.call64Threads", "portal", "thrpt", 400000, "ops/s", 20_000), rawData);
    }

    /** {@code entry} with JMH's compiler profile, whose per-iteration milliseconds are {@code rawData}. */
    private static String withJit(String entry, String rawData) {
        return entry.replace("\"secondaryMetrics\" : { ", "\"secondaryMetrics\" : { \"compiler.time.profiled\" : { "
                + "\"score\" : 1.0, \"scoreError\" : \"NaN\", \"scoreUnit\" : \"ms\", \"rawData\" : " + rawData + " }, ");
    }

    private static String sampled(String contender, double mean, String percentiles) {
        return entry("ExternalCallBenchmark.call64ThreadsLatency", contender, "sample", mean, "us/op", 30_000)
                .replace("\"rawData\"", "\"scorePercentiles\" : { " + percentiles + " }, \"rawData\"");
    }

    @Test
    void compactResultsDropTheSampledHistogramsAndKeepEverythingTheReportReads(@TempDir Path dir) throws Exception {
        // As JMH writes a sample-mode result: a histogram per fork and iteration, no rawData.
        String sampled = entry("ExternalCallBenchmark.call64ThreadsLatency", "portal", "sample", 40.5, "us/op", NaN)
                .replaceAll("\"rawData\" : \\[[^}]*\\] \\}", "\"scorePercentiles\" : { \"50.0\" : 0.35, "
                        + "\"99.9\" : 9000.0 }, \"rawDataHistogram\" : [ [ [ [ 0.5, 3 ], [ 1.5, 1 ] ], [ [ 2.0, 1 ] ] ], "
                        + "[ [ [ 4.0, 2 ] ] ], [ [ [ 3.0, 1 ] ] ] ] }")
                .replace("\"secondaryMetrics\" : {  }", "\"secondaryMetrics\" : { \"gc\" : { \"score\" : 1.0, "
                        + "\"rawDataHistogram\" : [ [ [ [ 1.0, 1 ] ] ] ] } }");
        String full = resultsWith(sampled);
        Path raw = Files.writeString(dir.resolve("raw.json"), full);
        Path compact = dir.resolve("jmh.json");
        BenchmarkReport.main(new String[] {"--jmh", raw.toString(), "--compact-jmh", compact.toString(), "--date",
            "2025-01-01"});

        String written = Files.readString(compact);
        assertThat(full).contains("rawDataHistogram");
        assertThat(written).doesNotContain("rawDataHistogram").contains("scorePercentiles").contains("\"gc\"");
        // Fork means from the histograms: fork 1's iterations 0.75 and 2.0 (mean 1.375), then 4.0 and 3.0.
        assertThat(fromFullCell(full)).isEqualTo(new BenchmarkReport.Cell(3.0, 1.375, 4.0, 3, "us/op"));
        BenchmarkReport fromFull = new BenchmarkReport();
        fromFull.readJmh(full);
        BenchmarkReport fromCompact = new BenchmarkReport();
        fromCompact.readJmh(written);
        assertThat(fromCompact.cells).isEqualTo(fromFull.cells);
        assertThat(fromCompact.percentiles).isEqualTo(fromFull.percentiles);
        assertThat(fromCompact.latencyTable()).contains("| Portal | 3.00 µs (1.38–4.00) | 0.35 µs |");
    }

    private static BenchmarkReport.Cell fromFullCell(String json) {
        BenchmarkReport r = new BenchmarkReport();
        r.readJmh(json);
        return r.cells.get("ExternalCallBenchmark.call64ThreadsLatency#portal");
    }

    @Test
    void publishReplacesOnlyTheGeneratedSection() {
        String doc = "# Perf\n\nintro\n\n" + BenchmarkReport.BEGIN + "\nold\n" + BenchmarkReport.END + "\n\nafter\n";
        assertThat(BenchmarkReport.publish(doc, "new\n"))
                .isEqualTo("# Perf\n\nintro\n\n" + BenchmarkReport.BEGIN + "\nnew\n" + BenchmarkReport.END + "\n\nafter\n");
        assertThatThrownBy(() -> BenchmarkReport.publish("no markers", "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("results:begin");
    }

    @Test
    void mainWritesTheSectionTheChartAndPublishes(@TempDir Path dir) throws Exception {
        Path jmh = Files.writeString(dir.resolve("jmh.json"), results(portalScores(10, 1_000_000, 2)));
        Path fp = Files.writeString(dir.resolve("footprint.tsv"), FOOTPRINT);
        Path doc = Files.writeString(dir.resolve("performance.md"),
                "# P\n" + BenchmarkReport.BEGIN + "\n" + BenchmarkReport.END + "\n");
        BenchmarkReport.main(new String[] {"--jmh", jmh.toString(), "--footprint", fp.toString(), "--svg",
            dir.resolve("c.svg").toString(), "--markdown", dir.resolve("r.md").toString(), "--publish",
            doc.toString(), "--chart-link", "c.svg", "--machine", "2 cores", "--date", "2025-01-01"});
        String section = Files.readString(dir.resolve("r.md"));
        assertThat(section).contains("Generated by `bench/run.sh` on 2025-01-01.", "- Machine: 2 cores",
                "- JDK: 17.0.15 (OpenJDK 17.0.15+6)", "`-Xms1g -Xmx1g -XX:+AlwaysPreTouch` (`-XX:+AlwaysPreTouch` touches",
                "3 forks, 2 warm-up × 1 s, 3 measurement × 1 s", "CpuPerOpProfiler", "the median of the 3 runs",
                "### Time or throughput", "### CPU per operation", "![Cost relative to the JDK floor](c.svg)",
                "### Targets", "100000 queued offloads");
        assertThat(Files.readString(doc)).contains(section);
        assertThat(Files.readString(dir.resolve("c.svg"))).startsWith("<svg");
    }

    @Test
    void jvmOptionsNoteExplainsTheOptionsItKnows() {
        assertThat(BenchmarkReport.jvmOptionsNote("-Xms1g -Xmx1g")).isEmpty();
        assertThat(BenchmarkReport.jvmOptionsNote("-Xmx1g -XX:+AlwaysPreTouch"))
                .startsWith(" (`-XX:+AlwaysPreTouch` touches the whole heap").endsWith("collection)")
                .doesNotContain("_jmhStub");
        String both = BenchmarkReport.jvmOptionsNote("-XX:+AlwaysPreTouch -XX:CompileCommand=quiet "
                + "-XX:CompileCommand=CompileThresholdScaling,*::*_jmhStub,0.01");
        assertThat(both).contains("eden's first collection; the `CompileThresholdScaling` command applies to JMH's "
                + "generated measurement loops alone (`*_jmhStub`)", "default thresholds)");
        // A scaling for every method is not the harness-only one: it is not explained away.
        assertThat(BenchmarkReport.jvmOptionsNote("-XX:CompileThresholdScaling=0.1")).isEmpty();
        assertThat(BenchmarkReport.jvmOptionsNote("-XX:CompileThresholdScaling=0.1 "
                + "-XX:CompileCommand=CompileThresholdScaling,*::*_jmhStub,0.01"))
                .as("with a global scaling beside it, the contenders do not keep the defaults").isEmpty();
    }

    @Test
    void jsonReaderHandlesJmhsShapes() {
        Object v = Json.parse("{\"a\" : [1, 2.5e3, \"NaN\", true, false, null, \"q\\\"\\u00e9\"], \"b\" : {}}");
        assertThat(v).isInstanceOf(Map.class);
        @SuppressWarnings("unchecked")
        List<Object> a = (List<Object>) ((Map<?, ?>) v).get("a");
        assertThat(a).hasSize(7);
        assertThat(Json.number(a.get(0))).isEqualTo(1.0);
        assertThat(Json.number(a.get(1))).isEqualTo(2500.0);
        assertThat(Json.number(a.get(2))).isNaN();
        assertThat(a.subList(3, 7)).containsExactly(true, false, null, "q\"é");
        assertThat(((Map<?, ?>) v).get("b")).isEqualTo(Map.of());
        assertThat(Json.number("NaN")).isNaN();
        assertThatThrownBy(() -> Json.parse("[1,]")).isInstanceOf(IllegalArgumentException.class);
    }
}
