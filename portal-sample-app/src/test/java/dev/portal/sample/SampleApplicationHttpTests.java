package dev.portal.sample;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The sample app over real HTTP on a random port: every endpoint's answer and error, a deadline
 * that frees its worker, a burst ten times larger than the worker limit, and request ids that
 * never cross between concurrent requests.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT, properties = {
        "portal.worker.max-threads=4",
        "sample.customers.lookup-latency=40ms",
        "sample.reports.step-cost=100ms"})
@ExtendWith(OutputCaptureExtension.class)
class SampleApplicationHttpTests {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @LocalServerPort
    int port;

    @Autowired
    EventLoop loop;

    @Autowired
    io.micrometer.core.instrument.MeterRegistry meters;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .timeout(Duration.ofSeconds(30));
        if (headers.length > 0) {
            request.headers(headers);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String path, String json) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** An error answer: the status, a JSON problem with the request id, and no trace of the server's insides. */
    private static void assertProblem(HttpResponse<String> response, int status, String detailPart) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/problem+json"));
        assertThat(response.body()).contains("\"status\":" + status).contains(detailPart)
                .contains("\"requestId\":\"" + response.headers().firstValue("X-Request-Id").orElseThrow() + "\"")
                .doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("trace");
    }

    private CapacityLimiter limiter() {
        return loop.defaultThreadLimiter();
    }

    // ---- each endpoint: its answer and its errors ----------------------------------------------

    @Test
    void aCustomerIsFoundByIdAndUnknownOrMalformedIdsAreClearErrors() throws Exception {
        HttpResponse<String> ada = get("/api/customers/1");
        assertThat(ada.statusCode()).isEqualTo(200);
        assertThat(ada.body()).isEqualTo("{\"id\":1,\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\","
                + "\"region\":\"EU\"}");
        assertProblem(get("/api/customers/999"), 404, "no customer has id 999");
        assertProblem(get("/api/customers/abc"), 400, "Failed to convert 'id' with value: 'abc'");
        assertProblem(get("/api/customers/-3"), 400, "id must be a positive number (was -3)");
    }

    @Test
    void theListIsServedAsynchronously() throws Exception {
        HttpResponse<String> list = get("/api/customers");
        assertThat(list.statusCode()).isEqualTo(200);
        assertThat(list.headers().firstValue("X-Request-Id")).isPresent();
        assertThat(list.body()).startsWith("[{\"id\":1,\"name\":\"Ada Lovelace\"").contains("Mary Kenneth Keller");
    }

    @Test
    void aCustomerIsCreatedOnceAndBadOrDuplicateInputIsRefused() throws Exception {
        HttpResponse<String> created = post("/api/customers",
                "{\"name\":\"Barbara Liskov\",\"email\":\"barbara@example.com\",\"region\":\"US\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(created.body()).contains("\"name\":\"Barbara Liskov\"");
        String location = created.headers().firstValue("Location").orElseThrow();
        assertThat(get(location).body()).contains("barbara@example.com");

        assertProblem(post("/api/customers", "{\"name\":\"B\",\"email\":\"barbara@example.com\",\"region\":\"US\"}"),
                409, "a customer with email barbara@example.com exists already");
        assertProblem(post("/api/customers", "{\"name\":\"\",\"email\":\"nope\",\"region\":\"MARS\"}"), 400,
                "name must be 1 to 100 characters (was \\\"\\\"); email must be an address such as ada@example.com "
                        + "(was \\\"nope\\\"); region must be one of EU, US, APAC (was \\\"MARS\\\")");
        assertProblem(post("/api/customers", "{\"name\":"), 400, "Failed to read request");
    }

    @Test
    void theExportStreamsEveryCustomerFromOneSnapshot() throws Exception {
        HttpResponse<String> csv = get("/api/customers/export");
        assertThat(csv.statusCode()).isEqualTo(200);
        assertThat(csv.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/csv"));
        assertThat(csv.body()).startsWith("id,name,email,region\n1,Ada Lovelace,ada@example.com,EU\n")
                .contains("8,Mary Kenneth Keller,mary@example.com,APAC\n");
    }

    @Test
    void theRatesFeedWasReadyBeforeTheAppServedRequests() throws Exception {
        HttpResponse<String> rates = get("/api/rates");
        assertThat(rates.statusCode()).isEqualTo(200);
        assertThat(rates.body()).contains("\"USD\":1.08").contains("\"loads\":");
    }

    @Test
    void theAuditLogShowsWhatWorkersReportedBackToTheLoop() throws Exception {
        post("/api/customers", "{\"name\":\"Frances Allen\",\"email\":\"frances@example.com\",\"region\":\"US\"}");
        HttpResponse<String> audit = get("/api/audit");
        assertThat(audit.statusCode()).isEqualTo(200);
        assertThat(audit.body()).containsPattern("customer \\d+ created");
    }

    // ---- deadlines -----------------------------------------------------------------------------

    @Test
    void aDeadlineCancelsTheSlowReportAndFreesItsWorkerAtOnce() throws Exception {
        long started = System.nanoTime();
        HttpResponse<String> late = get("/api/reports/revenue?timeout=300ms", "X-Request-Id", "deadline-1");
        assertProblem(late, 504, "did not finish within its deadline");
        // The whole report would take 36 x 100 ms; its worker stops at the next poll after the deadline.
        await().atMost(Duration.ofSeconds(2)).until(() -> limiter().borrowedTokens() == 0);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofMillis(3000));

        assertProblem(get("/api/reports/revenue?timeout=soon"), 400,
                "timeout must be a duration such as 500ms or 2s (was \\\"soon\\\")");
        assertProblem(get("/api/reports/revenue?timeout=0s"), 400, "timeout must be more than 0 and at most 1m");
        assertProblem(get("/api/reports/revenue?timeout=2h"), 400, "timeout must be more than 0 and at most 1m");
    }

    @Test
    void aReportWithinItsDeadlineAnswersInFull() throws Exception {
        HttpResponse<String> report = get("/api/reports/revenue?timeout=30s");
        assertThat(report.statusCode()).as(report.body()).isEqualTo(200);
        assertThat(report.body()).contains("\"steps\":36").contains("\"EU\":{\"1\":120.00");
    }

    // ---- the limiter under a burst -------------------------------------------------------------

    @Test
    void aBurstOfTenTimesTheWorkerLimitIsQueuedNotRunAtOnceAndEveryRequestGetsItsAnswer() throws Exception {
        int limit = limiter().totalTokens();
        assertThat(limit).isEqualTo(4);
        int requests = 10 * limit;
        Map<Integer, String> names = Map.of(1, "Ada Lovelace", 2, "Grace Hopper", 3, "Katherine Johnson",
                4, "Hedy Lamarr", 5, "Radia Perlman", 6, "Margaret Hamilton", 7, "Sophie Wilson",
                8, "Mary Kenneth Keller");
        AtomicInteger mostBorrowed = new AtomicInteger();
        AtomicInteger mostWaiting = new AtomicInteger();
        AtomicBoolean sampling = new AtomicBoolean(true);
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                mostBorrowed.accumulateAndGet(limiter().borrowedTokens(), Math::max);
                mostWaiting.accumulateAndGet(limiter().statistics().tasksWaiting(), Math::max);
                Thread.onSpinWait();
            }
        }, "burst-sampler");
        sampler.start();
        ExecutorService clients = Executors.newFixedThreadPool(requests);
        try {
            for (int round = 0; round < 3; round++) {
                List<CompletableFuture<Void>> answers = new ArrayList<>();
                for (int i = 0; i < requests; i++) {
                    int id = 1 + (i % 8);
                    answers.add(CompletableFuture.runAsync(() -> {
                        try {
                            HttpResponse<String> r = get("/api/customers/" + id);
                            assertThat(r.statusCode()).isEqualTo(200);
                            assertThat(r.body()).contains("\"id\":" + id + ",\"name\":\"" + names.get(id) + "\"");
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }, clients));
                }
                CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
            }
        } finally {
            sampling.set(false);
            sampler.join(5000);
            clients.shutdownNow();
        }
        assertThat(mostBorrowed.get()).as("workers busy at once").isBetween(1, limit);
        assertThat(mostWaiting.get()).as("lookups queued for a worker").isPositive();
        assertThat(limiter().statistics().waitedAcquisitions()).isPositive();
        // ... and the meters show the queue
        io.micrometer.core.instrument.Timer tokenWait = meters.get("portal.limiter.token.wait")
            .tag("limiter", "default").timer();
        assertThat(tokenWait.count()).isGreaterThanOrEqualTo(3L * requests);
        assertThat(tokenWait.max(TimeUnit.MILLISECONDS)).as("longest wait for a token").isGreaterThan(10);
    }

    // ---- what Prometheus and the dashboard see -------------------------------------------------

    @Test
    void everySeriesTheDashboardQueriesIsExportedToPrometheus() throws Exception {
        String dashboard = java.nio.file.Files.readString(java.nio.file.Path.of("../docs/grafana/portal-dashboard.json"));
        java.util.Set<String> queried = new java.util.TreeSet<>();
        Matcher names = Pattern.compile("portal_[a-z_]+").matcher(dashboard);
        while (names.find()) {
            queried.add(names.group());
        }
        assertThat(queried).contains("portal_limiter_borrowed_tokens", "portal_cancellations_total",
                "portal_loop_lag_seconds_sum", "portal_workers_busy_threads");
        // traffic that feeds every meter: lookups, a deadline that cancels a report
        get("/api/customers/1");
        assertProblem(get("/api/reports/revenue?timeout=200ms"), 504, "did not finish within its deadline");
        await().atMost(WAIT).untilAsserted(() -> {
            HttpResponse<String> scrape = get("/actuator/prometheus");
            assertThat(scrape.statusCode()).isEqualTo(200);
            for (String series : queried) {
                assertThat(scrape.body()).as("series %s with the application tag", series)
                    .containsPattern("(?m)^" + series + "\\{[^}]*application=\"portal-sample-app\"");
            }
        });
    }

    // ---- request ids ---------------------------------------------------------------------------

    private static final Pattern WORKER_LINE = Pattern.compile(
            "\\[(portal-loop-worker-\\d+) \\[customers\\.find\\]\\s*\\] \\[(c\\d+-r\\d+)\\s*\\] .*loading customer (\\d+)");
    private static final Pattern LOOP_LINE = Pattern.compile(
            "\\[portal-loop\\s*\\] \\[(c\\d+-r\\d+)\\s*\\] .*finding customer (\\d+)");

    @Test
    void requestIdsFollowEachRequestToTheLoopAndTheWorkerAndNeverCross(CapturedOutput output) throws Exception {
        ExecutorService clients = Executors.newFixedThreadPool(24);
        List<CompletableFuture<Void>> answers = new ArrayList<>();
        try {
            for (int r = 0; r < 48; r++) {
                int id = 1 + (r % 8);
                String requestId = "c" + id + "-r" + r;
                answers.add(CompletableFuture.runAsync(() -> {
                    try {
                        HttpResponse<String> response = get("/api/customers/" + id, "X-Request-Id", requestId);
                        assertThat(response.headers().firstValue("X-Request-Id")).hasValue(requestId);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, clients));
            }
            CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } finally {
            clients.shutdownNow();
        }
        await().atMost(WAIT).untilAsserted(() -> {
            int workerLines = 0;
            int loopLines = 0;
            for (String line : output.getOut().split("\n")) {
                Matcher worker = WORKER_LINE.matcher(line);
                if (worker.find()) {
                    assertThat(worker.group(2)).as(line).startsWith("c" + worker.group(3) + "-");
                    workerLines++;
                }
                Matcher onLoop = LOOP_LINE.matcher(line);
                if (onLoop.find()) {
                    assertThat(onLoop.group(1)).as(line).startsWith("c" + onLoop.group(2) + "-");
                    loopLines++;
                }
            }
            assertThat(workerLines).as("worker log lines with a request id, among: %s", output.getOut().lines()
                    .filter(line -> line.contains("loading customer")).limit(3).toList()).isGreaterThanOrEqualTo(48);
            assertThat(loopLines).as("loop log lines with a request id").isGreaterThanOrEqualTo(48);
        });
    }
}
