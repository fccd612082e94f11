package dev.portal.sample;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.ActiveProfiles;

/**
 * The {@code bench} profile's three versions of one lookup (bench/sample-load.sh drives them) give
 * the same answer; the virtual-thread one says so when the JDK has none.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = "spring.datasource.url=jdbc:h2:mem:bench-test;DB_CLOSE_DELAY=-1")
@ActiveProfiles("bench")
class BenchProfileHttpTests {

    @LocalServerPort
    int port;

    private HttpResponse<String> get(String path) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void everyVariantAnswersTheSameLookup() throws Exception {
        String ada = "{\"id\":1,\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\",\"region\":\"EU\"}";
        assertThat(get("/bench/portal/1").body()).isEqualTo(ada);
        assertThat(get("/bench/async/1").body()).isEqualTo(ada);
        HttpResponse<String> virtual = get("/bench/virtual/1");
        if (Runtime.version().feature() >= 21) {
            assertThat(virtual.body()).isEqualTo(ada);
        } else {
            assertThat(virtual.statusCode()).isEqualTo(501);
            assertThat(virtual.body()).contains("virtual threads need JDK 21 or newer");
        }
    }
}
