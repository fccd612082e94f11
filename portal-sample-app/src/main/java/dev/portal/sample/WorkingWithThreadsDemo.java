package dev.portal.sample;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;

import dev.portal.Async;
import dev.portal.CancelMode;
import dev.portal.CancelScope;
import dev.portal.EventLoop;
import dev.portal.Event;
import dev.portal.FromThread;
import dev.portal.TaskLocal;
import dev.portal.ToThread;

import org.slf4j.MDC;

/**
 * The examples of AnyIO's "Working with threads" page, run with Portal. Each prints what it did,
 * so running this class shows the model at work:
 *
 * <pre>mvn -B -q -Pdemo -DskipTests verify</pre>
 */
public final class WorkingWithThreadsDemo {

    static final TaskLocal<String> REQUEST_ID = TaskLocal.named("requestId");

    private WorkingWithThreadsDemo() {
    }

    public static void main(String[] args) throws Exception {
        Instant start = Instant.now();

        section("Running a function in a worker thread");
        String worker = EventLoop.run(() -> ToThread.runSync(() -> {
            Thread.sleep(500);
            return Thread.currentThread().getName();
        }));
        say("blocking call ran on " + worker + " while the loop stayed free");

        section("Cancelling a worker call: SHIELD (default), ABANDON, INTERRUPT");
        for (CancelMode mode : CancelMode.values()) {
            long t0 = System.nanoTime();
            long releasedAfter = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofMillis(100), () ->
                    ToThread.runSync(() -> {
                        try {
                            Thread.sleep(600);
                            return "finished";
                        } catch (InterruptedException e) {
                            return "interrupted";
                        }
                    }, mode)).thenApply(v -> (System.nanoTime() - t0) / 1_000_000));
            say(mode + ": cancelled after 100 ms, caller released after " + releasedAfter + " ms");
        }

        section("Calling asynchronous code from a worker thread");
        String fromLoop = EventLoop.run(() -> ToThread.runSync(() ->
                FromThread.run(() -> Async.sleep(Duration.ofMillis(200))
                        .thenApply(v -> "async sleep ran on " + Thread.currentThread().getName()))));
        say(fromLoop);
        try {
            FromThread.run(() -> Async.sleep(Duration.ZERO));
        } catch (IllegalStateException e) {
            say("from main: " + e.getMessage());
        }

        section("Calling synchronous code from a worker thread");
        EventLoop.run(() -> {
            Event event = new Event();
            return ToThread.runSync(() -> {
                Thread.sleep(200);
                FromThread.runSync(() -> {
                    event.set();
                    return null;
                });
                return null;
            }).thenCompose(ignored -> event.await()).thenRun(() -> say("event set from the worker, seen on the loop"));
        });

        section("Context propagation");
        String seen = EventLoop.run(() -> {
            REQUEST_ID.set("r-42");
            MDC.put("requestId", "r-42");
            return ToThread.runSync(() -> REQUEST_ID.get() + " " + MDC.get("requestId"));
        });
        say("worker saw task-local and MDC: " + seen);

        section("Adjusting the default maximum worker thread count");
        int tokens = EventLoop.run(() -> {
            ToThread.currentDefaultThreadLimiter().setTotalTokens(60);
            return ToThread.runSync(() -> 0).thenApply(v -> ToThread.currentDefaultThreadLimiter().totalTokens());
        });
        say("default limiter now has " + tokens + " tokens");

        section("Reacting to cancellation in worker threads");
        AtomicInteger polls = new AtomicInteger();
        EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofSeconds(1), () ->
                ToThread.runSync(() -> {
                    while (true) {
                        FromThread.checkCancelled();
                        say("Not cancelled yet");
                        polls.incrementAndGet();
                        Thread.sleep(300);
                    }
                })));
        say("the worker saw the cancellation after " + polls.get() + " polls");

        section("Done in " + Duration.between(start, Instant.now()).toMillis() + " ms");
    }

    private static void section(String title) {
        System.out.println();
        System.out.println("== " + title);
    }

    private static void say(String line) {
        System.out.println("   " + line);
    }
}
