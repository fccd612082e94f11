package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

/** {@link TaskGroup}: structured concurrency, failure propagation, names and task-local copies. */
class TaskGroupTest {

    private static final Duration LONG = Duration.ofSeconds(30);

    @Test
    void tasksRunConcurrently() throws Exception {
        Event pingSent = new Event();
        Event pongSent = new Event();
        List<String> log = new ArrayList<>();

        EventLoop.run(() -> CancelScope.failAfter(Duration.ofSeconds(10), () -> TaskGroup.open(tg -> {
            tg.startSoon("ping", () -> {
                log.add("ping");
                pingSent.set();
                return pongSent.await().thenRun(() -> log.add("ping saw pong"));
            });
            tg.startSoon("pong", () -> pingSent.await().thenRun(() -> {
                log.add("pong");
                pongSent.set();
            }));
            return CompletableFuture.completedFuture(null);
        })));

        assertThat(log).containsExactly("ping", "pong", "ping saw pong");
    }

    @Test
    void theGroupCompletesAfterItsBodyAndEveryTask() throws Exception {
        List<String> log = new ArrayList<>();

        Event fastDone = new Event();

        String result = EventLoop.run(() -> TaskGroup.open(tg -> {
            // the slow task ends after the fast one whatever the timing: it waits for it, then sleeps
            tg.startSoon(() -> fastDone.await().thenCompose(v -> Async.sleep(Duration.ofMillis(40)))
                    .thenRun(() -> log.add("slow task")));
            tg.startSoon(() -> Async.sleep(Duration.ofMillis(20)).thenRun(() -> {
                log.add("fast task");
                fastDone.set();
            }));
            log.add("body");
            return CompletableFuture.completedFuture("body value");
        }).thenApply(v -> {
            log.add("group done");
            return v;
        }));

        assertThat(result).isEqualTo("body value");
        assertThat(log).containsExactly("body", "fast task", "slow task", "group done");
    }

    @Test
    void startSoonReturnsAStageWithTheTasksOutcome() throws Exception {
        Integer sum = EventLoop.run(() -> TaskGroup.open(tg -> {
            CompletionStage<Integer> a = tg.startSoon(() -> Async.sleep(Duration.ofMillis(5)).thenApply(v -> 20));
            CompletionStage<Integer> b = tg.startSoon(() -> CompletableFuture.completedFuture(22));
            return a.thenCombine(b, Integer::sum);
        }));

        assertThat(sum).isEqualTo(42);
    }

