package dev.portal.bench.report;

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

    /** One JMH result entry as JMH writes it. */
    private static String entry(String benchmark, String contender, String mode, double score, String error,
            String unit) {
        String params = contender == null ? "" : ", \"params\" : { \"contender\" : \"" + contender + "\" }";
        return String.format(Locale.ROOT, "{ \"jmhVersion\" : \"1.37\", \"benchmark\" : \"dev.portal.bench.jmh.%s\", "
                + "\"mode\" : \"%s\", \"threads\" : 1, \"forks\" : 1, \"jvm\" : \"/usr/bin/java\", "
                + "\"jvmArgs\" : [ \"-Xms1g\", \"-Xmx1g\" ], \"jdkVersion\" : \"17.0.15\", \"vmName\" : \"OpenJDK\", "
                + "\"vmVersion\" : \"17.0.15+6\", \"warmupIterations\" : 3, \"warmupTime\" : \"2 s\", "
                + "\"measurementIterations\" : 5, \"measurementTime\" : \"2 s\"%s, "
                + "\"primaryMetric\" : { \"score\" : %s, \"scoreError\" : %s, \"scoreUnit\" : \"%s\", "
                + "\"rawData\" : [ [ 1.0 ] ] }, \"secondaryMetrics\" : { } }",
                benchmark, mode, params, Double.toString(score), error, unit);
    }

    /** A complete result file in which Portal is given the scores in {@code portal}. */
    static String results(Map<String, Double> portal) {
        List<String> e = new ArrayList<>();
        String[][] rows = {
            {"OffloadBenchmark.roundTrip", "avgt", "us/op", "20", "40", "30"},
            {"OffloadBenchmark.inFlight1000", "thrpt", "ops/s", "2000000", "1000000", "100000"},
            {"ExternalCallBenchmark.call1Thread", "avgt", "us/op", "7", "8", "6"},
            {"ExternalCallBenchmark.call8Threads", "thrpt", "ops/s", "150000", "40000", "120000"},
            {"ExternalCallBenchmark.call64Threads", "thrpt", "ops/s", "200000", "150000", "160000"},
            {"StartTaskSoonBenchmark.startTaskSoon20k", "thrpt", "ops/s", "20000000", "1500000", "1000000"},
            {"CancelObservedBenchmark.cancelObserved", "avgt", "us/op", "20", "20", "70"},
        };
        String[] others = {"jdk", "vertx", "reactor"};
        for (String[] r : rows) {
            for (int i = 0; i < 3; i++) {
                e.add(entry(r[0], others[i], r[1], Double.parseDouble(r[3 + i]), "\"NaN\"", r[2]));
            }
            e.add(entry(r[0], "portal", r[1], portal.get(r[0]), "0.5", r[2]));
        }
        e.add(entry("WorkerInterruptedBenchmark.workerInterrupted", "jdk", "avgt", 60, "1.0", "us/op"));
        e.add(entry("WorkerInterruptedBenchmark.workerInterrupted", "reactor", "avgt", 25, "1.0", "us/op"));
        e.add(entry("WorkerInterruptedBenchmark.workerInterrupted", "portal", "avgt",
                portal.get("WorkerInterruptedBenchmark.workerInterrupted"), "1.0", "us/op"));
        e.add(entry("CheckCancelledBenchmark.threadLocalPlusVolatile", null, "avgt", 1.5, "0.1", "ns/op"));
        e.add(entry("CheckCancelledBenchmark.isInterrupted", null, "avgt", 0.5, "0.1", "ns/op"));
        e.add(entry("CheckCancelledBenchmark.checkCancelled", null, "avgt",
                portal.get("CheckCancelledBenchmark.checkCancelled"), "0.1", "ns/op"));
        return "[\n" + String.join(",\n", e) + "\n]\n";
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

    static final String FOOTPRINT = "jdk\t144.0\t100000\nportal\t212.0\t100000\nvertx\t120.0\t100000\n"
            + "reactor\t252.5\t100000\n";

    private static BenchmarkReport report(Map<String, Double> portal) {
        BenchmarkReport r = new BenchmarkReport();
        r.readJmh(results(portal));
        r.readFootprint(FOOTPRINT);
        return r;
    }

    private static Map<String, Double> portalScores(double roundTrip, double inFlight, double checkCancelled) {
        return Map.ofEntries(Map.entry("OffloadBenchmark.roundTrip", roundTrip),
                Map.entry("OffloadBenchmark.inFlight1000", inFlight),
                Map.entry("ExternalCallBenchmark.call1Thread", 6.0),
                Map.entry("ExternalCallBenchmark.call8Threads", 100000.0),
                Map.entry("ExternalCallBenchmark.call64Threads", 400000.0),
                Map.entry("StartTaskSoonBenchmark.startTaskSoon20k", 1300000.0),
                Map.entry("CancelObservedBenchmark.cancelObserved", 12.0),
                Map.entry("WorkerInterruptedBenchmark.workerInterrupted", 20.0),
                Map.entry("CheckCancelledBenchmark.checkCancelled", checkCancelled));
    }

    @Test
    void tableShowsEveryContenderWithItsCostRelativeToTheJdkFloor() {
        String table = report(portalScores(10, 1_000_000, 2)).table();
        assertThat(table).contains("| Operation | JDK floor | Portal | Vert.x | Reactor |");
        // Time: 10 µs against the floor's 20 µs is half the cost.
        assertThat(table).contains("| (a) offload round trip, loop → worker → loop, one at a time | 20.0 µs (1.00×) "
                + "| 10.0 µs ± 0.50 (0.50×) | 40.0 µs (2.00×) | 30.0 µs (1.50×) |");
        // Throughput: 1 M/s against the floor's 2 M/s is twice the cost.
        assertThat(table).contains("| 2.00 M ops/s (1.00×) | 1.00 M ops/s ± 1 (2.00×) |");
        assertThat(table).contains("| (e) cancel → worker interrupted | 60.0 µs ± 1.00 (1.00×) | "
                + "20.0 µs ± 1.00 (0.33×) | n/a |");
        assertThat(table).contains("| 144 B (1.00×) | 212 B (1.47×) | 120 B (0.83×) | 253 B (1.75×) |");
    }

    @Test
    void targetsAreJudgedFromTheNumbers() {
        List<BenchmarkReport.Verdict> met = report(portalScores(10, 1_500_000, 2)).verdicts();
        assertThat(met).extracting(BenchmarkReport.Verdict::id).containsExactly("a", "b", "c", "d", "e", "f", "g");
        assertThat(met).filteredOn(BenchmarkReport.Verdict::met).extracting(BenchmarkReport.Verdict::id)
                .containsExactly("a", "b", "c", "d", "e", "f");
        assertThat(met.get(6).evidence()).contains("Portal 212 B vs Vert.x 120 B (1.77×)");

        List<BenchmarkReport.Verdict> missed = report(portalScores(25, 900_000, 4.6)).verdicts();
        assertThat(missed).filteredOn(v -> !v.met()).extracting(BenchmarkReport.Verdict::id)
                .containsExactly("a", "b", "f", "g");
        assertThat(missed.get(0).evidence()).startsWith("✗ offload round trip")
                .contains("Portal 25.0 µs vs JDK floor 20.0 µs (1.25×)");
        assertThat(missed.get(5).evidence()).contains("needs ≤ 3.0×");
    }

    @Test
    void chartIsWellFormedSvgWithABarPerContenderAndMetric() throws Exception {
        String svg = report(portalScores(10, 1_000_000, 2)).svg("title & more");
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
                .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
        assertThat(doc.getDocumentElement().getTagName()).isEqualTo("svg");
        // 10 metrics × 3 series, minus Vert.x's two n/a cells, plus 3 legend swatches and the background.
        assertThat(doc.getElementsByTagName("rect").getLength()).isEqualTo(10 * 3 - 2 + 3 + 1);
        assertThat(svg).contains("Vert.x n/a").contains("title &amp; more").contains("0.50×");
    }

    @Test
    void contextTableComparesPortalWithAndWithoutAPropagatedContext() {
        BenchmarkReport r = report(portalScores(10, 1_000_000, 2));
        assertThat(r.contextTable()).as("not measured: no table").isEmpty();
        assertThat(r.markdown(null, null, null, "today")).doesNotContain("context propagation costs");

        BenchmarkReport withContext = reportWith(
                entry("ContextPropagationBenchmark.roundTrip", null, "avgt", 12.5, "0.5", "us/op"),
                entry("ContextPropagationBenchmark.inFlight1000", null, "thrpt", 800000, "1000", "ops/s"));
        // Time: 12.5 µs against 10 µs costs 1.25×; rate: 0.8 M/s against 1 M/s costs 1.25× too.
        assertThat(withContext.contextTable())
                .contains("| (a) offload round trip | 10.0 µs | 12.5 µs ± 0.50 | 1.25× |")
                .contains("| (b) 1000 offloads in flight | 1.00 M ops/s | 800.0 k ops/s ± 1.0 k | 1.25× |");
        assertThat(withContext.markdown(null, null, null, "today")).contains("### What context propagation costs Portal");
    }

    @Test
    void latencyTableShowsEachContendersPercentilesWithSixtyFourCallers() {
        BenchmarkReport r = report(portalScores(10, 1_000_000, 2));
        assertThat(r.latencyTable()).as("not measured: no table").isEmpty();
        assertThat(r.markdown(null, null, null, "today")).doesNotContain("how long one call takes");

        String portal = entry("ExternalCallBenchmark.call64ThreadsLatency", "portal", "sample", 40.5, "2.0", "us/op")
                .replace("\"rawData\"", "\"scorePercentiles\" : { \"0.0\" : 0.2, \"50.0\" : 0.35, \"90.0\" : 3.1, "
                        + "\"99.0\" : 1200.0, \"99.9\" : 9000.0, \"99.99\" : 21000.0, \"100.0\" : 52000.0 }, "
                        + "\"rawData\"");
        String jdk = entry("ExternalCallBenchmark.call64ThreadsLatency", "jdk", "sample", 300, "5.0", "us/op")
                .replace("\"rawData\"", "\"scorePercentiles\" : { \"50.0\" : 280.0, \"99.0\" : 700.0 }, \"rawData\"");
        BenchmarkReport withLatency = reportWith(portal, jdk);

        assertThat(withLatency.latencyTable())
                .startsWith("| Contender | mean | p50 | p90 | p99 | p99.9 | p99.99 | max |\n")
                .contains("| Portal | 40.5 µs | 0.35 µs | 3.10 µs | 1200 µs | 9000 µs | 21000 µs | 52000 µs |")
                .as("a percentile JMH did not write is shown as missing, not as zero")
                .contains("| JDK floor | 300 µs | 280 µs | n/a | 700 µs | n/a | n/a | n/a |")
                .doesNotContain("Vert.x");
        assertThat(withLatency.markdown(null, null, null, "today"))
                .contains("### (c) with 64 callers: how long one call takes");
    }

    @Test
    void compactResultsDropTheSampledHistogramsAndKeepEverythingTheReportReads(@TempDir Path dir) throws Exception {
        String sampled = entry("ExternalCallBenchmark.call64ThreadsLatency", "portal", "sample", 40.5, "2.0", "us/op")
                .replace("\"rawData\"", "\"scorePercentiles\" : { \"50.0\" : 0.35, \"99.9\" : 9000.0 }, "
                        + "\"rawDataHistogram\" : [ [ [ [ 0.35, 1000 ], [ 9000.0, 2 ] ] ] ], \"rawData\"")
                .replace("\"secondaryMetrics\" : { }", "\"secondaryMetrics\" : { \"gc\" : { \"score\" : 1.0, "
                        + "\"rawDataHistogram\" : [ [ [ [ 1.0, 1 ] ] ] ] } }");
        String full = resultsWith(sampled);
        Path raw = Files.writeString(dir.resolve("raw.json"), full);
        Path compact = dir.resolve("jmh.json");
        BenchmarkReport.main(new String[] {"--jmh", raw.toString(), "--compact-jmh", compact.toString(), "--date",
            "2025-01-01"});

        String written = Files.readString(compact);
        assertThat(full).contains("rawDataHistogram");
        assertThat(written).doesNotContain("rawDataHistogram").contains("scorePercentiles").contains("\"gc\"");
        BenchmarkReport fromFull = new BenchmarkReport();
        fromFull.readJmh(full);
        BenchmarkReport fromCompact = new BenchmarkReport();
        fromCompact.readJmh(written);
        assertThat(fromCompact.cells).isEqualTo(fromFull.cells);
        assertThat(fromCompact.percentiles).isEqualTo(fromFull.percentiles);
        assertThat(fromCompact.latencyTable()).contains("| Portal | 40.5 µs | 0.35 µs |");
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
                "- JDK: 17.0.15 (OpenJDK 17.0.15+6)", "`-Xms1g -Xmx1g`",
                "1 fork, 3 warm-up × 2 s, 5 measurement × 2 s", "![Cost relative to the JDK floor](c.svg)",
                "### Targets", "100000 queued offloads");
        assertThat(Files.readString(doc)).contains(section);
        assertThat(Files.readString(dir.resolve("c.svg"))).startsWith("<svg");
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
