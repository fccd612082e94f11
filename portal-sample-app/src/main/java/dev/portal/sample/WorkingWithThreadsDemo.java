package dev.portal.sample;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import dev.portal.Async;
import dev.portal.AsyncResource;
import dev.portal.BlockingPortal;
import dev.portal.BlockingPortalProvider;
import dev.portal.CancelMode;
import dev.portal.CancelScope;
import dev.portal.EventLoop;
import dev.portal.Event;
import dev.portal.FromThread;
import dev.portal.PortalResource;
import dev.portal.StartedTask;
import dev.portal.TaskLocal;
import dev.portal.ToThread;

import org.jspecify.annotations.Nullable;
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

        section("Calling asynchronous code from an external thread");
        try (BlockingPortal portal = BlockingPortal.start()) {
            String answer = portal.call(() -> Async.sleep(Duration.ofMillis(100))
                    .thenApply(v -> "answered on " + Thread.currentThread().getName()));
            say("main called into the loop: " + answer);
            try {
                portal.call(() -> {
                    portal.call(() -> Async.sleep(Duration.ZERO));
                    return Async.sleep(Duration.ZERO);
                });
            } catch (IllegalStateException e) {
                say("from the loop thread itself: " + e.getMessage().substring(0, e.getMessage().indexOf(':')));
            }

            section("Spawning tasks from worker threads");
            List<CompletableFuture<String>> futures = IntStream.rangeClosed(1, 4)
                    .mapToObj(i -> portal.startTaskSoon("task-" + i,
                            () -> Async.sleep(Duration.ofMillis(100L * (5 - i))).thenApply(v -> "task " + i + " done")))
                    .collect(Collectors.toList());
            CompletableFuture<?>[] remaining = futures.toArray(new CompletableFuture<?>[0]);
            for (int n = 0; n < futures.size(); n++) {
                say((String) CompletableFuture.anyOf(remaining).get());
                remaining = java.util.Arrays.stream(remaining).filter(f -> !f.isDone()).toArray(CompletableFuture<?>[]::new);
            }
            StartedTask<String, String> task = portal.startTask(status -> {
                status.started("STARTED");
                return Async.sleep(Duration.ofMillis(200)).thenApply(v -> "DONE");
            });
            say("Task has started with value " + task.startValue());
            say("Task has finished with return value " + task.future().get());

            section("Using asynchronous context managers from worker threads");
            AsyncResource<String> connection = new AsyncResource<>() {
                @Override
                public CompletionStage<String> enter() {
                    return Async.sleep(Duration.ofMillis(50)).thenApply(v -> "connection-1");
                }

                @Override
                public CompletionStage<Boolean> exit(@Nullable Throwable error) {
                    say("exit ran on " + Thread.currentThread().getName() + (error == null ? "" : " after " + error));
                    return Async.sleep(Duration.ofMillis(50)).thenApply(v -> false);
                }
            };
            try (PortalResource<String> conn = portal.wrapAsyncResource(connection)) {
                say("using " + conn.get() + " on " + Thread.currentThread().getName());
            }
        }

        section("Sharing a blocking portal on demand");
        BlockingPortalProvider provider = new BlockingPortalProvider();
        Thread[] callers = new Thread[4];
        for (int i = 0; i < callers.length; i++) {
            int n = i;
            callers[i] = new Thread(() -> {
                try (BlockingPortalProvider.PortalLease lease = provider.lease()) {
                    lease.portal().call(() -> Async.sleep(Duration.ofMillis(100)));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, "caller-" + n);
            callers[i].start();
        }
        for (Thread caller : callers) {
            caller.join();
        }
        say(callers.length + " threads shared the provider's portal: " + provider.statistics());

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
