package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every public entry point of {@code dev.portal} given a null, a negative or zero size, a negative
 * duration, or called from the wrong thread fails at once with the documented exception, whose
 * message names the argument or the rule and the bad value; and the failure leaves the loop, its
 * default limiter and its workers usable.
 */
class BadInputTest {

    private static final String LOOP_NAME = "bad-input-loop";
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final AsyncCallable<Void> CHECKPOINT = Async::checkpoint;
    private static final Duration NEGATIVE = Duration.ofMillis(-1);

    private static BlockingPortal portal;
    private static EventLoop loop;

    @BeforeAll
    static void startPortalAndLoop() {
        portal = BlockingPortal.start(EventLoop.builder().name(LOOP_NAME));
        loop = portal.eventLoop();
    }

    @AfterAll
    static void closePortalAndLoop() {
        portal.close();
    }

    // ---------------------------------------------------------------------------------------------
    // The harness

    /** Where a case's call is made. */
    enum Where {
        /** A plain thread that runs no loop and is no worker. */
        TEST_THREAD,
        /** Async code in a task on the shared loop. */
        LOOP_TASK,
        /** A callback submitted with {@link EventLoop#execute}, outside any task. */
        LOOP_CALLBACK,
        /** A function run by {@link ToThread#runSync} on the shared loop. */
        WORKER
    }

    /** How the failure is delivered: thrown by the call itself, or as the failure of the stage it returns. */
    enum Delivery { THROWN, STAGE }

    @FunctionalInterface
    interface Call {
        /** Makes the bad call; a returned {@link CompletionStage} is awaited for its failure. */
        Object make() throws Throwable;
    }

    record Outcome(Throwable failure, Delivery delivery, String thread) {
    }

    record Case(String name, Where where, Call call, Class<? extends Throwable> type, Delivery delivery,
            List<String> messageParts) {

        @Override
        public String toString() {
            return name;
        }
    }

    /** {@code {thread}} in a message part stands for the name of the thread the call was made on. */
    private static Named<Case> bad(String name, Where where, Call call, Class<? extends Throwable> type,
            String... messageParts) {
        return Named.of(name, new Case(name, where, call, type, Delivery.THROWN, List.of(messageParts)));
    }

    private static Named<Case> badStage(String name, Where where, Call call, Class<? extends Throwable> type,
            String... messageParts) {
        return Named.of(name, new Case(name, where, call, type, Delivery.STAGE, List.of(messageParts)));
    }

    private static CompletionStage<Outcome> attempt(Call call) {
        String thread = Thread.currentThread().getName();
        Object result;
        try {
            result = call.make();
        } catch (Throwable t) {
            return CompletableFuture.completedFuture(new Outcome(t, Delivery.THROWN, thread));
        }
        if (result instanceof CompletionStage<?> stage) {
            return stage.handle((v, e) -> new Outcome(CancelScope.unwrap(e), Delivery.STAGE, thread));
        }
        return CompletableFuture.completedFuture(new Outcome(null, Delivery.THROWN, thread));
    }

    private static Outcome attemptHere(Call call) {
        return attempt(call).toCompletableFuture().getNow(
                new Outcome(new AssertionError("a call made off the loop returned a pending stage"), Delivery.THROWN,
                        Thread.currentThread().getName()));
    }

