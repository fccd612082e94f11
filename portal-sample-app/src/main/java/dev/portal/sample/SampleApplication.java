package dev.portal.sample;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * A Spring MVC service on Portal: controllers run on servlet threads and reach async services on the
 * application's event loop through the {@code BlockingPortal} bean; the services offload JDBC and
 * other blocking work to worker threads bounded by {@code portal.worker.max-threads}.
 *
 * <p>Run it with {@code mvn -B -q -pl portal-sample-app -am -Prun -DskipTests verify}, then see the
 * README's tour for the requests to make.
 */
@SpringBootApplication
public class SampleApplication {

    public static void main(String[] args) {
        SpringApplication.run(SampleApplication.class, args);
    }
}
