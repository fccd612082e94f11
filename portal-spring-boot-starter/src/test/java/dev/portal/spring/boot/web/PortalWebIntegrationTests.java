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
        properties = { "portal.loop.thread-name=web-loop", "portal.worker.max-threads=3" })
class PortalWebIntegrationTests {

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

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

    private CompletableFuture<HttpResponse<String>> get(String path) {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + this.port + path))
            .timeout(Duration.ofSeconds(60))
            .build();
        return this.http.sendAsync(request, HttpResponse.BodyHandlers.ofString());
    }

}
