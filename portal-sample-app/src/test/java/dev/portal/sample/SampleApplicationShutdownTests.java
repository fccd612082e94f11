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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import dev.portal.EventLoop;

import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Stopping the running app with requests in flight: the web server drains them, the loop lets their
 * offloads finish within the grace period, every request gets its full answer, and no Portal thread
 * is left.
 */
class SampleApplicationShutdownTests {

    private static boolean portalThreadsAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && t.getName().startsWith("shutdown-loop"));
    }

    @Test
    void requestsInFlightAreAnsweredAndNoPortalThreadIsLeft() throws Exception {
        ConfigurableApplicationContext context = new SpringApplicationBuilder(SampleApplication.class).run(
                "--server.port=0", "--portal.loop.thread-name=shutdown-loop", "--sample.reports.step-cost=25ms",
                "--spring.datasource.url=jdbc:h2:mem:shutdown-test;DB_CLOSE_DELAY=-1");
        int port = ((WebServerApplicationContext) context).getWebServer().getPort();
        EventLoop loop = context.getBean(EventLoop.class);
        HttpClient http = HttpClient.newHttpClient();
        List<CompletableFuture<HttpResponse<String>>> reports = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            reports.add(http.sendAsync(HttpRequest.newBuilder(URI.create("http://localhost:" + port
                    + "/api/reports/revenue?timeout=30s")).build(), HttpResponse.BodyHandlers.ofString()));
        }
        // every report is running on a worker (36 steps of 25 ms: about a second each)
        await().atMost(Duration.ofSeconds(20)).until(() -> loop.defaultThreadLimiter().borrowedTokens() == 3);

        context.close();

        for (CompletableFuture<HttpResponse<String>> report : reports) {
            HttpResponse<String> response = report.get(30, TimeUnit.SECONDS);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            assertThat(response.body()).contains("\"steps\":36");
        }
        assertThat(loop.isTerminated()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> !portalThreadsAlive());
    }
}
