package dev.portal.spring.boot.web;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import dev.portal.CapacityLimiter;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The starter in a real Spring MVC application over real HTTP: a controller injects the
 * {@link dev.portal.BlockingPortal} and offloads through it, bounded by {@code portal.worker.max-threads}.
 */
@SpringBootTest(classes = PortalWebApplication.class, webEnvironment = WebEnvironment.RANDOM_PORT,
        properties = { "portal.loop.thread-name=web-loop", "portal.worker.max-threads=3",
                "management.endpoints.web.exposure.include=health,portal",
                "management.endpoint.health.show-components=always", "management.endpoint.health.show-details=always" })
class PortalWebIntegrationTests {

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private final JsonMapper json = JsonMapper.builder().build();

    @LocalServerPort
    private int port;

    @Autowired
    @Qualifier(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME)
    private CapacityLimiter limiter;

    @Test
    void controllerRunsABlockingCallOnAWorkerThroughTheInjectedPortal() throws Exception {
        HttpResponse<String> response = get("/worker").get(30, TimeUnit.SECONDS);
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).startsWith("web-loop-worker-");
    }

    @Test
    void maxThreadsBoundsTheBlockingCallsOfConcurrentRequests() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        PortalWebApplication.WorkerController.gate = gate;
        PortalWebApplication.WorkerController.mostRunning.set(0);
        List<CompletableFuture<HttpResponse<String>>> responses = IntStream.range(0, 12)
            .mapToObj((i) -> get("/gated"))
            .toList();
        try {
            await().atMost(Duration.ofSeconds(30))
                .until(() -> this.limiter.statistics().borrowedTokens() == 3
                        && this.limiter.statistics().tasksWaiting() == 9);
            assertThat(PortalWebApplication.WorkerController.running.get()).isEqualTo(3);
        }
        finally {
            gate.countDown();
        }
        for (CompletableFuture<HttpResponse<String>> response : responses) {
            HttpResponse<String> done = response.get(30, TimeUnit.SECONDS);
            assertThat(done.statusCode()).isEqualTo(200);
            assertThat(done.body()).isEqualTo("passed");
        }
        assertThat(PortalWebApplication.WorkerController.mostRunning.get()).isEqualTo(3);
    }

    @Test
    void healthShowsThePortalComponentOverHttp() throws Exception {
        HttpResponse<String> response = get("/actuator/health/portal").get(30, TimeUnit.SECONDS);
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode health = this.json.readTree(response.body());
        assertThat(health.path("status").asString()).isEqualTo("UP");
        assertThat(health.path("details").path("loop").asString()).isEqualTo("web-loop");
        assertThat(health.path("details").path("state").asString()).isEqualTo("running");
    }

    @Test
    void portalEndpointShowsTheLoopAndTheDefaultLimiterOverHttp() throws Exception {
        HttpResponse<String> response = get("/actuator/portal").get(30, TimeUnit.SECONDS);
        assertThat(response.statusCode()).isEqualTo(200);
        JsonNode portal = this.json.readTree(response.body());
        assertThat(portal.path("loop").path("name").asString()).isEqualTo("web-loop");
        assertThat(portal.path("loop").path("state").asString()).isEqualTo("running");
        assertThat(portal.path("limiters").path("default").path("totalTokens").asInt()).isEqualTo(3);
        assertThat(portal.path("tasks").isArray()).isTrue();
    }

    @Test
    void portalEndpointWriteOperationResizesALimiterOverHttp() throws Exception {
        try {
            HttpResponse<String> response = post("/actuator/portal/default", "{\"totalTokens\": 5}");
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(this.json.readTree(response.body()).path("totalTokens").asInt()).isEqualTo(5);
            assertThat(this.limiter.totalTokens()).isEqualTo(5);
        }
        finally {
            this.limiter.setTotalTokens(3);
        }
    }

    @Test
    void portalEndpointRejectsANegativeTotalWithBadRequest() throws Exception {
        HttpResponse<String> response = post("/actuator/portal/default", "{\"totalTokens\": -1}");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(this.limiter.totalTokens()).isEqualTo(3);
    }

    private HttpResponse<String> post(String path, String json) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + this.port + path))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build();
        return this.http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private CompletableFuture<HttpResponse<String>> get(String path) {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + this.port + path))
            .timeout(Duration.ofSeconds(60))
            .build();
        return this.http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    }

}