    @Test
    void theFirstFailureCancelsTheSiblingsAndFailsTheGroupWithThatException() throws Exception {
        IllegalStateException boom = new IllegalStateException("boom");
        AtomicReference<Throwable> siblingOutcome = new AtomicReference<>();
        long start = System.nanoTime();

        assertThatThrownBy(() -> EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("sleeper", () -> Async.sleep(LONG).whenComplete((v, e) -> siblingOutcome.set(e)));
            tg.startSoon("failer", () -> Async.sleep(Duration.ofMillis(20)).thenRun(() -> {
                throw boom;
            }));
            return Async.sleep(LONG);
        }))).isSameAs(boom);

        assertThat(siblingOutcome.get()).isInstanceOf(CancelledException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void severalFailuresAreReportedTogetherInATaskGroupException() {
        IllegalStateException first = new IllegalStateException("first");
        IllegalArgumentException second = new IllegalArgumentException("second");

        Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(() -> EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("one", () -> {
                throw first;
            });
            tg.startSoon("two", () -> {
                throw second;
            });
            return Async.sleep(LONG);
        })));

        assertThat(thrown).isInstanceOf(TaskGroupException.class)
                .hasMessage("2 tasks failed: [java.lang.IllegalStateException: first] "
                        + "[java.lang.IllegalArgumentException: second]");
        TaskGroupException group = (TaskGroupException) thrown;
        assertThat(group.exceptions()).containsExactly(first, second);
        assertThat(group.getSuppressed()).containsExactly(first, second);
    }

    @Test
    void aSingleFailureIsReportedAsItself() {
        Exception boom = new Exception("checked boom");

        assertThatThrownBy(() -> EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon(() -> CompletableFuture.failedFuture(boom));
            tg.startSoon(() -> Async.sleep(LONG));
            return CompletableFuture.completedFuture(null);
        }))).isSameAs(boom);
    }

    @Test
    void aFailingBodyCancelsTheTasks() throws Exception {
        IllegalStateException boom = new IllegalStateException("body failed");
        AtomicReference<Throwable> taskOutcome = new AtomicReference<>();

        assertThatThrownBy(() -> EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon(() -> Async.sleep(LONG).whenComplete((v, e) -> taskOutcome.set(e)));
            return Async.checkpoint().thenRun(() -> {
                throw boom;
            });
        }))).isSameAs(boom);

        assertThat(taskOutcome.get()).isInstanceOf(CancelledException.class);
    }

    @Test
    void tasksAreNamedAndListedByTheLoop() throws Exception {
        List<String> names = new ArrayList<>();
        List<String> listed = new ArrayList<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("alpha", () -> Async.checkpoint().thenRun(() -> names.add(Async.currentTask().name())));
            tg.startSoon("beta", () -> Async.checkpoint().thenRun(() -> names.add(Async.currentTask().name())));
            tg.startSoon(() -> Async.checkpoint().thenRun(() -> names.add(Async.currentTask().name())));
            for (TaskInfo info : EventLoop.current().tasks()) {
                listed.add(info.name());
            }
            names.add(Async.currentTask().name());
            return CompletableFuture.completedFuture(null);
        }));

        assertThat(names).hasSize(4);
        assertThat(names.subList(0, 3)).containsExactly("main", "alpha", "beta");
        assertThat(names.get(3)).matches("task-\\d+");
        assertThat(listed).contains("main", "alpha", "beta");
    }

    @Test
    void startSoonAfterTheGroupHasFinishedFails() throws Exception {
        AtomicReference<TaskGroup> group = new AtomicReference<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            group.set(tg);
            return CompletableFuture.completedFuture(null);
        }).thenRun(() -> assertThatIllegalStateException()
                .isThrownBy(() -> group.get().startSoon(() -> CompletableFuture.completedFuture(null)))
                .withMessageContaining("this task group has finished")));

        assertThat(group.get()).hasToString("TaskGroup[0 tasks running, finished]");
    }

    @Test
    void aTaskMayStartMoreTasksWhileTheGroupRuns() throws Exception {
        List<String> log = new ArrayList<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("parent", () -> Async.sleep(Duration.ofMillis(5)).thenRun(() ->
                    tg.startSoon("child", () -> Async.sleep(Duration.ofMillis(20)).thenRun(() -> log.add("child")))));
            return CompletableFuture.completedFuture(null);
        }).thenRun(() -> log.add("group done")));

        assertThat(log).containsExactly("child", "group done");
    }

    @Test
    void cancellingTheGroupScopeCancelsTheBodyAndEveryTask() throws Exception {
        AtomicReference<TaskGroup> group = new AtomicReference<>();
        List<Throwable> outcomes = new ArrayList<>();
        long start = System.nanoTime();

        Object result = EventLoop.run(() -> TaskGroup.open(tg -> {
            group.set(tg);
            tg.startSoon(() -> Async.sleep(LONG).whenComplete((v, e) -> outcomes.add(e)));
            tg.startSoon(() -> new Event().await().whenComplete((v, e) -> outcomes.add(e)));
            tg.startSoon(() -> Async.sleep(Duration.ofMillis(20)).thenRun(() -> tg.cancelScope().cancel()));
            return Async.sleep(LONG).whenComplete((v, e) -> outcomes.add(e));
        }));

        assertThat(result).isNull();
        assertThat(outcomes).hasSize(3).allSatisfy(e -> assertThat(e).isInstanceOf(CancelledException.class));
        assertThat(group.get().cancelScope().cancelledCaught()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void anEnclosingCancellationReachesTheGroupsTasks() throws Exception {
        List<Throwable> outcomes = new ArrayList<>();

        Object result = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofMillis(30), () -> TaskGroup.open(tg -> {
            tg.startSoon(() -> Async.sleep(LONG).whenComplete((v, e) -> outcomes.add(e)));
            tg.startSoon(() -> Async.sleep(LONG).whenComplete((v, e) -> outcomes.add(e)));
            return CompletableFuture.completedFuture(null);
        })));

        assertThat(result).isNull();
        assertThat(outcomes).hasSize(2).allSatisfy(e -> assertThat(e).isInstanceOf(CancelledException.class));
    }

    @Test
    void childTaskLocalsAreCopiesOfTheParents() throws Exception {
        TaskLocal<String> local = TaskLocal.named("request");
        List<String> seen = new ArrayList<>();

        EventLoop.run(() -> {
            local.set("parent");
            return TaskGroup.open(tg -> {
                tg.startSoon("writer", () -> {
                    seen.add("writer saw " + local.get());
                    local.set("writer");
                    return Async.checkpoint().thenRun(() -> seen.add("writer kept " + local.get()));
                });
                tg.startSoon("reader", () -> Async.checkpoint().thenCompose(v -> Async.checkpoint())
                        .thenRun(() -> seen.add("reader saw " + local.get())));
                return Async.checkpoint().thenCompose(v -> Async.checkpoint())
                        .thenRun(() -> seen.add("parent kept " + local.get()));
            }).thenRun(() -> seen.add("after group " + local.get()));
        });

        assertThat(seen).containsExactlyInAnyOrder("writer saw parent", "writer kept writer", "reader saw parent",
                "parent kept parent", "after group parent");
    }

    @Test
    void openAndStartSoonAreLoopThreadOnly() throws Exception {
        assertThatIllegalStateException().isThrownBy(() -> TaskGroup.open(tg -> CompletableFuture.completedFuture(null)))
                .withMessageContaining("TaskGroup.open must be called from async code on an event loop thread");
        AtomicReference<TaskGroup> group = new AtomicReference<>();
        CompletableFuture<Throwable> failure = new CompletableFuture<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            group.set(tg);
            return ToThread.runSync(() -> {
                try {
                    group.get().startSoon(() -> CompletableFuture.completedFuture(null));
                    failure.complete(null);
                } catch (Throwable t) {
                    failure.complete(t);
                }
                return null;
            });
        }));

        assertThat(failure.join()).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("TaskGroup.startSoon must be called on the thread of event loop");
    }
}
