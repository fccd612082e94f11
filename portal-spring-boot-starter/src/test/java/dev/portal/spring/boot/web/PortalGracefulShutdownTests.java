package dev.portal.spring.boot.web;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.portal.BlockingPortal;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;

import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.event.ContextClosedEvent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real web application closing while a request is blocked in a portal call: the web server's
 * graceful shutdown waits for the request, the loop stops after it, the response arrives, and no
 * Portal thread outlives the context.
 */
class PortalGracefulShutdownTests {

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @RepeatedTest(3)
    void requestInAPortalCallCompletesWhileTheApplicationShutsDown(RepetitionInfo repetition) throws Exception {
        String loopName = "graceful-web-" + repetition.getCurrentRepetition();
        CountDownLatch gate = new CountDownLatch(1);
        PortalWebApplication.WorkerController.gate = gate;
        PortalWebApplication.WorkerController.running.set(0);
        ConfigurableApplicationContext context = new SpringApplicationBuilder(PortalWebApplication.class)
            .properties("server.port=0", "server.shutdown=graceful", "portal.loop.thread-name=" + loopName,
                    "portal.shutdown.grace-period=20s")
            .run();
        CountDownLatch closing = new CountDownLatch(1);
        context.addApplicationListener((ContextClosedEvent event) -> closing.countDown());
        int port = ((WebServerApplicationContext) context).getWebServer().getPort();
        try {
            CompletableFuture<HttpResponse<String>> response = this.http.sendAsync(
                    HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/gated"))
                        .timeout(Duration.ofSeconds(60))
                        .build(),
                    HttpResponse.BodyHandlers.ofString());
            await().atMost(Duration.ofSeconds(30)).until(() -> PortalWebApplication.WorkerController.running.get() == 1);
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            CompletableFuture<Void> closed = CompletableFuture.runAsync(context::close,
                    (task) -> new Thread(task, "context-closer").start());
            assertThat(closing.await(10, TimeUnit.SECONDS)).isTrue();
            // The server's graceful shutdown has begun once it takes no new connections; the
            // portal, stopped in a later phase, still serves the request in flight.
            await().atMost(Duration.ofSeconds(10)).until(() -> refusesConnections(port));
            assertThat(portal.isRunning()).isTrue();
            assertThat(closed).isNotDone();
            assertThat(response).isNotDone();
            gate.countDown();
            HttpResponse<String> done = response.get(30, TimeUnit.SECONDS);
            assertThat(done.statusCode()).isEqualTo(200);
            assertThat(done.body()).isEqualTo("passed");
            closed.get(30, TimeUnit.SECONDS);
            await().atMost(Duration.ofSeconds(10))
                .until(() -> Thread.getAllStackTraces()
                    .keySet()
                    .stream()
                    .noneMatch((thread) -> thread.isAlive() && thread.getName().startsWith(loopName)));
        }
        finally {
            gate.countDown();
            context.close();
        }
    }

    private boolean refusesConnections(int port) {
        try {
            this.http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/worker"))
                .timeout(Duration.ofSeconds(1))
                .build(), HttpResponse.BodyHandlers.discarding());
            return false;
        }
        catch (IOException ex) {
            return true;
        }
        catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

}
