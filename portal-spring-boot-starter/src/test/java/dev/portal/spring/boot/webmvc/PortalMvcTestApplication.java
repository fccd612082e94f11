package dev.portal.spring.boot.webmvc;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import dev.portal.BlockingPortal;
import dev.portal.CancelMode;
import dev.portal.ToThread;

import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** A controller that returns portal futures, for {@link PortalWebMvcAutoConfigurationTests}. */
@SpringBootApplication
public class PortalMvcTestApplication {

    @RestController
    static class FutureController {

        /** Counted down when the slow call's worker is interrupted. */
        static volatile CountDownLatch interrupted = new CountDownLatch(1);

        /** Counted down when the slow call's worker started sleeping. */
        static volatile CountDownLatch sleeping = new CountDownLatch(1);

        private final BlockingPortal portal;

        FutureController(BlockingPortal portal) {
            this.portal = portal;
        }

        @GetMapping("/quick")
        CompletableFuture<String> quick() {
            return this.portal.startTaskSoon(() -> ToThread.runSync(() -> "quick " + Thread.currentThread().getName()));
        }

        @GetMapping("/failing")
        CompletableFuture<String> failing() {
            return this.portal.startTaskSoon(() -> ToThread.runSync(() -> {
                throw new IllegalArgumentException("no such thing");
            }));
        }

        /** Sleeps for 30 s on a worker, unless interrupted. */
        @GetMapping("/slow")
        CompletableFuture<String> slow() {
            CountDownLatch started = sleeping;
            CountDownLatch stopped = interrupted;
            return this.portal.startTaskSoon(() -> ToThread.runSync(() -> {
                started.countDown();
                try {
                    Thread.sleep(TimeUnit.SECONDS.toMillis(30));
                    return "slept";
                }
                catch (InterruptedException ex) {
                    stopped.countDown();
                    throw ex;
                }
            }, CancelMode.INTERRUPT));
        }

    }

}
