package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * The loop hands out its last context capture again while the values are the same objects, and a
 * worker keeps a job's context applied for the next job with the same capture: what every job sees
 * must be exactly what a fresh capture and apply would give it.
 */
class ContextReuseTest {

    private static final ThreadLocal<String> TENANT = new ThreadLocal<>();

    @AfterEach
    void clean() {
        MDC.clear();
        TENANT.remove();
    }

    /** A tenant accessor that counts how often Portal sets and clears it. */
    private static final class Counted implements ThreadLocalAccessor<String> {
        /** Counts on Portal's worker threads only (the loop applies its tasks' context too), or on one named thread. */
        final AtomicInteger sets = new AtomicInteger();
        final AtomicInteger clears = new AtomicInteger();
        private final String thread;

        Counted() {
            this(null);
        }

        Counted(String thread) {
            this.thread = thread;
        }

        private boolean onWorker() {
            String name = Thread.currentThread().getName();
            return thread == null ? name.contains("-worker-") : name.equals(thread);
        }

        @Override
        public Object key() {
            return "portal.test.tenant";
        }

        @Override
        public String getValue() {
            return TENANT.get();
        }

        @Override
        public void setValue(String value) {
            if (onWorker()) {
                sets.incrementAndGet();
            }
            TENANT.set(value);
        }

        @Override
        public void setValue() {
            if (onWorker()) {
                clears.incrementAndGet();
            }
            TENANT.remove();
        }
    }

    @Test
    void aBurstRunByOneWorkerAppliesTheContextOnceAndTheIdleWorkerIsCleared() throws Exception {
        Counted accessor = new Counted();
        ContextRegistry registry = new ContextRegistry().registerThreadLocalAccessor(accessor);
        CapacityLimiter one = new CapacityLimiter("one", 1);
        try (EventLoop loop = EventLoop.builder().contextRegistry(registry).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            CountDownLatch allQueued = new CountDownLatch(1);
            TENANT.set("acme");
            List<String> seen = portal.call(() -> {
                List<CompletableFuture<String>> calls = new ArrayList<>();
                calls.add(ToThread.runSync(() -> {
                    assertThat(allQueued.await(10, TimeUnit.SECONDS)).isTrue();
                    return TENANT.get();
                }, one).toCompletableFuture());
                for (int i = 1; i < 100; i++) {
                    calls.add(ToThread.runSync(TENANT::get, one).toCompletableFuture());
                }
                allQueued.countDown();
                return CompletableFuture.allOf(calls.toArray(new CompletableFuture<?>[0]))
                        .thenApply(v -> calls.stream().map(CompletableFuture::join).toList());
            });
            TENANT.remove();
            assertThat(seen).hasSize(100).containsOnly("acme");
            // The 100 calls ran back to back on one worker (each freed token handed it the next).
            assertThat(accessor.sets.get()).as("applies on the worker").isEqualTo(1);
            // Once idle, the worker no longer carries the tenant.
            await().atMost(Duration.ofSeconds(10)).until(() -> accessor.clears.get() >= 1);
        }
    }

    @RepeatedTest(20)
    void aJobThatChangesTheMdcLeavesNothingForTheNextJobWithTheSameCapture() throws Exception {
        CapacityLimiter one = new CapacityLimiter("one", 1);
        try (BlockingPortal portal = BlockingPortal.start()) {
            MDC.put("traceId", "t-1");
            MDC.put("userId", "u-1");
            CountDownLatch allQueued = new CountDownLatch(1);
            List<Map<String, String>> seen = portal.call(() -> {
                List<CompletableFuture<Map<String, String>>> calls = new ArrayList<>();
                calls.add(ToThread.runSync(() -> {
                    assertThat(allQueued.await(10, TimeUnit.SECONDS)).isTrue();
                    Map<String, String> mine = MDC.getCopyOfContextMap();
                    MDC.put("leak", "from the first call");
                    MDC.remove("userId");
                    return mine;
                }, one).toCompletableFuture());
                for (int i = 1; i < 50; i++) {
                    calls.add(ToThread.runSync(() -> {
                        Map<String, String> mine = MDC.getCopyOfContextMap();
                        MDC.put("leak", "from a later call");
                        return mine;
                    }, one).toCompletableFuture());
                }
                allQueued.countDown();
                return CompletableFuture.allOf(calls.toArray(new CompletableFuture<?>[0]))
                        .thenApply(v -> calls.stream().map(CompletableFuture::join).toList());
            });
            assertThat(seen).hasSize(50).allSatisfy(mdc -> assertThat(mdc)
                    .containsExactlyInAnyOrderEntriesOf(Map.of("traceId", "t-1", "userId", "u-1")));
        }
    }

