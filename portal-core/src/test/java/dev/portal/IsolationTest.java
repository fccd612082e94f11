package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Isolation of per-call context under load: 10 000 portal calls from a pool of 64 threads, each with
 * its own MDC entry and {@link TaskLocal} value, hop from the caller to a loop task, across sleeps on
 * the loop, to a worker ({@code ToThread.runSync}) and back to the loop ({@code FromThread.run}). No
 * call ever sees another call's values, nothing flows back to where it came from, and no value is
 * left on a pooled worker or on the loop thread afterwards.
 */
class IsolationTest {

    static final TaskLocal<String> REQUEST = TaskLocal.named("request");
    static final int CALLS = Integer.getInteger("portal.isolation.calls", 10_000);
    static final int CALLERS = 64;
    static final int WORKERS = 16;

    private final Queue<String> violations = new ConcurrentLinkedQueue<>();
    private BlockingPortal portal;

    @BeforeAll
    static void initialiseLogging() {
        // Bind SLF4J to logback before many threads touch the MDC at once.
        LoggerFactory.getLogger(IsolationTest.class).debug("isolation test starting");
    }

    @BeforeEach
    void startPortal() {
        portal = BlockingPortal.start(EventLoop.builder().name("isolation-loop").daemon(true)
                .defaultThreadLimit(WORKERS).workerIdleTimeout(Duration.ofSeconds(30)));
    }

    @AfterEach
    void closePortal() {
        portal.close();
    }

    private void expect(String where, long call, String what, Object expected, Object actual) {
        if (!Objects.equals(expected, actual)) {
            violations.add("call " + call + " " + where + ": " + what + " was " + actual + ", expected " + expected);
        }
    }

    private void expectOwn(String where, long call) {
        expect(where, call, "MDC callId", "c" + call, MDC.get("callId"));
        expect(where, call, "task-local", "t" + call, REQUEST.get());
    }

    /** One call: checks its values at every hop and mutates them where the mutation must not flow back. */
    private String oneCall(long call) throws Exception {
        expect("on the caller before", call, "MDC", null, MDC.get("callId"));
        expect("on the caller before", call, "task-local", null, REQUEST.get());
        MDC.put("callId", "c" + call);
        REQUEST.set("t" + call);
        try {
            int sleep = ThreadLocalRandom.current().nextInt(3);
            String result = portal.call(() -> {
                expectOwn("in the portal task", call);
                return Async.sleep(Duration.ofMillis(sleep)).thenCompose(v -> {
                    expectOwn("after a sleep on the loop", call);
                    return ToThread.runSync(() -> {
                        expectOwn("on a worker", call);
                        MDC.put("callId", "w" + call);
                        REQUEST.set("w" + call);
                        String fromLoop = FromThread.run(() -> {
                            expect("back on the loop from the worker", call, "MDC callId", "w" + call,
                                    MDC.get("callId"));
                            expect("back on the loop from the worker", call, "task-local", "w" + call, REQUEST.get());
                            REQUEST.set("l" + call);
                            return Async.sleep(Duration.ofMillis(sleep)).thenApply(x -> REQUEST.get());
                        });
                        expect("on the worker after FromThread", call, "task-local", "w" + call, REQUEST.get());
                        expect("on the worker after FromThread", call, "loop value", "l" + call, fromLoop);
                        return "w" + call;
                    });
                }).thenApply(fromWorker -> {
                    expectOwn("in the portal task after the worker", call);
                    MDC.put("callId", "p" + call);
                    REQUEST.set("p" + call);
                    return fromWorker;
                });
            });
            expect("result", call, "value", "w" + call, result);
            expectOwn("on the caller after", call);
            return result;
        } finally {
            MDC.remove("callId");
            REQUEST.remove();
        }
    }

