package dev.portal.spring.boot.web;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import dev.portal.BlockingPortal;
import dev.portal.ToThread;

import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * A tiny Spring MVC application that uses the starter the way a user would: it injects the
 * {@link BlockingPortal} into a controller and offloads blocking calls through it.
 */
@SpringBootApplication
public class PortalWebApplication {

    @RestController
    static class WorkerController {

        /** Opened by tests to let the calls parked in {@code /gated} return. */
        static volatile CountDownLatch gate = new CountDownLatch(0);

        static final AtomicInteger running = new AtomicInteger();

        static final AtomicInteger mostRunning = new AtomicInteger();

        private final BlockingPortal portal;

        WorkerController(BlockingPortal portal) {
            this.portal = portal;
        }

        /** Runs a blocking call on a worker thread and answers with that thread's name. */
        @GetMapping("/worker")
        String worker() throws Exception {
            return this.portal.call(() -> ToThread.runSync(() -> Thread.currentThread().getName()));
        }

        /** A blocking call that waits for the test's gate and records how many ran at once. */
        @GetMapping("/gated")
        String gated() throws Exception {
            CountDownLatch latch = gate;
            return this.portal.call(() -> ToThread.runSync(() -> {
                int now = running.incrementAndGet();
                mostRunning.accumulateAndGet(now, Math::max);
                try {
                    if (!latch.await(30, TimeUnit.SECONDS)) {
                        return "gate never opened";
                    }
                    return "passed";
                }
                finally {
                    running.decrementAndGet();
                }
            }));
        }

    }

}