    @Test
    void theLoopCapturesAfreshOnceItsMdcChanges() throws Exception {
        try (BlockingPortal portal = BlockingPortal.start()) {
            MDC.put("traceId", "t-1");
            List<String> seen = portal.call(() -> {
                List<CompletableFuture<String>> calls = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    if (i % 50 == 0) {
                        MDC.put("step", Integer.toString(i / 50));
                    }
                    calls.add(ToThread.runSync(() -> MDC.get("traceId") + "/" + MDC.get("step")).toCompletableFuture());
                }
                MDC.remove("step");
                calls.add(ToThread.runSync(() -> MDC.get("traceId") + "/" + MDC.get("step")).toCompletableFuture());
                return CompletableFuture.allOf(calls.toArray(new CompletableFuture<?>[0]))
                        .thenApply(v -> calls.stream().map(CompletableFuture::join).toList());
            });
            assertThat(seen).hasSize(201);
            for (int i = 0; i < 200; i++) {
                assertThat(seen.get(i)).as("call %d", i).isEqualTo("t-1/" + (i / 50));
            }
            assertThat(seen.get(200)).isEqualTo("t-1/null");
        }
    }

    @RepeatedTest(10)
    void tasksStartedByOneCallerShareItsCaptureAndNoneSeesWhatAnotherChanged() throws Exception {
        try (BlockingPortal portal = BlockingPortal.start()) {
            MDC.put("traceId", "t-9");
            MDC.put("userId", "u-9");
            List<java.util.concurrent.Future<String>> tasks = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                int n = i;
                tasks.add(portal.startTaskSoon(() -> {
                    String before = MDC.get("traceId") + "/" + MDC.get("userId") + "/" + MDC.get("leak");
                    if (n % 2 == 1) {
                        MDC.put("leak", "task " + n); // kept for this task's later callbacks only
                        MDC.remove("userId");
                    }
                    return Async.checkpoint().thenApply(v -> before + " then " + MDC.get("traceId") + "/"
                            + MDC.get("userId") + "/" + MDC.get("leak"));
                }));
            }
            for (int i = 0; i < 200; i++) {
                String seen = tasks.get(i).get(10, TimeUnit.SECONDS);
                String after = i % 2 == 1 ? "t-9/null/task " + i : "t-9/u-9/null";
                assertThat(seen).as("task %d", i).isEqualTo("t-9/u-9/null then " + after);
            }
            assertThat(MDC.get("leak")).as("the caller's own MDC").isNull();
        }
    }

    @RepeatedTest(5)
    void tasksOneCallerStartsInARowApplyItsContextOnceOnTheLoop() throws Exception {
        // Applied for the first task and again after each task that changed it (100 of them):
        // never once per task, as a fresh apply for each would do (300).
        assertThat(appliesOnTheLoopFor300TasksInARow(true)).as("applies on the loop").isEqualTo(101);
    }

    @RepeatedTest(5)
    void tasksWithAnUnchangedContextInARowApplyItOnceOnTheLoop() throws Exception {
        assertThat(appliesOnTheLoopFor300TasksInARow(false)).as("applies on the loop").isEqualTo(1);
    }

    /**
     * Starts 300 tasks from this thread with one tenant while the loop is held, so that they run in
     * a row; every third one changes the tenant in its first step if {@code everyThirdChanges}.
     * Checks that each task saw the caller's tenant and that a plain callback afterwards sees the
     * loop's own context, and returns how often the loop applied the tenant.
     */
    private static int appliesOnTheLoopFor300TasksInARow(boolean everyThirdChanges) throws Exception {
        Counted accessor = new Counted("reuse-loop");
        ContextRegistry registry = new ContextRegistry().registerThreadLocalAccessor(accessor);
        try (EventLoop loop = EventLoop.builder().name("reuse-loop").contextRegistry(registry).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            CountDownLatch release = new CountDownLatch(1);
            loop.execute(() -> awaitQuietly(release)); // the tasks queue up behind it, to run in a row
            TENANT.set("acme");
            List<CompletableFuture<String>> tasks = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                boolean changes = everyThirdChanges && i % 3 == 1;
                int n = i;
                tasks.add(portal.startTaskSoon(() -> {
                    String seen = TENANT.get();
                    if (changes) {
                        TENANT.set("changed by task " + n); // must not reach the next task
                    }
                    return CompletableFuture.completedFuture(seen);
                }));
            }
            TENANT.remove();
            release.countDown();
            for (int i = 0; i < 300; i++) {
                assertThat(tasks.get(i).get(10, TimeUnit.SECONDS)).as("task %d", i).isEqualTo("acme");
            }
            // A callback that is not a task's sees the loop thread's own context.
            CompletableFuture<String> plain = new CompletableFuture<>();
            loop.execute(() -> plain.complete(String.valueOf(TENANT.get())));
            assertThat(plain.get(10, TimeUnit.SECONDS)).isEqualTo("null");
            return accessor.sets.get();
        }
    }

    @RepeatedTest(5)
    void aCancelledTaskAfterOneThatKeptItsContextIsReportedInTheLoopsOwnContext() throws Exception {
        List<String> seenByListener = new java.util.concurrent.CopyOnWriteArrayList<>();
        EventLoopListener listener = new EventLoopListener() {
            @Override
            public void onCancellation(CancellationEvent event) {
                seenByListener.add(String.valueOf(TENANT.get()));
            }
        };
        ContextRegistry registry = new ContextRegistry().registerThreadLocalAccessor(new Counted());
        try (EventLoop loop = EventLoop.builder().contextRegistry(registry).listener(listener).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            CountDownLatch release = new CountDownLatch(1);
            loop.execute(() -> awaitQuietly(release));
            TENANT.set("acme");
            CompletableFuture<String> first = portal.startTaskSoon(
                    () -> CompletableFuture.completedFuture(TENANT.get()));
            TENANT.set("globex");
            CompletableFuture<String> cancelled = portal.startTaskSoon(
                    () -> CompletableFuture.completedFuture(TENANT.get()));
            assertThat(cancelled.cancel(true)).isTrue(); // before the loop starts it
            TENANT.remove();
            release.countDown();
            assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo("acme");
            // The cancelled task's scope reports its cancellation as the task starts, right after the
            // first task, whose context the loop kept applied: the listener must not see it.
            await().atMost(Duration.ofSeconds(10)).until(() -> !seenByListener.isEmpty());
            assertThat(seenByListener).containsOnly("null");
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            assertThat(latch.await(10, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