    @Test
    void tenThousandConcurrentCallsNeverSeeEachOthersContextAndLeaveNoneBehind() throws Exception {
        long started = System.nanoTime();
        ExecutorService callers = Executors.newFixedThreadPool(CALLERS, r -> {
            Thread t = new Thread(r, "isolation-caller");
            t.setDaemon(true);
            return t;
        });
        AtomicInteger maxConcurrent = new AtomicInteger();
        AtomicInteger inFlight = new AtomicInteger();
        List<Future<String>> results = new ArrayList<>();
        try {
            for (long i = 1; i <= CALLS; i++) {
                long call = i;
                results.add(callers.submit(() -> {
                    maxConcurrent.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                    try {
                        return oneCall(call);
                    } finally {
                        inFlight.decrementAndGet();
                    }
                }));
            }
            for (int i = 0; i < results.size(); i++) {
                assertThat(results.get(i).get(60, TimeUnit.SECONDS)).isEqualTo("w" + (i + 1));
            }
        } finally {
            callers.shutdownNow();
            assertThat(callers.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
        }
        long millis = (System.nanoTime() - started) / 1_000_000;
        assertThat(violations).as("context seen where it does not belong").isEmpty();

        Set<String> workerNames = nothingIsLeftOnTheWorkers();
        nothingIsLeftOnTheLoopThread();
        StressTest.report(CALLS + " isolated portal calls from " + CALLERS + " threads (max " + maxConcurrent.get()
                + " in flight) in " + millis + " ms, each crossing caller -> loop -> worker -> loop; "
                + workerNames.size() + " pooled workers and the loop thread checked clean afterwards");
    }

    /**
     * Occupies every live worker at once (a barrier) and checks that none carries a value. Each
     * round first waits until every worker is parked, so the round's calls wake them; a wake-up
     * racing with a dispatch may still start a fresh thread that takes one of the calls and leaves
     * an old worker out, which the next round then checks.
     */
    private Set<String> nothingIsLeftOnTheWorkers() throws Exception {
        List<Thread> served = liveWorkers();
        assertThat(served).as("workers that served the calls").isNotEmpty();
        Map<String, String> seen = new ConcurrentHashMap<>();
        List<Object> dirty = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int round = 0; round < 10 && !allCheckedOrGone(served, seen.keySet()); round++) {
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30))
                    .until(() -> liveWorkers().stream().allMatch(Workers::parkedIdle));
            int parties = liveWorkers().size();
            CyclicBarrier allBusy = new CyclicBarrier(parties);
            CapacityLimiter onePerWorker = new CapacityLimiter(parties);
            portal.call(() -> TaskGroup.open(tg -> {
                for (int i = 0; i < parties; i++) {
                    tg.startSoon(() -> ToThread.runSync(() -> {
                        allBusy.await(30, TimeUnit.SECONDS);
                        Map<String, String> mdc = MDC.getCopyOfContextMap();
                        if (mdc != null && !mdc.isEmpty()) {
                            dirty.add(Thread.currentThread().getName() + " MDC " + mdc);
                        }
                        if (REQUEST.get() != null) {
                            dirty.add(Thread.currentThread().getName() + " task-local " + REQUEST.get());
                        }
                        seen.put(Thread.currentThread().getName(), "checked");
                        return null;
                    }, onePerWorker));
                }
                return Async.sleep(Duration.ZERO);
            }));
        }
        assertThat(dirty).as("values left on pooled workers").isEmpty();
        // a worker that retired on its idle timeout meanwhile took its thread-locals with it
        assertThat(allCheckedOrGone(served, seen.keySet())).as("every worker that served the calls was checked: %s",
                seen.keySet()).isTrue();
        return seen.keySet();
    }

    private static boolean allCheckedOrGone(List<Thread> workers, Set<String> checked) {
        return workers.stream().allMatch(t -> checked.contains(t.getName()) || !t.isAlive());
    }

    private static List<Thread> liveWorkers() {
        List<Thread> workers = new ArrayList<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.isAlive() && t.getName().startsWith("isolation-loop-worker-")) {
                workers.add(t);
            }
        }
        return workers;
    }

    private void nothingIsLeftOnTheLoopThread() throws Exception {
        java.util.concurrent.CompletableFuture<String> outsideTasks = new java.util.concurrent.CompletableFuture<>();
        portal.eventLoop().execute(() -> outsideTasks.complete(MDC.get("callId") + "/" + REQUEST.get()));
        assertThat(outsideTasks.get(30, TimeUnit.SECONDS)).as("loop thread between tasks").isEqualTo("null/null");
        String inAFreshTask = portal.callSync(() -> MDC.get("callId") + "/" + REQUEST.get());
        assertThat(inAFreshTask).as("a fresh portal task from a clean caller").isEqualTo("null/null");
    }
}
