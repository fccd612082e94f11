package dev.portal.spring.boot.webmvc;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.portal.EventLoop;
import dev.portal.spring.boot.webmvc.PortalMvcTestApplication.FutureController;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Tests for {@link PortalWebMvcAutoConfiguration} over real HTTP: a controller's portal future is
 * served asynchronously, and its task, with the worker it offloaded to, is cancelled when the async
 * request times out or the client goes away.
 */
@SpringBootTest(classes = PortalMvcTestApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = { "spring.mvc.async.request-timeout=1s", "portal.loop.thread-name=mvc-loop" })
class PortalWebMvcAutoConfigurationTests {

    @LocalServerPort
    int port;

    @Autowired
    EventLoop loop;

    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> get(String path, Duration timeout) throws Exception {
        return this.http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + this.port + path))
            .timeout(timeout).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aPortalFutureIsServedAsynchronously() throws Exception {
        HttpResponse<String> response = get("/quick", Duration.ofSeconds(10));
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).startsWith("quick mvc-loop-worker-");
        HttpResponse<String> failing = get("/failing", Duration.ofSeconds(10));
        assertThat(failing.statusCode()).isEqualTo(500);
    }

    @RepeatedTest(3)
    void anAsyncRequestTimeoutCancelsTheTaskAndInterruptsItsWorker() throws Exception {
        FutureController.sleeping = new CountDownLatch(1);
        FutureController.interrupted = new CountDownLatch(1);
        HttpResponse<String> response = get("/slow", Duration.ofSeconds(20));
        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(FutureController.sleeping.getCount()).isZero();
        assertThat(FutureController.interrupted.await(10, TimeUnit.SECONDS)).as("worker interrupted").isTrue();
        await().atMost(Duration.ofSeconds(10))
            .until(() -> this.loop.defaultThreadLimiter().borrowedTokens() == 0);
    }

    @Test
    void aClientThatGoesAwayCancelsTheTaskAndInterruptsItsWorker() throws Exception {
        FutureController.sleeping = new CountDownLatch(1);
        FutureController.interrupted = new CountDownLatch(1);
        // The client gives up after 300 ms, well before the 1 s async timeout, and drops the connection.
        assertThatThrownBy(() -> get("/slow", Duration.ofMillis(300))).isInstanceOf(HttpTimeoutException.class);
        assertThat(FutureController.sleeping.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(FutureController.interrupted.await(10, TimeUnit.SECONDS)).as("worker interrupted").isTrue();
    }

}