    /** Runs {@code fn} as a task named "bad-input" on the shared loop and waits for its result. */
    private static <T> T inTask(AsyncCallable<T> fn) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        loop.execute(() -> TaskGroup.open(tg -> tg.startSoon("bad-input", fn)).whenComplete((v, e) -> {
            if (e == null) {
                result.complete(v);
            } else {
                result.completeExceptionally(CancelScope.unwrap(e));
            }
        }));
        return result.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    }

    private static Outcome attemptIn(Where where, Call call) throws Exception {
        switch (where) {
            case TEST_THREAD:
                return attemptHere(call);
            case LOOP_TASK:
                return inTask(() -> attempt(call));
            case LOOP_CALLBACK: {
                CompletableFuture<Outcome> outcome = new CompletableFuture<>();
                loop.execute(() -> attempt(call).whenComplete((o, e) -> outcome.complete(o)));
                return outcome.get(WAIT.toSeconds(), TimeUnit.SECONDS);
            }
            case WORKER:
                return inTask(() -> ToThread.runSync(() -> attemptHere(call)));
            default:
                throw new AssertionError(where);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aBadCallFailsWithTheDocumentedExceptionAndLeavesTheLoopUsable(Case c) throws Exception {
        Outcome outcome = attemptIn(c.where(), c.call());

        assertThat(outcome.failure()).as("[%s] the failure", c).isNotNull().isExactlyInstanceOf(c.type());
        assertThat(outcome.delivery()).as("[%s] how the failure was delivered", c).isEqualTo(c.delivery());
        for (String part : c.messageParts()) {
            assertThat(outcome.failure().getMessage()).as("[%s] the message", c)
                    .contains(part.replace("{thread}", outcome.thread()));
        }
        theLoopItsDefaultLimiterAndItsWorkersAreStillUsable();
    }

    private static void theLoopItsDefaultLimiterAndItsWorkersAreStillUsable() throws Exception {
        String worker = inTask(() -> ToThread.runSync(() -> Thread.currentThread().getName()));
        assertThat(worker).startsWith(LOOP_NAME + "-worker-");
        String throughThePortal = portal.call(() -> ToThread.runSync(() -> "round trip"));
        assertThat(throughThePortal).isEqualTo("round trip");
        assertThat(portal.isRunning()).isTrue();
        await().pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(10)).atMost(WAIT).untilAsserted(() -> {
            CapacityLimiterStatistics limiter = loop.defaultThreadLimiter().statistics();
            assertThat(limiter.borrowedTokens()).as("borrowed tokens of the default limiter").isZero();
            assertThat(limiter.tasksWaiting()).isZero();
            assertThat(limiter.totalTokens()).isEqualTo(40);
        });
        EventLoopStatistics stats = loop.statistics();
        assertThat(stats.running()).isTrue();
        assertThat(stats.callbackFailures()).as("failures that escaped into the loop").isZero();
        assertThat(stats.workers().busy()).isZero();
    }

    // ---------------------------------------------------------------------------------------------
    // The cases

    static Stream<Named<Case>> cases() {
        List<Named<Case>> cases = new ArrayList<>();
        cases.addAll(eventLoopCases());
        cases.addAll(builderCases());
        cases.addAll(toThreadCases());
        cases.addAll(fromThreadCases());
        cases.addAll(asyncCases());
        cases.addAll(cancelScopeCases());
        cases.addAll(capacityLimiterCases());
        cases.addAll(eventCases());
        cases.addAll(taskGroupCases());
        cases.addAll(taskLocalCases());
        cases.addAll(portalCases());
        cases.addAll(portalProviderCases());
        cases.addAll(recordCases());
        return cases.stream();
    }

    private static final String OFF_LOOP = "must be called from async code on an event loop thread (current thread: "
            + "{thread})";

    static List<Named<Case>> eventLoopCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        return List.of(
                bad("EventLoop.run(null)", Where.TEST_THREAD, () -> EventLoop.run(null), npe, "main must not be null"),
                bad("EventLoop.run on a loop thread", Where.LOOP_TASK, () -> EventLoop.run(CHECKPOINT), ise,
                        "EventLoop.run cannot be called on an event loop thread", LOOP_NAME),
                bad("EventLoop.run on a loop callback", Where.LOOP_CALLBACK, () -> EventLoop.run(CHECKPOINT), ise,
                        "EventLoop.run cannot be called on an event loop thread", LOOP_NAME),
                bad("EventLoop.run(main returning null)", Where.TEST_THREAD, () -> EventLoop.run(() -> null), npe,
                        "returned null instead of a CompletionStage"),
                bad("EventLoop.execute(null)", Where.TEST_THREAD, () -> {
                    loop.execute(null);
                    return null;
                }, npe, "command must not be null"),
                bad("EventLoop.execute(null) on the loop", Where.LOOP_TASK, () -> {
                    loop.execute(null);
                    return null;
                }, npe, "command must not be null"),
                bad("EventLoop.execute on a stopped loop", Where.TEST_THREAD, () -> {
                    EventLoop stopped = EventLoop.builder().name("stopped-loop").start();
                    stopped.close();
                    stopped.execute(() -> { });
                    return null;
                }, RejectedExecutionException.class, "stopped-loop", "stopped"),
                bad("EventLoop.awaitTermination(null)", Where.TEST_THREAD, () -> loop.awaitTermination(null), npe,
                        "timeout must not be null"),
                bad("EventLoop.awaitTermination(negative)", Where.TEST_THREAD, () -> loop.awaitTermination(NEGATIVE),
                        iae, "timeout must be >= 0 (was PT-0.001S)"),
                bad("EventLoop.awaitTermination on the loop thread", Where.LOOP_CALLBACK,
                        () -> loop.awaitTermination(Duration.ofSeconds(1)), ise, "awaitTermination",
                        "loop's own thread (" + LOOP_NAME + ")"));
    }

    static List<Named<Case>> builderCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        List<Named<Case>> cases = new ArrayList<>(List.of(
                bad("Builder.name(null)", Where.TEST_THREAD, () -> EventLoop.builder().name(null), npe,
                        "name must not be null"),
                bad("Builder.name(\"\")", Where.TEST_THREAD, () -> EventLoop.builder().name(""), iae,
                        "name must not be blank (was \"\")"),
                bad("Builder.name(blank)", Where.TEST_THREAD, () -> EventLoop.builder().name("  "), iae,
                        "name must not be blank (was \"  \")"),
                bad("Builder.defaultThreadLimit(-1)", Where.TEST_THREAD, () -> EventLoop.builder().defaultThreadLimit(-1),
                        iae, "defaultThreadLimit must be >= 0 (was -1)"),
                bad("Builder.defaultThreadLimit(MIN_VALUE)", Where.TEST_THREAD,
                        () -> EventLoop.builder().defaultThreadLimit(Integer.MIN_VALUE), iae,
                        "defaultThreadLimit must be >= 0 (was " + Integer.MIN_VALUE + ")"),
                bad("Builder.workerIdleTimeout(null)", Where.TEST_THREAD, () -> EventLoop.builder().workerIdleTimeout(null),
                        npe, "workerIdleTimeout must not be null"),
                bad("Builder.workerIdleTimeout(negative)", Where.TEST_THREAD,
                        () -> EventLoop.builder().workerIdleTimeout(NEGATIVE), iae,
                        "workerIdleTimeout must be >= 0 (was PT-0.001S)"),
                bad("Builder.workerIdleTimeout(zero)", Where.TEST_THREAD,
                        () -> EventLoop.builder().workerIdleTimeout(Duration.ZERO), iae,
                        "workerIdleTimeout must be > 0 (was PT0S)"),
                bad("Builder.workerNamePrefix(null)", Where.TEST_THREAD, () -> EventLoop.builder().workerNamePrefix(null),
                        npe, "workerNamePrefix must not be null"),
                bad("Builder.blockedLoopThreshold(null)", Where.TEST_THREAD,
                        () -> EventLoop.builder().blockedLoopThreshold(null), npe, "blockedLoopThreshold must not be null"),
                bad("Builder.blockedLoopThreshold(negative)", Where.TEST_THREAD,
                        () -> EventLoop.builder().blockedLoopThreshold(NEGATIVE), iae,
                        "blockedLoopThreshold must be >= 0 (was PT-0.001S)"),
                bad("Builder.shutdownTimeout(null)", Where.TEST_THREAD, () -> EventLoop.builder().shutdownTimeout(null),
                        npe, "shutdownTimeout must not be null"),
                bad("Builder.shutdownTimeout(negative)", Where.TEST_THREAD,
                        () -> EventLoop.builder().shutdownTimeout(Duration.ofSeconds(-30)), iae,
                        "shutdownTimeout must be >= 0 (was PT-30S)"),
                bad("Builder.listener(null)", Where.TEST_THREAD, () -> EventLoop.builder().listener(null), npe,
                        "listener must not be null"),
                bad("Builder.run(null)", Where.TEST_THREAD, () -> EventLoop.builder().run(null), npe,
                        "main must not be null"),
                bad("Builder.run on a loop thread", Where.LOOP_TASK, () -> EventLoop.builder().run(CHECKPOINT),
                        IllegalStateException.class, "EventLoop.run cannot be called on an event loop thread")));
        if (Runtime.version().feature() < 21) {
            cases.add(bad("Builder.virtualWorkers(true) before JDK 21", Where.TEST_THREAD,
                    () -> EventLoop.builder().virtualWorkers(true), UnsupportedOperationException.class,
                    "virtualWorkers(true) needs a JDK 21 or newer", "running " + Runtime.version()));
        }
        return cases;
    }

    static List<Named<Case>> toThreadCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        java.util.concurrent.Callable<String> fn = () -> "value";
        return List.of(
                bad("ToThread.runSync(null)", Where.LOOP_TASK, () -> ToThread.runSync(null), npe,
                        "fn must not be null"),
                bad("ToThread.runSync(fn, (CancelMode) null)", Where.LOOP_TASK,
                        () -> ToThread.runSync(fn, (CancelMode) null), npe, "cancelMode must not be null"),
                bad("ToThread.runSync(fn, (CapacityLimiter) null)", Where.LOOP_TASK,
                        () -> ToThread.runSync(fn, (CapacityLimiter) null), npe, "limiter must not be null"),
                bad("ToThread.runSync(fn, (RunSyncOptions) null)", Where.LOOP_TASK,
                        () -> ToThread.runSync(fn, (RunSyncOptions) null), npe, "options must not be null"),
                bad("ToThread.runSync off the loop", Where.TEST_THREAD, () -> ToThread.runSync(fn), ise,
                        "ToThread.runSync " + OFF_LOOP, "BlockingPortal"),
                bad("ToThread.runSync on a worker", Where.WORKER, () -> ToThread.runSync(fn), ise,
                        "ToThread.runSync " + OFF_LOOP, "from a worker thread use FromThread.run"),
                bad("ToThread.currentDefaultThreadLimiter() off the loop", Where.TEST_THREAD,
                        ToThread::currentDefaultThreadLimiter, ise, "ToThread.currentDefaultThreadLimiter() " + OFF_LOOP),
                bad("ToThread.currentDefaultThreadLimiter() on a worker", Where.WORKER,
                        ToThread::currentDefaultThreadLimiter, ise, "ToThread.currentDefaultThreadLimiter() " + OFF_LOOP),
                bad("RunSyncOptions.withCancelMode(null)", Where.TEST_THREAD,
                        () -> RunSyncOptions.defaults().withCancelMode(null), npe, "cancelMode must not be null"),
                bad("RunSyncOptions.withLimiter(null)", Where.TEST_THREAD,
                        () -> RunSyncOptions.defaults().withLimiter(null), npe, "limiter must not be null"),
                bad("RunSyncOptions.withName(null)", Where.TEST_THREAD, () -> RunSyncOptions.defaults().withName(null),
                        npe, "name must not be null"));
    }

    static List<Named<Case>> fromThreadCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        String notAWorker = "can only be called from a worker thread running a ToThread.runSync function (current "
                + "thread: {thread})";
        return List.of(
                bad("FromThread.run(null)", Where.WORKER, () -> FromThread.run(null), npe, "fn must not be null"),
                bad("FromThread.runSync(null)", Where.WORKER,
                        () -> FromThread.runSync((java.util.concurrent.Callable<Object>) null), npe, "fn must not be null"),
                bad("FromThread.run off a worker", Where.TEST_THREAD, () -> FromThread.run(CHECKPOINT), ise,
                        "FromThread.run " + notAWorker, "BlockingPortal"),
                bad("FromThread.run on the loop", Where.LOOP_TASK, () -> FromThread.run(CHECKPOINT), ise,
                        "FromThread.run " + notAWorker, "Async.checkpoint()"),
                bad("FromThread.runSync off a worker", Where.TEST_THREAD, () -> FromThread.runSync(() -> "x"), ise,
                        "FromThread.runSync " + notAWorker, "BlockingPortal"),
                bad("FromThread.runSync on the loop", Where.LOOP_TASK, () -> FromThread.runSync(() -> "x"), ise,
                        "FromThread.runSync " + notAWorker),
                bad("FromThread.checkCancelled() off a worker", Where.TEST_THREAD, () -> {
                    FromThread.checkCancelled();
                    return null;
                }, ise, "FromThread.checkCancelled() " + notAWorker, "BlockingPortal"),
                bad("FromThread.checkCancelled() on the loop", Where.LOOP_TASK, () -> {
                    FromThread.checkCancelled();
                    return null;
                }, ise, "FromThread.checkCancelled() " + notAWorker, "Async.checkpoint()"),
                bad("FromThread.run(async code returning null)", Where.WORKER, () -> FromThread.run(() -> null), npe,
                        "returned null instead of a CompletionStage"));
    }

    static List<Named<Case>> asyncCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        return List.of(
                bad("Async.sleep(null)", Where.LOOP_TASK, () -> Async.sleep(null), npe, "delay must not be null"),
                bad("Async.sleep(negative)", Where.LOOP_TASK, () -> Async.sleep(NEGATIVE), iae,
                        "delay must be >= 0 (was PT-0.001S)"),
                bad("Async.sleep off the loop", Where.TEST_THREAD, () -> Async.sleep(Duration.ofMillis(1)), ise,
                        "Async.sleep " + OFF_LOOP),
                bad("Async.sleep on a worker", Where.WORKER, () -> Async.sleep(Duration.ofMillis(1)), ise,
                        "Async.sleep " + OFF_LOOP, "FromThread.run"),
                bad("Async.checkpoint() off the loop", Where.TEST_THREAD, Async::checkpoint, ise,
                        "Async.checkpoint() " + OFF_LOOP),
                bad("Async.await(null)", Where.LOOP_TASK, () -> Async.await(null), npe, "stage must not be null"),
                bad("Async.await off the loop", Where.TEST_THREAD,
                        () -> Async.await(CompletableFuture.completedFuture("x")), ise, "Async.await " + OFF_LOOP),
                bad("Async.currentTask() off the loop", Where.TEST_THREAD, Async::currentTask, ise,
                        "Async.currentTask() " + OFF_LOOP),
                bad("Async.currentTask() outside a task", Where.LOOP_CALLBACK, Async::currentTask, ise,
                        "Async.currentTask()", "outside any task"));
    }

    static List<Named<Case>> cancelScopeCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        Duration second = Duration.ofSeconds(1);
        return List.of(
                bad("CancelScope.withTimeout(null)", Where.TEST_THREAD, () -> CancelScope.withTimeout(null), npe,
                        "timeout must not be null"),
                bad("CancelScope.withTimeout(negative)", Where.TEST_THREAD, () -> CancelScope.withTimeout(NEGATIVE), iae,
                        "timeout must be >= 0 (was PT-0.001S)"),
                bad("CancelScope.moveOnAfter(null, body)", Where.LOOP_TASK, () -> CancelScope.moveOnAfter(null, CHECKPOINT),
                        npe, "timeout must not be null"),
                bad("CancelScope.moveOnAfter(negative, body)", Where.LOOP_TASK,
                        () -> CancelScope.moveOnAfter(NEGATIVE, CHECKPOINT), iae, "timeout must be >= 0 (was PT-0.001S)"),
                bad("CancelScope.moveOnAfter(timeout, null)", Where.LOOP_TASK, () -> CancelScope.moveOnAfter(second, null),
                        npe, "body must not be null"),
                bad("CancelScope.moveOnAfter off the loop", Where.TEST_THREAD,
                        () -> CancelScope.moveOnAfter(second, CHECKPOINT), ise, "CancelScope.moveOnAfter " + OFF_LOOP),
                bad("CancelScope.failAfter(null, body)", Where.LOOP_TASK, () -> CancelScope.failAfter(null, CHECKPOINT),
                        npe, "timeout must not be null"),
                bad("CancelScope.failAfter(negative, body)", Where.LOOP_TASK,
                        () -> CancelScope.failAfter(Duration.ofSeconds(-2), CHECKPOINT), iae,
                        "timeout must be >= 0 (was PT-2S)"),
                bad("CancelScope.failAfter(timeout, null)", Where.LOOP_TASK, () -> CancelScope.failAfter(second, null),
                        npe, "body must not be null"),
                bad("CancelScope.failAfter off the loop", Where.TEST_THREAD,
                        () -> CancelScope.failAfter(second, CHECKPOINT), ise, "CancelScope.failAfter " + OFF_LOOP),
                bad("CancelScope.shielded(null)", Where.LOOP_TASK, () -> CancelScope.shielded(null), npe,
                        "body must not be null"),
                bad("CancelScope.shielded off the loop", Where.TEST_THREAD, () -> CancelScope.shielded(CHECKPOINT), ise,
                        "CancelScope.shielded " + OFF_LOOP),
                bad("CancelScope.current() off the loop", Where.TEST_THREAD, CancelScope::current, ise,
                        "CancelScope.current() " + OFF_LOOP),
                bad("CancelScope.run(null)", Where.LOOP_TASK, () -> CancelScope.create().run(null), npe,
                        "body must not be null"),
                bad("CancelScope.run off the loop", Where.TEST_THREAD, () -> CancelScope.create().run(CHECKPOINT), ise,
                        "CancelScope.run " + OFF_LOOP),
                bad("CancelScope.run a second time", Where.LOOP_TASK, () -> {
                    CancelScope scope = CancelScope.create();
                    scope.run(() -> CompletableFuture.completedFuture(null));
                    return scope.run(CHECKPOINT);
                }, ise, "already been entered"),
                badStage("CancelScope.run(body returning null)", Where.LOOP_TASK, () -> CancelScope.create().run(() -> null),
                        npe, "returned null instead of a CompletionStage"),
                badStage("CancelScope.setShield from a worker after entry", Where.LOOP_TASK, () -> {
                    CancelScope scope = CancelScope.create();
                    return scope.run(() -> ToThread.runSync(() -> {
                        scope.setShield(true);
                        return null;
                    }));
                }, ise, "CancelScope.setShield must be called on the thread of event loop " + LOOP_NAME,
                        "current thread: " + LOOP_NAME + "-worker-"),
                badStage("CancelScope.setDeadline from a worker after entry", Where.LOOP_TASK, () -> {
                    CancelScope scope = CancelScope.create();
                    return scope.run(() -> ToThread.runSync(() -> {
                        scope.setDeadline(System.nanoTime());
                        return null;
                    }));
                }, ise, "CancelScope.setDeadline must be called on the thread of event loop " + LOOP_NAME,
                        "current thread: " + LOOP_NAME + "-worker-"));
    }

    static List<Named<Case>> capacityLimiterCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        return List.of(
                bad("new CapacityLimiter(-1)", Where.TEST_THREAD, () -> new CapacityLimiter(-1), iae,
                        "totalTokens must be >= 0 (was -1)"),
                bad("CapacityLimiter.setTotalTokens(-5)", Where.TEST_THREAD, () -> {
                    new CapacityLimiter(1).setTotalTokens(-5);
                    return null;
                }, iae, "totalTokens must be >= 0 (was -5)"),
                bad("default limiter setTotalTokens(-1)", Where.LOOP_TASK, () -> {
                    ToThread.currentDefaultThreadLimiter().setTotalTokens(-1);
                    return null;
                }, iae, "totalTokens must be >= 0 (was -1)"),
                bad("CapacityLimiter.acquire() off the loop", Where.TEST_THREAD, () -> new CapacityLimiter(1).acquire(), ise,
                        "CapacityLimiter.acquire() " + OFF_LOOP),
                bad("CapacityLimiter.acquire() outside a task", Where.LOOP_CALLBACK, () -> new CapacityLimiter(1).acquire(),
                        ise, "CapacityLimiter.acquire() borrows for the current task", "OnBehalfOf"),
                bad("CapacityLimiter.acquireNowait() off the loop", Where.TEST_THREAD, () -> {
                    new CapacityLimiter(1).acquireNowait();
                    return null;
                }, ise, "CapacityLimiter.acquireNowait() " + OFF_LOOP),
                bad("CapacityLimiter.acquireNowait() outside a task", Where.LOOP_CALLBACK, () -> {
                    new CapacityLimiter(1).acquireNowait();
                    return null;
                }, ise, "CapacityLimiter.acquireNowait() borrows for the current task"),
                bad("CapacityLimiter.release() off the loop", Where.TEST_THREAD, () -> {
                    new CapacityLimiter(1).release();
                    return null;
                }, ise, "CapacityLimiter.release() " + OFF_LOOP),
                bad("CapacityLimiter.release() outside a task", Where.LOOP_CALLBACK, () -> {
                    new CapacityLimiter(1).release();
                    return null;
                }, ise, "CapacityLimiter.release() borrows for the current task"),
                bad("CapacityLimiter.release() without a token", Where.LOOP_TASK, () -> {
                    new CapacityLimiter(1).release();
                    return null;
                }, ise, "borrower Task[bad-input] isn't holding any of this CapacityLimiter's tokens"),
                bad("CapacityLimiter.acquireOnBehalfOf(null)", Where.LOOP_TASK,
                        () -> new CapacityLimiter(1).acquireOnBehalfOf(null), npe, "borrower must not be null"),
                bad("CapacityLimiter.acquireOnBehalfOf off the loop", Where.TEST_THREAD,
                        () -> new CapacityLimiter(1).acquireOnBehalfOf("b"), ise,
                        "CapacityLimiter.acquireOnBehalfOf " + OFF_LOOP),
                bad("CapacityLimiter.acquireOnBehalfOf twice on a full limiter", Where.LOOP_TASK, () -> {
                    CapacityLimiter limiter = new CapacityLimiter(1);
                    limiter.acquireOnBehalfOf("b");
                    return limiter.acquireOnBehalfOf("b");
                }, ise, "borrower b already holds one of this CapacityLimiter's tokens"),
                bad("CapacityLimiter.acquireOnBehalfOf for a borrower already queued", Where.LOOP_TASK, () -> {
                    CapacityLimiter limiter = new CapacityLimiter(1);
                    limiter.acquireOnBehalfOfNowait("holder");
                    limiter.acquireOnBehalfOf("b");
                    return limiter.acquireOnBehalfOf("b");
                }, ise, "borrower b is already waiting for one of this CapacityLimiter's tokens; a borrower holds at "
                        + "most one"),
                bad("CapacityLimiter.acquireOnBehalfOfNowait(null)", Where.TEST_THREAD, () -> {
                    new CapacityLimiter(1).acquireOnBehalfOfNowait(null);
                    return null;
                }, npe, "borrower must not be null"),
                bad("CapacityLimiter.acquireOnBehalfOfNowait twice", Where.TEST_THREAD, () -> {
                    CapacityLimiter limiter = new CapacityLimiter(1);
                    limiter.acquireOnBehalfOfNowait("b");
                    limiter.acquireOnBehalfOfNowait("b");
                    return null;
                }, ise, "borrower b already holds one of this CapacityLimiter's tokens"),
                bad("CapacityLimiter.acquireOnBehalfOfNowait on a full limiter", Where.TEST_THREAD, () -> {
                    CapacityLimiter limiter = new CapacityLimiter(1);
                    limiter.acquireOnBehalfOfNowait("a");
                    limiter.acquireOnBehalfOfNowait("b");
                    return null;
                }, WouldBlockException.class, "no token free in CapacityLimiter[1/1 borrowed, 0 waiting]"),
                bad("CapacityLimiter.acquireOnBehalfOfNowait on a paused limiter", Where.TEST_THREAD, () -> {
                    new CapacityLimiter(0).acquireOnBehalfOfNowait("b");
                    return null;
                }, WouldBlockException.class, "no token free in CapacityLimiter[0/0 borrowed, 0 waiting]"),
                bad("CapacityLimiter.releaseOnBehalfOf(null)", Where.TEST_THREAD, () -> {
                    new CapacityLimiter(1).releaseOnBehalfOf(null);
                    return null;
                }, npe, "borrower must not be null"),
                bad("CapacityLimiter.releaseOnBehalfOf without a token", Where.TEST_THREAD, () -> {
                    new CapacityLimiter(1).releaseOnBehalfOf("ghost");
                    return null;
                }, ise, "borrower ghost isn't holding any of this CapacityLimiter's tokens"),
                bad("default limiter releaseOnBehalfOf without a token", Where.TEST_THREAD, () -> {
                    loop.defaultThreadLimiter().releaseOnBehalfOf("ghost");
                    return null;
                }, ise, "borrower ghost isn't holding any of this CapacityLimiter's tokens"));
    }

    static List<Named<Case>> eventCases() {
        Class<IllegalStateException> ise = IllegalStateException.class;
        return List.of(
                bad("Event.set() off the loop", Where.TEST_THREAD, () -> {
                    new Event().set();
                    return null;
                }, ise, "Event.set() must be called on an event loop thread (current thread: {thread})",
                        "FromThread.runSync"),
                bad("Event.set() on a worker", Where.WORKER, () -> {
                    new Event().set();
                    return null;
                }, ise, "Event.set() must be called on an event loop thread (current thread: {thread})",
                        "FromThread.runSync"),
                bad("Event.await() off the loop", Where.TEST_THREAD, () -> new Event().await(), ise,
                        "Event.await() must be called on an event loop thread (current thread: {thread})"),
                bad("Event.await() on a worker", Where.WORKER, () -> new Event().await(), ise,
                        "Event.await() must be called on an event loop thread (current thread: {thread})"),
                bad("Event.set() on another loop than its own", Where.WORKER, () -> {
                    Event event = new Event();
                    AtomicReference<String> home = new AtomicReference<>();
                    EventLoop.builder().name("event-home-loop").run(() -> {
                        home.set(EventLoop.current().name());
                        event.set();
                        return Async.checkpoint();
                    });
                    return FromThread.runSync(() -> {
                        event.set();
                        return null;
                    });
                }, ise, "Event.set() was called on event loop " + LOOP_NAME,
                        "belongs to event loop event-home-loop"));
    }

    static List<Named<Case>> taskGroupCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        return List.of(
                bad("TaskGroup.open(null)", Where.LOOP_TASK, () -> TaskGroup.open(null), npe, "body must not be null"),
                bad("TaskGroup.open off the loop", Where.TEST_THREAD, () -> TaskGroup.open(tg -> Async.checkpoint()), ise,
                        "TaskGroup.open " + OFF_LOOP),
                badStage("TaskGroup.open(body returning null)", Where.LOOP_TASK, () -> TaskGroup.open(tg -> null), npe,
                        "returned null instead of a CompletionStage"),
                bad("TaskGroup.startSoon(null)", Where.LOOP_TASK, () -> inGroupBody(tg -> tg.startSoon(null)), npe,
                        "fn must not be null"),
                bad("TaskGroup.startSoon(name, null)", Where.LOOP_TASK,
                        () -> inGroupBody(tg -> tg.startSoon("named", null)), npe, "fn must not be null"),
                bad("TaskGroup.startSoon after the group finished", Where.LOOP_TASK, () -> {
                    AtomicReference<TaskGroup> group = new AtomicReference<>();
                    TaskGroup.open(tg -> {
                        group.set(tg);
                        return CompletableFuture.completedFuture(null);
                    });
                    return group.get().startSoon(CHECKPOINT);
                }, ise, "this task group has finished"),
                badStage("TaskGroup.startSoon from a worker", Where.LOOP_TASK,
                        () -> TaskGroup.open(tg -> ToThread.runSync(() -> tg.startSoon(CHECKPOINT))), ise,
                        "TaskGroup.startSoon must be called on the thread of event loop " + LOOP_NAME,
                        "current thread: " + LOOP_NAME + "-worker-"));
    }

    /** Makes {@code call} in a task group's body and throws what it threw, as the call itself would. */
    private static Object inGroupBody(java.util.function.Function<TaskGroup, Object> call) throws Throwable {
        Throwable[] thrown = new Throwable[1];
        TaskGroup.open(tg -> {
            try {
                call.apply(tg);
            } catch (Throwable t) {
                thrown[0] = t;
            }
            return CompletableFuture.completedFuture(null);
        });
        if (thrown[0] != null) {
            throw thrown[0];
        }
        return null;
    }

    static List<Named<Case>> taskLocalCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        TaskLocal<String> local = TaskLocal.named("bad-input-local");
        return List.of(
                bad("TaskLocal.named(null)", Where.TEST_THREAD, () -> TaskLocal.named(null), npe, "name must not be null"),
                bad("TaskLocal.named(\"\")", Where.TEST_THREAD, () -> TaskLocal.named(""), iae,
                        "name must not be blank (was \"\")"),
                bad("TaskLocal.withInitial(null, initial)", Where.TEST_THREAD, () -> TaskLocal.withInitial(null, () -> 1),
                        npe, "name must not be null"),
                bad("TaskLocal.withInitial(name, null)", Where.TEST_THREAD, () -> TaskLocal.withInitial("n", null), npe,
                        "initial must not be null"),
                bad("TaskLocal.set outside a task", Where.LOOP_CALLBACK, () -> {
                    local.set("x");
                    return null;
                }, ise, "TaskLocal values can be set only inside a task"),
                bad("TaskLocal.remove outside a task", Where.LOOP_CALLBACK, () -> {
                    local.remove();
                    return null;
                }, ise, "TaskLocal values can be set only inside a task"));
    }

    /** Throws {@code failure} if there is one, as the call that produced it would have. */
    private static Object rethrow(@org.jspecify.annotations.Nullable Throwable failure) throws Throwable {
        if (failure != null) {
            throw failure;
        }
        return null;
    }

    private static BlockingPortal stoppedPortal() {
        BlockingPortal stopped = BlockingPortal.start(EventLoop.builder().name("stopped-portal-loop"));
        stopped.close();
        return stopped;
    }

    private static final AsyncResource<String> RESOURCE = new AsyncResource<>() {
        @Override
        public CompletionStage<String> enter() {
            return CompletableFuture.completedFuture("resource");
        }

        @Override
        public CompletionStage<Boolean> exit(Throwable error) {
            return CompletableFuture.completedFuture(false);
        }
    };

    static List<Named<Case>> portalCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        Class<IllegalStateException> ise = IllegalStateException.class;
        String onLoop = "cannot be called from the event loop thread (" + LOOP_NAME + ")";
        String notRunning = "This portal is not running";
        return List.of(
                bad("BlockingPortal.start(null)", Where.TEST_THREAD, () -> BlockingPortal.start(null), npe,
                        "loopSettings must not be null"),
                bad("BlockingPortal.open(null)", Where.LOOP_TASK, () -> BlockingPortal.open(null), npe,
                        "body must not be null"),
                bad("BlockingPortal.open off the loop", Where.TEST_THREAD,
                        () -> BlockingPortal.open(p -> CompletableFuture.completedFuture(null)), ise,
                        "BlockingPortal.open " + OFF_LOOP),
                bad("BlockingPortal.call(null)", Where.TEST_THREAD, () -> portal.call(null), npe, "fn must not be null"),
                bad("BlockingPortal.callSync((Callable) null)", Where.TEST_THREAD,
                        () -> portal.callSync((java.util.concurrent.Callable<Object>) null), npe, "fn must not be null"),
                bad("BlockingPortal.callSync((Runnable) null)", Where.TEST_THREAD, () -> {
                    portal.callSync((Runnable) null);
                    return null;
                }, npe, "action must not be null"),
                bad("BlockingPortal.startTaskSoon(null)", Where.TEST_THREAD, () -> portal.startTaskSoon(null), npe,
                        "fn must not be null"),
                bad("BlockingPortal.startTaskSoon(name, null)", Where.TEST_THREAD,
                        () -> portal.startTaskSoon("named", null), npe, "fn must not be null"),
                bad("BlockingPortal.startTask(null)", Where.TEST_THREAD, () -> portal.startTask(null), npe,
                        "fn must not be null"),
                bad("BlockingPortal.wrapAsyncResource(null)", Where.TEST_THREAD, () -> portal.wrapAsyncResource(null),
                        npe, "resource must not be null"),
                bad("BlockingPortal.withAsyncResource(resource, null)", Where.TEST_THREAD,
                        () -> portal.withAsyncResource(RESOURCE, null), npe, "body must not be null"),
                bad("BlockingPortal.withAsyncResource(null, body)", Where.TEST_THREAD,
                        () -> portal.withAsyncResource(null, r -> r), npe, "resource must not be null"),
                bad("BlockingPortal.call on the loop thread", Where.LOOP_TASK, () -> portal.call(CHECKPOINT), ise,
                        "BlockingPortal.call " + onLoop, "deadlock"),
                bad("BlockingPortal.callSync on the loop thread", Where.LOOP_CALLBACK, () -> portal.callSync(() -> "x"),
                        ise, "BlockingPortal.callSync " + onLoop),
                bad("BlockingPortal.startTaskSoon on the loop thread", Where.LOOP_TASK,
                        () -> portal.startTaskSoon(CHECKPOINT), ise, "BlockingPortal.startTaskSoon " + onLoop),
                bad("BlockingPortal.startTask on the loop thread", Where.LOOP_TASK,
                        () -> portal.startTask(status -> CHECKPOINT.call()), ise, "BlockingPortal.startTask " + onLoop),
                bad("BlockingPortal.wrapAsyncResource on the loop thread", Where.LOOP_TASK,
                        () -> portal.wrapAsyncResource(RESOURCE), ise, "BlockingPortal.wrapAsyncResource " + onLoop),
                bad("BlockingPortal.close() on the loop thread", Where.LOOP_TASK, () -> {
                    portal.close();
                    return null;
                }, ise, "BlockingPortal.close() cannot be called from the event loop thread", "stop(false)"),
                bad("BlockingPortal.sleepUntilStopped() off the loop", Where.TEST_THREAD, portal::sleepUntilStopped, ise,
                        "BlockingPortal.sleepUntilStopped must be called on the thread of event loop " + LOOP_NAME,
                        "current thread: {thread}"),
                bad("BlockingPortal.call on a stopped portal", Where.TEST_THREAD, () -> stoppedPortal().call(CHECKPOINT),
                        ise, notRunning, "BlockingPortal.call"),
                bad("BlockingPortal.callSync on a stopped portal", Where.TEST_THREAD,
                        () -> stoppedPortal().callSync(() -> "x"), ise, notRunning, "BlockingPortal.callSync"),
                bad("BlockingPortal.startTaskSoon on a stopped portal", Where.TEST_THREAD,
                        () -> stoppedPortal().startTaskSoon(CHECKPOINT), ise, notRunning, "BlockingPortal.startTaskSoon"),
                bad("BlockingPortal.startTask on a stopped portal", Where.TEST_THREAD,
                        () -> stoppedPortal().startTask(status -> CHECKPOINT.call()), ise, notRunning,
                        "BlockingPortal.startTask"),
                bad("BlockingPortal.wrapAsyncResource on a stopped portal", Where.TEST_THREAD,
                        () -> stoppedPortal().wrapAsyncResource(RESOURCE), ise, notRunning,
                        "BlockingPortal.wrapAsyncResource"),
                bad("BlockingPortal.startTask whose task never calls started()", Where.TEST_THREAD,
                        () -> portal.startTask(status -> CompletableFuture.completedFuture("done")), ise,
                        "the task returned without calling TaskStatus.started()"),
                bad("TaskStatus.started() twice", Where.TEST_THREAD, () -> rethrow(portal.<String, Throwable>startTask(
                        status -> {
                            status.started("first");
                            return CompletableFuture.completedFuture(
                                    org.assertj.core.api.Assertions.catchThrowable(() -> status.started("second")));
                        }).future().get(WAIT.toSeconds(), TimeUnit.SECONDS)), ise,
                        "TaskStatus.started() was already called for this task"),
                bad("PortalResource.exit on the loop thread", Where.WORKER, () -> {
                    PortalResource<String> resource = portal.wrapAsyncResource(RESOURCE);
                    try {
                        return FromThread.runSync(() -> resource.exit(null));
                    } finally {
                        resource.close();
                    }
                }, ise, "PortalResource.exit cannot be called from the event loop thread"));
    }

    static List<Named<Case>> portalProviderCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        return List.of(
                bad("new BlockingPortalProvider((Builder) null)", Where.TEST_THREAD,
                        () -> new BlockingPortalProvider((EventLoop.Builder) null), npe, "loopSettings must not be null"),
                bad("new BlockingPortalProvider((Supplier) null)", Where.TEST_THREAD,
                        () -> new BlockingPortalProvider((java.util.function.Supplier<BlockingPortal>) null), npe,
                        "factory must not be null"),
                bad("BlockingPortalProvider.lease() with a factory returning null", Where.TEST_THREAD,
                        () -> new BlockingPortalProvider(() -> null).lease(), npe, "the portal factory returned null"),
                bad("PortalLease.close() twice", Where.TEST_THREAD, () -> {
                    BlockingPortalProvider provider = new BlockingPortalProvider(
                            EventLoop.builder().name("leased-portal-loop"));
                    BlockingPortalProvider.PortalLease lease = provider.lease();
                    lease.close();
                    lease.close();
                    return null;
                }, IllegalStateException.class, "this PortalLease was already released"));
    }

    static List<Named<Case>> recordCases() {
        Class<NullPointerException> npe = NullPointerException.class;
        return List.of(
                bad("BlockedLoopEvent(null stackTrace)", Where.TEST_THREAD,
                        () -> new BlockedLoopEvent("l", "t", Duration.ZERO, Duration.ZERO, null), npe, "stackTrace"),
                bad("CapacityLimiterStatistics(null borrowers)", Where.TEST_THREAD,
                        () -> new CapacityLimiterStatistics(null, 1, 0, 1, 0, null, 0, 0, Duration.ZERO), npe, "borrowers"));
    }

    // ---------------------------------------------------------------------------------------------
    // What a failed call leaves behind

    @Test
    void aRejectedTotalLeavesTheOldTotal() {
        CapacityLimiter limiter = new CapacityLimiter(3);

        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> limiter.setTotalTokens(-1));

        assertThat(thrown).isExactlyInstanceOf(IllegalArgumentException.class);
        assertThat(limiter.totalTokens()).isEqualTo(3);
    }

    @Test
    void aSecondAcquireByTheSameBorrowerLeavesNoWaiterAndKeepsTheFirstToken() throws Exception {
        CapacityLimiter limiter = new CapacityLimiter(1);

        Throwable thrown = inTask(() -> {
            limiter.acquireOnBehalfOf("b");
            return CompletableFuture.completedFuture(
                    org.assertj.core.api.Assertions.catchThrowable(() -> limiter.acquireOnBehalfOf("b")));
        });

        assertThat(thrown).isExactlyInstanceOf(IllegalStateException.class);
        CapacityLimiterStatistics stats = limiter.statistics();
        assertThat(stats.borrowers()).containsExactly("b");
        assertThat(stats.tasksWaiting()).isZero();
        limiter.releaseOnBehalfOf("b");
        assertThat(limiter.borrowedTokens()).isZero();
    }

    @Test
    void aRejectedBuilderSettingDoesNotChangeTheOthers() throws Exception {
        EventLoop.Builder builder = EventLoop.builder().name("kept-name").defaultThreadLimit(7);

        org.assertj.core.api.Assertions.catchThrowable(() -> builder.defaultThreadLimit(-1));
        org.assertj.core.api.Assertions.catchThrowable(() -> builder.name(" "));
        Integer[] seen = builder.run(() -> CompletableFuture.completedFuture(new Integer[] {
                ToThread.currentDefaultThreadLimiter().totalTokens(),
                EventLoop.current().name().equals("kept-name") ? 1 : 0}));

        assertThat(seen).containsExactly(7, 1);
    }
}
