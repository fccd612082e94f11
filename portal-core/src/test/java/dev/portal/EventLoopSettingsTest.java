package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ContextSnapshotFactory;
import io.micrometer.context.integration.Slf4jThreadLocalAccessor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.MDC;

/**
 * The settings an application gives a loop it owns: its default limiter (named, shared, resizable),
 * the default cancel mode, the context registry, and the spin times, each validated with a message
 * that names the setting, the value and the allowed range.
 */
class EventLoopSettingsTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    // ---- the default limiter -------------------------------------------------------------------

    @Test
    void aLoopBuiltWithALimiterUsesThatLimiterAsItsDefault() throws Exception {
        CapacityLimiter jdbc = new CapacityLimiter("jdbc", 3);
        try (EventLoop loop = EventLoop.builder().name("limiter-loop").defaultThreadLimiter(jdbc).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            assertThat(loop.defaultThreadLimiter()).isSameAs(jdbc);
            assertThat(portal.callSync(ToThread::currentDefaultThreadLimiter)).isSameAs(jdbc);
            assertThat(loop.statistics().defaultLimiter().name()).isEqualTo("jdbc");
            assertThat(portal.call(() -> ToThread.runSync(() -> jdbc.statistics().borrowedTokens()))).isEqualTo(1);
        }
    }

    @Test
    void aLimiterSharedByTwoLoopsBoundsTheirCallsTogetherAndResizesLive() throws Exception {
        CapacityLimiter shared = new CapacityLimiter("shared", 1);
        try (EventLoop a = EventLoop.builder().name("shared-a").defaultThreadLimiter(shared).start();
                EventLoop b = EventLoop.builder().name("shared-b").defaultThreadLimiter(shared).start();
                BlockingPortal pa = BlockingPortal.openOn(a);
                BlockingPortal pb = BlockingPortal.openOn(b)) {
            AtomicInteger inside = new AtomicInteger();
            AtomicInteger most = new AtomicInteger();
            CountDownLatch release = new CountDownLatch(1);
            java.util.concurrent.Callable<Integer> blocking = () -> {
                most.accumulateAndGet(inside.incrementAndGet(), Math::max);
                try {
                    release.await(10, TimeUnit.SECONDS);
                    return 1;
                } finally {
                    inside.decrementAndGet();
                }
            };
            List<CompletableFuture<Integer>> calls = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                calls.add(pa.startTaskSoon(() -> ToThread.runSync(blocking)));
                calls.add(pb.startTaskSoon(() -> ToThread.runSync(blocking)));
            }
            await().atMost(WAIT).until(() -> shared.statistics().tasksWaiting() == 5);
            assertThat(inside.get()).isEqualTo(1);

            shared.setTotalTokens(6); // live: the five queued calls start
            await().atMost(WAIT).until(() -> inside.get() == 6);
            release.countDown();
            for (CompletableFuture<Integer> call : calls) {
                assertThat(call.get(10, TimeUnit.SECONDS)).isEqualTo(1);
            }
            assertThat(most.get()).isEqualTo(6);
            assertThat(shared.statistics().borrowedTokens()).isZero();
        }
    }

    @Test
    void aLimiterOfZeroTokensPausesCallsUntilItIsRaised() throws Exception {
        CapacityLimiter paused = new CapacityLimiter("paused", 0);
        try (EventLoop loop = EventLoop.builder().defaultThreadLimiter(paused).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            CompletableFuture<String> call = portal.startTaskSoon(() -> ToThread.runSync(() -> "ran"));
            await().atMost(WAIT).until(() -> paused.statistics().tasksWaiting() == 1);
            assertThat(call).isNotDone();
            paused.setTotalTokens(1);
            assertThat(call.get(10, TimeUnit.SECONDS)).isEqualTo("ran");
        }
    }

    @Test
    void namedLimitersShowTheirNameAndBadNamesOrTotalsAreRefused() {
        CapacityLimiter named = new CapacityLimiter("reports", 4);
        assertThat(named.name()).isEqualTo("reports");
        assertThat(named).hasToString("CapacityLimiter[reports, 0/4 borrowed, 0 waiting]");
        assertThat(named.statistics().name()).isEqualTo("reports");
        assertThat(new CapacityLimiter(4).name()).isNull();
        assertThat(new CapacityLimiter(4).statistics().name()).isNull();

        assertThatThrownBy(() -> new CapacityLimiter(" ", 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("name must not be blank (was \" \")");
        assertThatThrownBy(() -> new CapacityLimiter(null, 1)).isInstanceOf(NullPointerException.class)
                .hasMessage("name must not be null");
        assertThatThrownBy(() -> new CapacityLimiter("jdbc", -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("totalTokens must be >= 0 (was -1)");
        assertThatThrownBy(() -> EventLoop.builder().defaultThreadLimiter(null))
                .isInstanceOf(NullPointerException.class).hasMessage("defaultThreadLimiter must not be null");
    }

    @Test
    void theLastOfDefaultThreadLimitAndDefaultThreadLimiterWins() {
        CapacityLimiter given = new CapacityLimiter("given", 2);
        try (EventLoop loop = EventLoop.builder().defaultThreadLimiter(given).defaultThreadLimit(5).start()) {
            assertThat(loop.defaultThreadLimiter()).isNotSameAs(given);
            assertThat(loop.defaultThreadLimiter().totalTokens()).isEqualTo(5);
        }
        try (EventLoop loop = EventLoop.builder().defaultThreadLimit(5).defaultThreadLimiter(given).start()) {
            assertThat(loop.defaultThreadLimiter()).isSameAs(given);
        }
    }

    // ---- the default cancel mode ---------------------------------------------------------------

    @Test
    void callsWithoutAModeTakeTheLoopsDefaultAndAGivenModeOverridesIt() throws Exception {
        try (EventLoop loop = EventLoop.builder().defaultCancelMode(CancelMode.INTERRUPT).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            assertThat(loop.defaultCancelMode()).isEqualTo(CancelMode.INTERRUPT);
            for (int i = 0; i < 20; i++) {
                // default mode: the cancelled caller leaves at once and the sleeping worker is interrupted
                CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
                CountDownLatch sleeping = new CountDownLatch(1);
                Boolean cancelledCaught = portal.call(() -> {
                    CancelScope scope = CancelScope.create();
                    return scope.run(() -> {
                        CompletionStage<Object> call = ToThread.runSync(() -> {
                            sleeping.countDown();
                            try {
                                Thread.sleep(30_000);
                                interrupted.complete(false);
                            } catch (InterruptedException e) {
                                interrupted.complete(true);
                            }
                            return null;
                        });
                        ToThread.runSync(() -> sleeping.await(10, TimeUnit.SECONDS), CancelMode.ABANDON)
                                .thenRun(scope::cancel);
                        return call;
                    }).handle((v, e) -> scope.cancelledCaught());
                });
                assertThat(cancelledCaught).isTrue();
                assertThat(interrupted.get(10, TimeUnit.SECONDS)).as("worker interrupted, round %d", i).isTrue();
            }

            // an explicit SHIELD overrides the default: the cancelled caller waits for the function's value
            CountDownLatch running = new CountDownLatch(1);
            CountDownLatch proceed = new CountDownLatch(1);
            CompletableFuture<Object> observed = new CompletableFuture<>();
            CancelScope[] scopes = new CancelScope[1];
            portal.call(() -> {
                CancelScope scope = CancelScope.create();
                scopes[0] = scope;
                return scope.run(() -> {
                    CompletionStage<String> call = ToThread.runSync(() -> {
                        running.countDown();
                        proceed.await(10, TimeUnit.SECONDS);
                        return "shielded value";
                    }, CancelMode.SHIELD);
                    call.whenComplete((v, e) -> observed.complete(e != null ? e : v));
                    ToThread.runSync(() -> running.await(10, TimeUnit.SECONDS), CancelMode.ABANDON).thenRun(() -> {
                        scope.cancel();
                        proceed.countDown();
                    });
                    return call;
                }).handle((v, e) -> null);
            });
            assertThat(scopes[0].cancelCalled()).isTrue();
            assertThat(observed.get(10, TimeUnit.SECONDS)).isEqualTo("shielded value");
        }
        assertThatThrownBy(() -> EventLoop.builder().defaultCancelMode(null))
                .isInstanceOf(NullPointerException.class).hasMessage("defaultCancelMode must not be null");
        assertThat(RunSyncOptions.defaults().cancelMode()).isNull();
    }

    // ---- context capture -----------------------------------------------------------------------

    private static final ThreadLocal<String> TENANT = new ThreadLocal<>();

    @Test
    void aLoopGivenARegistryPropagatesExactlyItsAccessors() throws Exception {
        ContextRegistry registry = new ContextRegistry();
        registry.registerThreadLocalAccessor("tenant", TENANT);
        try (EventLoop loop = EventLoop.builder().contextRegistry(registry).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            TENANT.set("acme");
            MDC.put("request", "r-1");
            try {
                String seen = portal.call(() -> ToThread.runSync(() -> TENANT.get() + "/" + MDC.get("request")));
                assertThat(seen).as("the tenant flows; the MDC is not in this registry").isEqualTo("acme/null");
            } finally {
                TENANT.remove();
                MDC.clear();
            }
            assertThat(portal.call(() -> ToThread.runSync(TENANT::get))).as("nothing left on the worker").isNull();
        }
    }

    @Test
    void aLoopGivenASnapshotFactoryCapturesWithIt() throws Exception {
        ContextRegistry registry = new ContextRegistry();
        registry.registerThreadLocalAccessor("tenant", TENANT);
        ContextSnapshotFactory factory = ContextSnapshotFactory.builder().contextRegistry(registry)
                .clearMissing(true).build();
        try (EventLoop loop = EventLoop.builder().contextSnapshotFactory(factory).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            TENANT.set("globex");
            try {
                assertThat(portal.call(() -> ToThread.runSync(TENANT::get))).isEqualTo("globex");
            } finally {
                TENANT.remove();
            }
        }
        assertThatThrownBy(() -> EventLoop.builder().contextRegistry(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("contextRegistry must not be null");
        assertThatThrownBy(() -> EventLoop.builder().contextSnapshotFactory(null))
                .isInstanceOf(NullPointerException.class).hasMessage("contextSnapshotFactory must not be null");
    }

    @Test
    void theDefaultCarriesTheMdcWithoutRegisteringItInTheGlobalRegistry() throws Exception {
        try (BlockingPortal portal = BlockingPortal.start()) {
            MDC.put("request", "r-2");
            try {
                assertThat(portal.call(() -> ToThread.runSync(() -> MDC.get("request")))).isEqualTo("r-2");
            } finally {
                MDC.clear();
            }
        }
        assertThat(ContextRegistry.getInstance().getThreadLocalAccessors())
                .noneMatch(accessor -> Slf4jThreadLocalAccessor.KEY.equals(accessor.key()));
    }

    @Test
    void theDefaultFollowsAccessorsRegisteredGloballyAfterTheLoopStarted() throws Exception {
        try (BlockingPortal portal = BlockingPortal.start()) {
            TENANT.set("initech");
            try {
                assertThat(portal.call(() -> ToThread.runSync(TENANT::get))).isNull();
                ContextRegistry.getInstance().registerThreadLocalAccessor("portal-test-tenant", TENANT);
                assertThat(portal.call(() -> ToThread.runSync(TENANT::get))).isEqualTo("initech");
            } finally {
                ContextRegistry.getInstance().removeThreadLocalAccessor("portal-test-tenant");
                TENANT.remove();
            }
        }
    }

    // ---- spin settings -------------------------------------------------------------------------

    @Test
    void spinSettingsAreValidatedNamingTheSettingTheValueAndTheRange() {
        List<Function<Duration, EventLoop.Builder>> setters = List.of(
                d -> EventLoop.builder().loopSpin(d), d -> EventLoop.builder().workerSpin(d),
                d -> EventLoop.builder().callerSpin(d));
        List<String> names = List.of("loopSpin", "workerSpin", "callerSpin");
        for (int i = 0; i < setters.size(); i++) {
            Function<Duration, EventLoop.Builder> set = setters.get(i);
            String name = names.get(i);
            assertThatThrownBy(() -> set.apply(Duration.ofNanos(-1))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(name + " must be from PT0S to PT0.001S (was PT-0.000000001S)");
            assertThatThrownBy(() -> set.apply(Duration.ofDays(365 * 1000L)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(name + " must be from PT0S to PT0.001S (was PT8760000H)");
            assertThatThrownBy(() -> set.apply(null)).isInstanceOf(NullPointerException.class)
                    .hasMessage(name + " must not be null");
            set.apply(Duration.ZERO);
            set.apply(Duration.ofMillis(1));
        }
        assertThatThrownBy(() -> EventLoop.builder().callerMaxSpin(Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("callerMaxSpin must be from PT0S to PT0.1S (was PT1S)");
        EventLoop.builder().callerMaxSpin(Duration.ofMillis(100));
    }

    @ParameterizedTest
    @ValueSource(strings = {"portal.loop.spinNanos", "portal.worker.spinNanos", "portal.caller.spinNanos",
            "portal.caller.maxSpinNanos"})
    void aBadSpinSystemPropertyFailsTheBuilderInsteadOfBeingIgnored(String property) {
        String before = System.getProperty(property);
        try {
            System.setProperty(property, "fast");
            assertThatThrownBy(EventLoop::builder).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("system property " + property + " must be a whole number of nanoseconds "
                            + "from 0 to ")
                    .hasMessageEndingWith("(was \"fast\")");
            System.setProperty(property, "9223372036854775807");
            assertThatThrownBy(EventLoop::builder).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("system property " + property + " must be from 0 to ")
                    .hasMessageEndingWith(" nanoseconds (was 9223372036854775807)");
            System.setProperty(property, "-5");
            assertThatThrownBy(EventLoop::builder).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageEndingWith(" nanoseconds (was -5)");
            System.setProperty(property, "0");
            EventLoop.builder();
        } finally {
            restoreProperty(property, before);
        }
    }

    /** The properties whose defaults depend on the processors available. */
    private static final List<String> PROCESSOR_PROPERTIES = List.of("portal.loop.spinNanos",
            "portal.worker.spinNanos", "portal.caller.spinNanos", "portal.loop.fairWakeups");

    @Test
    void withOneProcessorNothingSpinsAndWakeupsAreFairByDefaultAndWithTwoTheUsualDefaultsApply() throws Exception {
        withProcessorPropertiesCleared(() -> {
            try (EventLoop one = new EventLoop.Builder(1).start(); EventLoop two = new EventLoop.Builder(2).start()) {
                assertThat(new long[] {one.loopSpinNanos, one.workers.spinNanos(), one.callerSpinNanos,
                        one.callerSpin.maxSpinNanos()}).containsOnly(0L);
                assertThat(one.fairWakeups).isTrue();
                assertThat(new long[] {two.loopSpinNanos, two.workers.spinNanos(), two.callerSpinNanos})
                        .containsExactly(20_000L, 2_000L, 3_000L);
                assertThat(two.fairWakeups).isFalse();
                // With no spin anywhere, calls are still answered: every wait parks and is woken.
                BlockingPortal portal = BlockingPortal.openOn(one);
                for (int i = 0; i < 200; i++) {
                    int x = i;
                    assertThat(portal.call(() -> ToThread.runSync(() -> x + 1))).isEqualTo(x + 1);
                }
            }
        });
    }

    @Test
    void aSettingMadeOnTheBuilderOrBySystemPropertyIsKeptWithOneProcessor() throws Exception {
        withProcessorPropertiesCleared(() -> {
            try (EventLoop set = new EventLoop.Builder(1).loopSpin(Duration.ofNanos(5_000))
                    .workerSpin(Duration.ofNanos(6_000)).callerSpin(Duration.ofNanos(7_000)).start()) {
                assertThat(new long[] {set.loopSpinNanos, set.workers.spinNanos(), set.callerSpinNanos})
                        .containsExactly(5_000L, 6_000L, 7_000L);
            }
            System.setProperty("portal.loop.spinNanos", "8000");
            System.setProperty("portal.worker.spinNanos", "9000");
            System.setProperty("portal.caller.spinNanos", "10000");
            System.setProperty("portal.loop.fairWakeups", "false");
            try (EventLoop property = new EventLoop.Builder(1).start()) {
                assertThat(new long[] {property.loopSpinNanos, property.workers.spinNanos(), property.callerSpinNanos})
                        .containsExactly(8_000L, 9_000L, 10_000L);
                assertThat(property.fairWakeups).isFalse();
            }
            try (EventLoop set = new EventLoop.Builder(1).fairWakeups(false).start()) {
                assertThat(set.fairWakeups).isFalse();
            }
        });
    }

    /**
     * The processors counted are the JVM's: a JVM limited to one ({@code -XX:ActiveProcessorCount=1},
     * as a container's CPU limit of one does) builds loops that do not spin and wake callers fairly.
     */
    @Test
    void aJvmWithOneProcessorBuildsLoopsThatDoNotSpinAndWakeFairly() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:ActiveProcessorCount=1", "-cp", System.getProperty("java.class.path"),
                OneProcessorSpins.class.getName()).redirectErrorStream(true).start();
        String out;
        try (InputStream in = p.getInputStream()) {
            out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("processors=1 loopSpin=0 workerSpin=0 callerSpin=0 fairWakeups=true answered=100");
    }

    /** Run in a JVM limited to one processor by {@link #aJvmWithOneProcessorBuildsLoopsThatDoNotSpinAndWakeFairly}. */
    static final class OneProcessorSpins {
        public static void main(String[] args) throws Exception {
            PROCESSOR_PROPERTIES.forEach(System::clearProperty);
            try (EventLoop loop = EventLoop.builder().start()) {
                BlockingPortal portal = BlockingPortal.openOn(loop);
                int answered = 0;
                for (int i = 0; i < 100; i++) {
                    int x = i;
                    if (portal.call(() -> ToThread.runSync(() -> x * 2)) == x * 2) {
                        answered++;
                    }
                }
                System.out.println("processors=" + Runtime.getRuntime().availableProcessors() + " loopSpin="
                        + loop.loopSpinNanos + " workerSpin=" + loop.workers.spinNanos() + " callerSpin="
                        + loop.callerSpinNanos + " fairWakeups=" + loop.fairWakeups + " answered=" + answered);
            }
        }
    }

    /** A test body that may throw. */
    private interface Body {
        void run() throws Exception;
    }

    private static void withProcessorPropertiesCleared(Body body) throws Exception {
        List<String> before = new ArrayList<>();
        PROCESSOR_PROPERTIES.forEach(p -> before.add(System.getProperty(p)));
        try {
            PROCESSOR_PROPERTIES.forEach(System::clearProperty);
            body.run();
        } finally {
            for (int i = 0; i < PROCESSOR_PROPERTIES.size(); i++) {
                restoreProperty(PROCESSOR_PROPERTIES.get(i), before.get(i));
            }
        }
    }

    @Test
    void fairWakeupsAreOffByDefaultWithTwoProcessorsAndTheirSystemPropertyMustBeTrueOrFalse() {
        String property = "portal.loop.fairWakeups";
        String before = System.getProperty(property);
        try {
            System.clearProperty(property);
            try (EventLoop loop = new EventLoop.Builder(2).start()) {
                assertThat(loop.fairWakeups).isFalse();
            }
            System.setProperty(property, " TRUE ");
            try (EventLoop loop = new EventLoop.Builder(2).start()) {
                assertThat(loop.fairWakeups).isTrue();
            }
            try (EventLoop loop = EventLoop.builder().fairWakeups(false).start()) {
                assertThat(loop.fairWakeups).as("the builder's setting wins over the property").isFalse();
            }
            System.setProperty(property, "yes");
            assertThatThrownBy(EventLoop::builder).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("system property portal.loop.fairWakeups must be true or false (was \"yes\")");
        } finally {
            restoreProperty(property, before);
        }
    }

    private static void restoreProperty(String property, String before) {
        if (before == null) {
            System.clearProperty(property);
        } else {
            System.setProperty(property, before);
        }
    }

    @Test
    void aLoopWithFairWakeupsAnswersEveryCallOfManyCallers() throws Exception {
        try (EventLoop loop = EventLoop.builder().fairWakeups(true).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            int threads = 16;
            int calls = 500;
            List<CompletableFuture<Long>> sums = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                sums.add(CompletableFuture.supplyAsync(() -> {
                    long sum = 0;
                    for (int i = 0; i < calls; i++) {
                        int value = i;
                        try {
                            sum += portal.call(() -> ToThread.runSync(() -> value));
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }
                    return sum;
                }, runnable -> new Thread(runnable, "fair-caller").start()));
            }
            for (CompletableFuture<Long> sum : sums) {
                assertThat(sum.get(WAIT.toSeconds(), TimeUnit.SECONDS)).isEqualTo((long) (calls - 1) * calls / 2);
            }
        }
    }

    @Test
    void aLoopWithEverySpinOffStillAnswersEveryCall() throws Exception {
        try (EventLoop loop = EventLoop.builder().loopSpin(Duration.ZERO).workerSpin(Duration.ZERO)
                .callerSpin(Duration.ZERO).callerMaxSpin(Duration.ZERO).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            long sum = 0;
            for (int i = 0; i < 2000; i++) {
                int value = i;
                sum += portal.call(() -> ToThread.runSync(() -> value));
            }
            assertThat(sum).isEqualTo(1999L * 2000 / 2);
        }
    }

    @Test
    void aLoopWithTheLongestSpinsParksWhenIdle() throws Exception {
        try (EventLoop loop = EventLoop.builder().name("long-spin-loop").loopSpin(Duration.ofMillis(1))
                .workerSpin(Duration.ofMillis(1)).start();
                BlockingPortal portal = BlockingPortal.openOn(loop)) {
            assertThat(portal.call(() -> ToThread.runSync(() -> "done"))).isEqualTo("done");
            Thread loopThread = portal.callSync(Thread::currentThread);
            await().atMost(WAIT).until(() -> loopThread.getState() == Thread.State.WAITING);
        }
    }
}
