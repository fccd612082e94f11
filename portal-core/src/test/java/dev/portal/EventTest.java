package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;

import org.junit.jupiter.api.Test;

/** {@link Event}: AnyIO 4.8's {@code TestEvent} in Java form, plus loop confinement. */
class EventTest {

    @Test
    void aWaiterWakesWhenTheEventIsSet() throws Exception {
        Event event = new Event();
        List<String> log = new ArrayList<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("waiter", () -> event.await().thenRun(() -> log.add("woken")));
            return Async.checkpoint().thenRun(() -> {
                assertThat(log).isEmpty();
                assertThat(event.isSet()).isFalse();
                event.set();
                assertThat(event.isSet()).isTrue();
            });
        }));

        assertThat(log).containsExactly("woken");
        assertThat(event.isSet()).isTrue();
    }

    @Test
    void awaitingASetEventCompletesAtOnce() throws Exception {
        Event event = new Event();

        Boolean doneAtOnce = EventLoop.run(() -> {
            event.set();
            return CompletableFuture.completedFuture(event.await().toCompletableFuture().isDone());
        });

        assertThat(doneAtOnce).isTrue();
    }

    @Test
    void settingTwiceIsHarmless() throws Exception {
        Event event = new Event();

        EventLoop.run(() -> {
            event.set();
            event.set();
            return event.await();
        });

        assertThat(event.isSet()).isTrue();
    }

    /** AnyIO's test_event_cancel: the task is cancelled before it reaches the wait. */
    @Test
    void aWaiterCancelledBeforeSetNeverRunsPastTheAwait() throws Exception {
        Event event = new Event();
        AtomicBoolean started = new AtomicBoolean();
        AtomicBoolean pastAwait = new AtomicBoolean();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon(() -> {
                started.set(true);
                return event.await().thenRun(() -> pastAwait.set(true));
            });
            tg.cancelScope().cancel();
            event.set();
            return CompletableFuture.completedFuture(null);
        }));

        assertThat(started).isTrue();
        assertThat(pastAwait).isFalse();
    }

    @Test
    void aPendingWaiterCancelledBeforeSetNeverRunsPastTheAwait() throws Exception {
        Event event = new Event();
        AtomicBoolean pastAwait = new AtomicBoolean();
        CancelScope scope = CancelScope.create();

        EventLoop.run(() -> {
            CompletionStage<Void> waiting = scope.run(() -> event.await().thenRun(() -> pastAwait.set(true)));
            return Async.checkpoint().thenCompose(v -> {
                assertThat(event.statistics().tasksWaiting()).isEqualTo(1);
                scope.cancel();
                assertThat(event.statistics().tasksWaiting()).isZero();
                event.set();
                return waiting;
            });
        });

        assertThat(pastAwait).isFalse();
        assertThat(scope.cancelledCaught()).isTrue();
    }

    /** AnyIO's test_event_wait_before_set_before_cancel. */
    @Test
    void aWaiterWokenBySetCompletesEvenIfCancelledInTheSameStep() throws Exception {
        Event event = new Event();
        AtomicBoolean pastAwait = new AtomicBoolean();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon(() -> event.await().thenRun(() -> pastAwait.set(true)));
            return Async.checkpoint().thenRun(() -> {
                event.set();
                tg.cancelScope().cancel();
            });
        }));

        assertThat(pastAwait).isTrue();
    }

    @Test
    void awaitIsACheckpointEvenWhenTheEventIsSet() throws Exception {
        Event event = new Event();
        CancelScope scope = CancelScope.create();

        EventLoop.run(() -> {
            event.set();
            return scope.run(() -> {
                scope.cancel();
                CompletionStage<Void> await = event.await();
                assertThat(await.toCompletableFuture()).isCompletedExceptionally();
                assertThat(Outcomes.failureOf(await)).isInstanceOf(CancelledException.class);
                return await;
            });
        });

        assertThat(scope.cancelledCaught()).isTrue();
    }

    @Test
    void statisticsCountTheWaiters() throws Exception {
        Event event = new Event();
        List<Integer> waiting = new ArrayList<>();
        assertThat(event.statistics().tasksWaiting()).isZero();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon(event::await);
            return Async.checkpoint().thenCompose(v -> {
                waiting.add(event.statistics().tasksWaiting());
                tg.startSoon(event::await);
                return Async.checkpoint();
            }).thenRun(() -> {
                waiting.add(event.statistics().tasksWaiting());
                event.set();
                waiting.add(event.statistics().tasksWaiting());
            });
        }));

        assertThat(waiting).containsExactly(1, 2, 0);
        assertThat(event).hasToString("Event[set, 0 waiting]");
    }

    @Test
    void settingFromAWorkerDirectlyFailsNamingFromThreadRunSync() throws Exception {
        Event event = new Event();

        assertThatIllegalStateException()
                .isThrownBy(() -> EventLoop.run(() -> ToThread.runSync(() -> {
                    event.set();
                    return null;
                })))
                .withMessageContaining("Event.set() must be called on an event loop thread")
                .withMessageContaining("FromThread.runSync(");
        assertThat(event.isSet()).isFalse();
    }

    @Test
    void settingFromAWorkerThroughFromThreadRunSyncWakesTheWaiter() throws Exception {
        Event event = new Event();
        List<String> woken = new ArrayList<>();

        String returned = EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("waiter", () -> event.await().thenRun(() -> woken.add(Async.currentTask().name())));
            return ToThread.runSync(() -> {
                Thread.sleep(20);
                return FromThread.runSync(() -> {
                    event.set();
                    return "set";
                });
            });
        }));

        assertThat(returned).isEqualTo("set");
        assertThat(woken).containsExactly("waiter");
    }

    /**
     * The Javadoc of {@link Event} and {@link FromThread} shows {@code FromThread.runSync(event::set)};
     * that call must compile.
     */
    @Test
    void fromThreadRunSyncAcceptsEventSetAsAMethodReference() throws Exception {
        Event event = new Event();
        EventLoop.run(() -> ToThread.runSync(() -> {
            FromThread.runSync(event::set);
            return null;
        }).thenCompose(v -> event.await()));

        assertThat(event.isSet()).isTrue();
    }

    @Test
    void anEventIsUsableOnTheLoopThatFirstUsesItEvenIfMadeElsewhere() throws Exception {
        Event event = new Event();
        assertThat(event.isSet()).isFalse();
        assertThat(event.statistics().tasksWaiting()).isZero();

        EventLoop.run(() -> {
            event.set();
            return event.await();
        });

        assertThat(event.isSet()).isTrue();
    }

    @Test
    void anEventUsedFromTwoLoopsFails() throws Exception {
        Event event = new Event();
        EventLoop.builder().name("first-loop").run(() -> {
            event.set();
            return CompletableFuture.completedFuture(null);
        });

        assertThatIllegalStateException()
                .isThrownBy(() -> EventLoop.builder().name("second-loop").run(event::await))
                .withMessage("Event.await() was called on event loop second-loop, but this Event belongs to event loop "
                        + "first-loop");
    }

    @Test
    void anEventUsedFromTwoRunningLoopsFails() throws Exception {
        Event event = new Event();
        try (EventLoop first = EventLoop.builder().name("loop-a").start();
                EventLoop second = EventLoop.builder().name("loop-b").start()) {
            CompletableFuture<Void> bound = new CompletableFuture<>();
            first.execute(() -> {
                event.await();
                bound.complete(null);
            });
            bound.get(10, java.util.concurrent.TimeUnit.SECONDS);
            CompletableFuture<Throwable> failure = new CompletableFuture<>();
            second.execute(() -> {
                try {
                    event.set();
                    failure.complete(null);
                } catch (Throwable t) {
                    failure.complete(t);
                }
            });

            assertThat(failure.get(10, java.util.concurrent.TimeUnit.SECONDS))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("belongs to event loop loop-a");
            assertThat(event.isSet()).isFalse();
            assertThat(event.statistics().tasksWaiting()).isEqualTo(1);
        }
    }

    @Test
    void settingOffAnyLoopFails() {
        Event event = new Event();

        assertThatIllegalStateException().isThrownBy(event::set)
                .withMessageContaining("Event.set() must be called on an event loop thread");
        assertThatIllegalStateException().isThrownBy(event::await)
                .withMessageContaining("Event.await() must be called on an event loop thread");
        assertThat(event.isSet()).isFalse();
    }

    @Test
    void isSetAndStatisticsAreReadableFromAnyThread() throws Exception {
        Event event = new Event();
        try (EventLoop loop = EventLoop.start()) {
            CompletableFuture<Void> waiting = new CompletableFuture<>();
            loop.execute(() -> {
                event.await();
                waiting.complete(null);
            });
            waiting.get(10, java.util.concurrent.TimeUnit.SECONDS);

            assertThat(event.isSet()).isFalse();
            assertThat(event.statistics().tasksWaiting()).isEqualTo(1);
            loop.execute(event::set);
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(event::isSet);
            assertThat(event.statistics().tasksWaiting()).isZero();
        }
    }
}
