package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Foreign stage types: every place that adopts a {@link CompletionStage} user code returned accepts
 * any implementation, the JDK's {@link CompletableFuture#minimalCompletionStage()} (whose
 * {@code isDone()} throws) included, and turns a stage it cannot inspect (every method throws, or
 * null) into a failure of the task with a clear message. Nothing hangs: the portal closes promptly
 * after each case, with no task left counted.
 */
class ForeignStageTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final Executor LATER = CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS);

    /** The kinds of stage user code may hand back. */
    enum Kind {
        /** A minimal stage, already completed. */
        MINIMAL_COMPLETED,
        /** A minimal stage completed later by another thread. */
        MINIMAL_LATER,
        /** A minimal stage, already failed. */
        MINIMAL_FAILED,
        /** A minimal stage failed later by another thread. */
        MINIMAL_FAILING_LATER,
        /** A stage every method of which throws, toString and whenComplete included. */
        HOSTILE,
        /** No stage at all. */
        NULL
    }

    private final Queue<Throwable> uncaught = new ConcurrentLinkedQueue<>();
    private final RuntimeException failure = new IllegalArgumentException("the stage failed on purpose");
    private BlockingPortal portal;

    @BeforeEach
    void startPortal() {
        portal = BlockingPortal.start(EventLoop.builder().name("foreign-loop").daemon(true)
                .listener(new EventLoopListener() {
                    @Override
                    public void onUncaughtException(EventLoop loop, Throwable error) {
                        uncaught.add(error);
                    }
                }));
    }

    @AfterEach
    void closePromptly() throws Exception {
        // An AssertionError here is the hang this class guards against.
        bounded(Duration.ofSeconds(10), () -> {
            portal.close();
            return null;
        });
        assertThat(portal.statistics().tasks()).isZero();
        assertThat(uncaught).isEmpty();
    }

    @SuppressWarnings("unchecked")
    private <T> @Nullable CompletionStage<T> stage(Kind kind, T value) {
        switch (kind) {
            case MINIMAL_COMPLETED:
                return CompletableFuture.completedStage(value);
            case MINIMAL_LATER: {
                CompletableFuture<T> f = new CompletableFuture<>();
                f.completeAsync(() -> value, LATER);
                return f.minimalCompletionStage();
            }
            case MINIMAL_FAILED:
                return CompletableFuture.failedStage(failure);
            case MINIMAL_FAILING_LATER: {
                CompletableFuture<T> f = new CompletableFuture<>();
                LATER.execute(() -> f.completeExceptionally(failure));
                return f.minimalCompletionStage();
            }
            case HOSTILE:
                return (CompletionStage<T>) Proxy.newProxyInstance(getClass().getClassLoader(),
                        new Class<?>[] {CompletionStage.class}, (proxy, method, args) -> {
                            throw new UnsupportedOperationException("hostile stage: " + method.getName());
                        });
            case NULL:
                return null;
            default:
                throw new AssertionError(kind);
        }
    }

    /** What a call whose async code returned a stage of {@code kind} (with value "v") must give. */
    private void assertOutcome(Kind kind, ThrowingSupplier call) {
        Object[] value = new Object[1];
        Throwable thrown = catchThrowable(() -> value[0] = bounded(WAIT, call));
        while ((thrown instanceof CompletionException || thrown instanceof ExecutionException)
                && thrown.getCause() != null) {
            thrown = thrown.getCause();
        }
        switch (kind) {
            case MINIMAL_COMPLETED:
            case MINIMAL_LATER:
                assertThat(thrown).isNull();
                assertThat(value[0]).isEqualTo("v");
                break;
            case MINIMAL_FAILED:
            case MINIMAL_FAILING_LATER:
                assertThat(thrown).isSameAs(failure);
                break;
            case HOSTILE:
                assertThat(thrown).isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("threw from whenComplete")
                        .hasMessageContaining("cannot wait for it")
                        .hasCauseInstanceOf(UnsupportedOperationException.class);
                break;
            case NULL:
                assertThat(thrown).isInstanceOf(NullPointerException.class).hasMessageContaining("returned null");
                break;
            default:
                throw new AssertionError(kind);
        }
    }

    /**
     * Runs {@code call} on a thread of its own and waits for it at most {@code limit}: a hang fails
     * the test (and interrupts the thread, which cancels a portal call) instead of hanging the build.
     */
    static @Nullable Object bounded(Duration limit, ThrowingSupplier call) throws Exception {
        CompletableFuture<Object> result = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                result.complete(call.get());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        }, "foreign-stage-caller");
        t.setDaemon(true);
        t.start();
        try {
            return result.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            t.interrupt();
            throw new AssertionError("the call did not complete within " + limit + " (it hangs)");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof Exception ? (Exception) cause : new RuntimeException(cause);
        }
    }

    @FunctionalInterface
    interface ThrowingSupplier {
        @Nullable Object get() throws Exception;
    }

    // ---------------------------------------------------------------------------------------------
    // Every entry point, every kind

    @ParameterizedTest
    @EnumSource(Kind.class)
    void portalCall(Kind kind) {
        assertOutcome(kind, () -> portal.call(() -> stage(kind, "v")));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void portalStartTaskSoon(Kind kind) {
        assertOutcome(kind, () -> portal.startTaskSoon(() -> stage(kind, "v")).get(WAIT.toSeconds(), TimeUnit.SECONDS));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void portalStartTask(Kind kind) {
        assertOutcome(kind, () -> portal.<String, String>startTask(status -> {
            status.started("ready");
            return stage(kind, "v");
        }).future().get(WAIT.toSeconds(), TimeUnit.SECONDS));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void portalWrapAsyncResourceEnter(Kind kind) {
        AtomicInteger exits = new AtomicInteger();
        assertOutcome(kind, () -> {
            try (PortalResource<String> r = portal.wrapAsyncResource(new AsyncResource<String>() {
                @Override
                public CompletionStage<String> enter() {
                    return stage(kind, "v");
                }

                @Override
                public CompletionStage<Boolean> exit(@Nullable Throwable error) {
                    exits.incrementAndGet();
                    return CompletableFuture.completedFuture(false);
                }
            })) {
                return r.get();
            }
        });
        // Exit runs once for an entered resource, and never for one whose enter failed.
        assertThat(exits.get()).isEqualTo(kind == Kind.MINIMAL_COMPLETED || kind == Kind.MINIMAL_LATER ? 1 : 0);
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void portalWrapAsyncResourceExit(Kind kind) {
        PortalResource<String>[] handle = new PortalResource[1];
        Throwable thrown = catchThrowable(() -> bounded(WAIT, () -> {
            handle[0] = portal.wrapAsyncResource(new AsyncResource<String>() {
                @Override
                public CompletionStage<String> enter() {
                    return CompletableFuture.completedFuture("v");
                }

                @Override
                @SuppressWarnings("unchecked")
                public CompletionStage<Boolean> exit(@Nullable Throwable error) {
                    Object suppress = false;
                    return (CompletionStage<Boolean>) (CompletionStage<?>) stage(kind, suppress);
                }
            });
            handle[0].close();
            return null;
        }));
        switch (kind) {
            case MINIMAL_COMPLETED:
            case MINIMAL_LATER:
                assertThat(thrown).isNull();
                break;
            default:
                // The exit's failure reaches the thread that closed the resource.
                assertThat(thrown).isNotNull();
                assertOutcome(kind, () -> {
                    throw thrown instanceof Exception ? (Exception) thrown : new RuntimeException(thrown);
                });
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void taskGroupBody(Kind kind) {
        assertOutcome(kind, () -> portal.call(() -> TaskGroup.open(tg -> stage(kind, "v"))));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void taskGroupStartSoon(Kind kind) {
        // The task's stage has the task's outcome; the group fails with the task's failure.
        Object[] handleValue = new Object[1];
        assertOutcome(kind, () -> portal.call(() -> TaskGroup.open(tg -> {
            tg.startSoon(() -> stage(kind, "v")).whenComplete((v, e) -> handleValue[0] = v);
            return CompletableFuture.completedFuture(null);
        })) == null ? handleValue[0] : "the group's value is not null");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void cancelScopeRun(Kind kind) {
        assertOutcome(kind, () -> portal.call(() -> CancelScope.create().run(() -> stage(kind, "v"))));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void fromThreadRun(Kind kind) {
        assertOutcome(kind, () -> portal.call(() -> ToThread.runSync(() -> FromThread.run(() -> stage(kind, "v")))));
    }

    @ParameterizedTest
    @EnumSource(value = Kind.class, names = "NULL", mode = EnumSource.Mode.EXCLUDE)
    void asyncAwait(Kind kind) {
        assertOutcome(kind, () -> portal.call(() -> Async.await(stage(kind, "v"))));
    }

    @Test
    void asyncAwaitOfNullFailsAtTheCall() throws Exception {
        Throwable thrown = catchThrowable(() -> bounded(WAIT, () -> portal.call(() -> Async.await(null))));

        assertThat(thrown).isInstanceOf(NullPointerException.class).hasMessage("stage must not be null");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void blockingPortalOpenBody(Kind kind) {
        assertOutcome(kind, () -> portal.call(() -> BlockingPortal.open(inner -> stage(kind, "v"))));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void eventLoopRunMain(Kind kind) {
        assertOutcome(kind, () -> EventLoop.run(() -> stage(kind, "v")));
    }

    // ---------------------------------------------------------------------------------------------
    // Cancelling while a foreign stage is awaited

    /**
     * A minimal stage cannot be cancelled (its cancel throws): the scope's cancellation still ends
     * every await in the scope, and the loop reports nothing.
     */
    @RepeatedTest(20)
    void aDeadlineEndsAwaitsOfMinimalStagesThatCannotBeCancelled() throws Exception {
        CompletableFuture<String> never = new CompletableFuture<>();
        CompletableFuture<String> neverEither = new CompletableFuture<>();

        Object result = bounded(WAIT, () -> portal.call(() -> CancelScope.moveOnAfter(Duration.ofMillis(5), () -> {
            CompletionStage<String> a = Async.await(never.minimalCompletionStage());
            CompletionStage<String> b = Async.await(neverEither.minimalCompletionStage());
            return a.thenCombine(b, (x, y) -> x + y);
        })));

        assertThat(result).isNull();
        // The source futures are left alone: the minimal stages are copies that cannot reach them.
        assertThat(never).isNotDone();
    }

    @Test
    void aStageThatCallsBackTwiceEndsItsTaskOnce() throws Exception {
        AtomicBoolean second = new AtomicBoolean();
        CompletionStage<String> twice = new CompletableFuture<String>() {
            @Override
            public CompletableFuture<String> whenComplete(java.util.function.BiConsumer<? super String,
                    ? super Throwable> action) {
                action.accept("first", null);
                action.accept("second", null);
                second.set(true);
                throw new IllegalStateException("and then it throws");
            }
        };

        assertThat(bounded(WAIT, () -> portal.<String>call(() -> twice))).isEqualTo("first");
        assertThat(second).isTrue();
        assertThat(bounded(WAIT, () -> portal.<String>call(() -> CancelScope.create().run(() -> twice))))
                .isEqualTo("first");
        assertThat(bounded(WAIT, () -> portal.<String>call(() -> Async.await(twice)))).isEqualTo("first");
    }
}
