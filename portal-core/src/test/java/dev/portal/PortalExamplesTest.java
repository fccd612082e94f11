package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import dev.portal.BlockingPortalProvider.PortalLease;

import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The portal examples of AnyIO 4.8's "Working with threads" page, written as a Portal user would
 * write them, checking what the page says happens. The page's one-second sleeps are scaled down.
 */
class PortalExamplesTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    /** The page's "second". */
    private static final Duration UNIT = Duration.ofMillis(200);

    // ---------------------------------------------------------------------------------------------
    // Calling asynchronous code from an external thread

    /** An async client whose responses arrive on its own I/O thread, as an HTTP client's do. */
    static final class AsyncClient implements AutoCloseable {
        private final ScheduledExecutorService io = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "client-io");
            t.setDaemon(true);
            return t;
        });

        /** Async code: runs on the loop; the response is brought back onto the loop. */
        CompletionStage<String> get(String path) {
            CompletableFuture<String> response = new CompletableFuture<>();
            io.schedule(() -> response.complete("body of " + path), 20, TimeUnit.MILLISECONDS);
            return Async.await(response);
        }

        @Override
        public void close() {
            io.shutdownNow();
        }
    }

    @Test
    void startBlockingPortalLetsThisThreadCallAsyncCodeOnANewLoop() throws Exception {
        try (AsyncClient client = new AsyncClient();
                BlockingPortal portal = BlockingPortal.start()) {
            String body = portal.call(() -> client.get("/index.html"));
            assertThat(body).isEqualTo("body of /index.html");

            String continuedOn = portal.call(() -> client.get("/").thenApply(b -> Thread.currentThread().getName()));
            assertThat(continuedOn).startsWith("portal-loop-").isEqualTo(portal.eventLoop().name());
        }
    }

    @Test
    void aPortalOpenedInARunningLoopGrantsExternalThreadsAccessUntilItIsStopped() throws Exception {
        Thread loopThread = Thread.currentThread(); // EventLoop.run runs the loop on this thread
        List<String> seenByExternalThread = Collections.synchronizedList(new ArrayList<>());
        List<Thread> external = new ArrayList<>();
        EventLoop.run(() -> BlockingPortal.open(portal -> {
            // ...hand off the portal to external threads...
            Thread t = new Thread(() -> {
                try {
                    Thread ranOn = portal.call(() -> Async.sleep(Duration.ofMillis(10))
                            .thenApply(v -> Thread.currentThread()));
                    seenByExternalThread.add(ranOn == loopThread ? "ran on the loop thread" : "ran on " + ranOn);
                } catch (Exception e) {
                    seenByExternalThread.add("failed: " + e);
                } finally {
                    portal.stop(false);
                }
            }, "external");
            external.add(t);
            t.start();
            return portal.sleepUntilStopped();
        }));
        external.get(0).join(WAIT.toMillis());
        assertThat(seenByExternalThread).containsExactly("ran on the loop thread");
    }

    @Test
    void callingThePortalOnItsOwnLoopThreadOrAfterItStoppedFailsAtOnce() throws Exception {
        BlockingPortal portal = BlockingPortal.start();
        Throwable onLoop = portal.callSync(() -> catchThrowable(() -> portal.call(Async::checkpoint)));
        assertThat(onLoop).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot be called from the event loop thread")
                .hasMessageContaining("In async code call the function directly");
        portal.close();
        assertThatThrownBy(() -> portal.call(Async::checkpoint))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("This portal is not running");
    }

    // ---------------------------------------------------------------------------------------------
    // Spawning tasks from worker threads

    /**
     * The page's task. It starts its clock when {@code go} is set, so that all four start in one
     * loop turn however far apart the test thread submits them: the page's order of output relies
     * on the tasks starting within one {@link #UNIT} of each other.
     */
    private static CompletionStage<String> longRunningTask(int index, List<String> output, Event go) {
        return go.await().thenCompose(v -> Async.sleep(UNIT)).thenCompose(v -> {
            output.add("Task " + index + " running...");
            return Async.sleep(UNIT.multipliedBy(index));
        }).thenApply(v -> "Task " + index + " return value");
    }

    /** {@code concurrent.futures.as_completed}: the futures in the order they complete. */
    private static <T> List<CompletableFuture<T>> asCompleted(List<CompletableFuture<T>> futures)
            throws InterruptedException {
        BlockingQueue<CompletableFuture<T>> done = new LinkedBlockingQueue<>();
        futures.forEach(f -> f.whenComplete((v, e) -> done.add(f)));
        List<CompletableFuture<T>> inOrder = new ArrayList<>();
        for (int i = 0; i < futures.size(); i++) {
            CompletableFuture<T> next = done.poll(WAIT.toSeconds(), TimeUnit.SECONDS);
            assertThat(next).as("future %d of %d completed", i + 1, futures.size()).isNotNull();
            inOrder.add(next);
        }
        return inOrder;
    }

    @Test
    void startTaskSoonFuturesCompleteAsTheirTasksEnd() throws Exception {
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        Event go = new Event();
        try (BlockingPortal portal = BlockingPortal.start()) {
            List<CompletableFuture<String>> futures = IntStream.rangeClosed(1, 4)
                    .mapToObj(i -> portal.startTaskSoon(() -> longRunningTask(i, output, go)))
                    .collect(Collectors.toList());
            portal.callSync(() -> {
                go.set();
                return null;
            });
            for (CompletableFuture<String> future : asCompleted(futures)) {
                output.add(future.get());
            }
        }
        assertThat(output).containsExactly(
                "Task 1 running...", "Task 2 running...", "Task 3 running...", "Task 4 running...",
                "Task 1 return value", "Task 2 return value", "Task 3 return value", "Task 4 return value");
    }

    @Test
    void cancellingAStartTaskSoonFutureCancelsItsTask() throws Exception {
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        Event go = new Event();
        try (BlockingPortal portal = BlockingPortal.start()) {
            List<CompletableFuture<String>> futures = IntStream.rangeClosed(1, 4)
                    .mapToObj(i -> portal.startTaskSoon(() -> longRunningTask(i, output, go)))
                    .collect(Collectors.toList());
            CompletableFuture<String> fourth = futures.get(3);
            assertThat(fourth.cancel(true)).isTrue();
            portal.callSync(() -> {
                go.set();
                return null;
            });

            List<CompletableFuture<String>> inOrder = asCompleted(futures);
            assertThat(inOrder.get(0)).isSameAs(fourth).isCancelled();
            assertThat(inOrder.subList(1, 4)).containsExactly(futures.get(0), futures.get(1), futures.get(2));
            await().atMost(WAIT).until(() -> portal.statistics().tasks() == 0);
            assertThat(portal.statistics().cancelled()).isEqualTo(1);
        }
        assertThat(output).doesNotContain("Task 4 running...", "Task 4 return value")
                .contains("Task 1 running...", "Task 2 running...", "Task 3 running...");
    }

    @Test
    void startTaskReturnsTheReadinessValueAndTheFutureOfTheResult() throws Exception {
        List<String> output = new ArrayList<>();
        boolean finishedWhenStarted;
        try (BlockingPortal portal = BlockingPortal.start()) {
            StartedTask<String, String> task = portal.startTask(status -> {
                status.started("STARTED");
                return Async.sleep(Duration.ofSeconds(1)).thenApply(v -> "DONE");
            });
            finishedWhenStarted = task.future().isDone();
            output.add("Task has started with value " + task.startValue());
            output.add("Task has finished with return value " + task.future().get(WAIT.toSeconds(), TimeUnit.SECONDS));
        }
        assertThat(finishedWhenStarted).isFalse();
        assertThat(output).containsExactly(
                "Task has started with value STARTED",
                "Task has finished with return value DONE");
    }

    // ---------------------------------------------------------------------------------------------
    // Using asynchronous context managers from worker threads

    /** The page's AsyncContextManager: prints on enter and on exit. */
    static final class AsyncContextManager implements AsyncResource<Void> {
        final List<String> output;

        AsyncContextManager(List<String> output) {
            this.output = output;
        }

        @Override
        public CompletionStage<Void> enter() {
            output.add("entering");
            return Async.checkpoint();
        }

        @Override
        public CompletionStage<Boolean> exit(@Nullable Throwable error) {
            output.add("exiting with " + (error == null ? "None" : error.getClass().getSimpleName()));
            return Async.checkpoint().thenApply(v -> false);
        }
    }

    @Test
    void aWrappedAsyncResourceIsEnteredAndExitedAroundTheBlock() throws Exception {
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        AsyncContextManager asyncCm = new AsyncContextManager(output);
        try (BlockingPortal portal = BlockingPortal.start();
                PortalResource<Void> cm = portal.wrapAsyncResource(asyncCm)) {
            output.add("inside the context manager block");
        }
        assertThat(output).containsExactly("entering", "inside the context manager block", "exiting with None");
    }

    @Test
    void aWrappedAsyncResourceSeesTheBlocksException() throws Exception {
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        AsyncContextManager asyncCm = new AsyncContextManager(output);
        IllegalStateException failure = new IllegalStateException("the block failed");
        try (BlockingPortal portal = BlockingPortal.start()) {
            assertThatThrownBy(() -> portal.withAsyncResource(asyncCm, nothing -> {
                output.add("inside the context manager block");
                throw failure;
            })).isSameAs(failure);
        }
        assertThat(output).containsExactly("entering", "inside the context manager block",
                "exiting with IllegalStateException");
    }

    @Test
    void wrappedAsyncResourcesCannotBeUsedOnTheLoopThread() throws Exception {
        List<String> output = Collections.synchronizedList(new ArrayList<>());
        AsyncContextManager asyncCm = new AsyncContextManager(output);
        try (BlockingPortal portal = BlockingPortal.start()) {
            Throwable wrapOnLoop = portal.callSync(() -> catchThrowable(() -> portal.wrapAsyncResource(asyncCm)));
            assertThat(wrapOnLoop).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("cannot be called from the event loop thread");
            try (PortalResource<Void> cm = portal.wrapAsyncResource(asyncCm)) {
                Throwable exitOnLoop = portal.callSync(() -> catchThrowable(cm::close));
                assertThat(exitOnLoop).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("cannot be called from the event loop thread");
            }
        }
        assertThat(output).containsExactly("entering", "exiting with None");
    }

    // ---------------------------------------------------------------------------------------------
    // Sharing a blocking portal on demand

    interface AsyncObject {
        CompletionStage<Void> doAsyncStuff();
    }

    /** The page's MyAPI. */
    static final class MyApi {
        private final AsyncObject asyncObj;
        private final BlockingPortalProvider portalProvider = new BlockingPortalProvider();

        MyApi(AsyncObject asyncObj) {
            this.asyncObj = asyncObj;
        }

        void doStuff() throws Exception {
            try (PortalLease lease = portalProvider.lease()) {
                lease.portal().call(asyncObj::doAsyncStuff);
            }
        }

        PortalProviderStatistics portalStatistics() {
            return portalProvider.statistics();
        }
    }

    /** Async stuff that finishes only once {@code parties} calls are in progress at the same time. */
    static final class Rendezvous implements AsyncObject {
        final Set<Thread> loopThreads = ConcurrentHashMap.newKeySet();
        private final int parties;
        private final AtomicInteger arrived = new AtomicInteger();
        private final Event allArrived = new Event();

        Rendezvous(int parties) {
            this.parties = parties;
        }

        @Override
        public CompletionStage<Void> doAsyncStuff() {
            loopThreads.add(Thread.currentThread());
            if (arrived.incrementAndGet() == parties) {
                allArrived.set();
            }
            return CancelScope.failAfter(WAIT, allArrived::await);
        }
    }

    @Test
    void threadsCallingMyApiAtTheSameTimeShareOnePortal() throws Exception {
        int parties = 8;
        Rendezvous asyncObj = new Rendezvous(parties);
        MyApi api = new MyApi(asyncObj);
        CyclicBarrier start = new CyclicBarrier(parties);
        List<CompletableFuture<Void>> calls = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < parties; i++) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            Thread t = new Thread(() -> {
                try {
                    start.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                    api.doStuff();
                    done.complete(null);
                } catch (Throwable e) {
                    done.completeExceptionally(e);
                }
            }, "api-caller-" + i);
            threads.add(t);
            calls.add(done);
            t.start();
        }
        CompletableFuture.allOf(calls.toArray(new CompletableFuture<?>[0])).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        for (Thread t : threads) {
            t.join(WAIT.toMillis());
        }

        assertThat(asyncObj.loopThreads).hasSize(1);
        assertThat(api.portalStatistics()).isEqualTo(new PortalProviderStatistics(false, 0, parties, 1, 1, null));
        Thread loopThread = asyncObj.loopThreads.iterator().next();
        await().atMost(WAIT).until(() -> !loopThread.isAlive());
    }

    @Test
    void myApiStartsAPortalForTheFirstLeaseAndStopsItAtTheLastRelease() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        MyApi api = new MyApi(() -> Async.checkpoint().thenRun(calls::incrementAndGet));
        api.doStuff();
        assertThat(api.portalStatistics()).isEqualTo(new PortalProviderStatistics(false, 0, 1, 1, 1, null));
        api.doStuff();
        assertThat(api.portalStatistics()).isEqualTo(new PortalProviderStatistics(false, 0, 2, 2, 2, null));
        assertThat(calls).hasValue(2);
    }
}
