package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import io.micrometer.context.ContextRegistry;

import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

/**
 * {@link TaskLocal} values and ThreadLocal context (SLF4J's MDC and accessors registered with
 * Micrometer's {@link ContextRegistry}): each hop copies them, nothing is written back, and nothing
 * leaks between tasks or between calls on a pooled worker.
 */
class TaskLocalAndContextTest {

    private static final TaskLocal<String> REQUEST_ID = TaskLocal.named("requestId");

    // ---------------------------------------------------------------------------------------------
    // TaskLocal basics

    @Test
    void aTaskLocalHasNoValueUntilOneIsSet() throws Exception {
        String seen = EventLoop.run(() -> {
            List<String> values = new ArrayList<>();
            values.add(String.valueOf(REQUEST_ID.get()));
            REQUEST_ID.set("r-1");
            values.add(REQUEST_ID.get());
            REQUEST_ID.set("r-2");
            values.add(REQUEST_ID.get());
            REQUEST_ID.remove();
            values.add(String.valueOf(REQUEST_ID.get()));
            return CompletableFuture.completedFuture(String.join(",", values));
        });

        assertThat(seen).isEqualTo("null,r-1,r-2,null");
    }

    @Test
    void anInitialValueIsComputedOnEachReadUntilAValueIsSet() throws Exception {
        AtomicInteger computed = new AtomicInteger();
        TaskLocal<String> tenant = TaskLocal.withInitial("tenant", () -> "default-" + computed.incrementAndGet());

        String seen = EventLoop.run(() -> {
            List<String> values = new ArrayList<>();
            values.add(tenant.get());
            values.add(tenant.get());
            tenant.set("acme");
            values.add(tenant.get());
            tenant.remove();
            values.add(tenant.get());
            tenant.set(null);
            values.add(String.valueOf(tenant.get()));
            return CompletableFuture.completedFuture(String.join(",", values));
        });

        assertThat(seen).isEqualTo("default-1,default-2,acme,default-3,null");
    }

    @Test
    void namesAreValidated() {
        assertThat(REQUEST_ID.name()).isEqualTo("requestId");
        assertThat(REQUEST_ID).hasToString("TaskLocal[requestId]");
        assertThatIllegalArgumentException().isThrownBy(() -> TaskLocal.named(" "))
                .withMessage("name must not be blank (was \" \")");
        assertThatNullPointerException().isThrownBy(() -> TaskLocal.named(null))
                .withMessage("name must not be null");
        assertThatNullPointerException().isThrownBy(() -> TaskLocal.withInitial("x", null))
                .withMessage("initial must not be null");
    }

    @Test
    void offAnyLoopATaskLocalBelongsToTheThread() throws Exception {
        REQUEST_ID.set("main-thread");
        try {
            CompletableFuture<String> elsewhere = CompletableFuture.supplyAsync(REQUEST_ID::get);

            assertThat(REQUEST_ID.get()).isEqualTo("main-thread");
            assertThat(elsewhere.get(10, TimeUnit.SECONDS)).isNull();
        } finally {
            REQUEST_ID.remove();
        }
        assertThat(REQUEST_ID.get()).isNull();
    }

    @Test
    void theCallingThreadsValuesAreCopiedIntoEventLoopRunAndNotWrittenBack() throws Exception {
        REQUEST_ID.set("caller");
        try {
            String seen = EventLoop.run(() -> {
                String before = REQUEST_ID.get();
                REQUEST_ID.set("main task");
                return Async.checkpoint().thenApply(v -> before + " -> " + REQUEST_ID.get());
            });

            assertThat(seen).isEqualTo("caller -> main task");
            assertThat(REQUEST_ID.get()).isEqualTo("caller");
        } finally {
            REQUEST_ID.remove();
        }
    }

    @Test
    void concurrentTasksSeeOnlyTheirOwnValues() throws Exception {
        Event aSet = new Event();
        Event bSet = new Event();
        List<String> seen = new ArrayList<>();

        EventLoop.run(() -> TaskGroup.open(tg -> {
            tg.startSoon("A", () -> {
                REQUEST_ID.set("a");
                aSet.set();
                return bSet.await().thenCompose(v -> Async.sleep(Duration.ofMillis(5)))
                        .thenRun(() -> seen.add("A sees " + REQUEST_ID.get()));
            });
            tg.startSoon("B", () -> aSet.await().thenRun(() -> {
                seen.add("B starts with " + REQUEST_ID.get());
                REQUEST_ID.set("b");
                bSet.set();
            }).thenCompose(v -> Async.sleep(Duration.ofMillis(5))).thenRun(() -> seen.add("B sees " + REQUEST_ID.get())));
            return CompletableFuture.completedFuture(null);
        }));

        assertThat(seen).containsExactlyInAnyOrder("B starts with null", "A sees a", "B sees b");
    }

    @Test
    void settingATaskLocalOutsideAnyTaskFails() throws Exception {
        CompletableFuture<Throwable> failure = new CompletableFuture<>();
        try (EventLoop loop = EventLoop.start()) {
            loop.execute(() -> {
                try {
                    REQUEST_ID.set("nowhere");
                    failure.complete(null);
                } catch (Throwable t) {
                    failure.complete(t);
                }
            });

            assertThat(failure.get(10, TimeUnit.SECONDS)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("TaskLocal values can be set only inside a task");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // TaskLocal across hops

    @Test
    void aWorkerSeesACopyOfTheTasksValuesAndNeverWritesBack() throws Exception {
        List<String> seen = new ArrayList<>();

        EventLoop.run(() -> {
            REQUEST_ID.set("task");
            return ToThread.runSync(() -> {
                String inWorker = REQUEST_ID.get();
                REQUEST_ID.set("worker");
                return inWorker + " -> " + REQUEST_ID.get();
            }).thenCompose(first -> {
                seen.add(first);
                seen.add("task still has " + REQUEST_ID.get());
                return ToThread.runSync(REQUEST_ID::get);
            }).thenAccept(second -> seen.add("next call sees " + second));
        });

        assertThat(seen).containsExactly("task -> worker", "task still has task", "next call sees task");
    }

    @Test
    void codeRunFromAWorkerSeesTheWorkersValuesAndNeverWritesBack() throws Exception {
        List<String> seen = new ArrayList<>();

        EventLoop.run(() -> {
            REQUEST_ID.set("task");
            return ToThread.runSync(() -> {
                REQUEST_ID.set("worker");
                String fromRun = FromThread.run(() -> {
                    String inLoop = REQUEST_ID.get();
                    REQUEST_ID.set("loop via run");
                    return Async.checkpoint().thenApply(v -> inLoop + " -> " + REQUEST_ID.get());
                });
                String fromRunSync = FromThread.runSync(() -> {
                    String inLoop = REQUEST_ID.get();
                    REQUEST_ID.set("loop via runSync");
                    return inLoop;
                });
                seen.add(fromRun);
                seen.add(fromRunSync);
                seen.add("worker still has " + REQUEST_ID.get());
                return null;
            }).thenRun(() -> seen.add("task still has " + REQUEST_ID.get()));
        });

        assertThat(seen).containsExactly("worker -> loop via run", "worker", "worker still has worker",
                "task still has task");
    }

    // ---------------------------------------------------------------------------------------------
    // SLF4J MDC

    @Test
    void mdcSetInLoopCodeIsVisibleInTheWorker() throws Exception {
        try {
            String seen = EventLoop.run(() -> {
                MDC.put("requestId", "r-42");
                return ToThread.runSync(() -> REQUEST_ID.get() + " " + MDC.get("requestId"));
            });

            assertThat(seen).isEqualTo("null r-42");
        } finally {
            MDC.clear();
        }
    }

    @Test
    void mdcSetInATaskStaysWithItAcrossAnAwait() throws Exception {
        try {
            List<String> seen = new ArrayList<>();

            EventLoop.run(() -> {
                MDC.put("requestId", "r-7");
                return Async.sleep(Duration.ofMillis(5)).thenCompose(v -> {
                    seen.add("loop: " + MDC.get("requestId"));
                    return ToThread.runSync(() -> MDC.get("requestId"));
                }).thenAccept(inWorker -> seen.add("worker: " + inWorker));
            });

            assertThat(seen).containsExactly("loop: r-7", "worker: r-7");
        } finally {
            MDC.clear();
        }
    }

    @Test
    void mdcSetInOneTaskIsNotSeenByAnother() throws Exception {
        try {
            Event aSet = new Event();
            List<String> seen = new ArrayList<>();

            EventLoop.run(() -> TaskGroup.open(tg -> {
                tg.startSoon("A", () -> {
                    MDC.put("user", "alice");
                    aSet.set();
                    return Async.sleep(Duration.ofMillis(20));
                });
                tg.startSoon("B", () -> aSet.await().thenCompose(v -> {
                    seen.add("B on loop: " + MDC.get("user"));
                    return ToThread.runSync(() -> MDC.get("user"));
                }).thenAccept(inWorker -> seen.add("B in worker: " + inWorker)));
                return CompletableFuture.completedFuture(null);
            }));

            assertThat(seen).containsExactly("B on loop: null", "B in worker: null");
        } finally {
            MDC.clear();
        }
    }

    @Test
    void mdcChangesOfAWorkerCallDoNotLeakIntoTheNextCallOnTheSameWorker() throws Exception {
        try {
            List<String> seen = new ArrayList<>();

            EventLoop.run(() -> {
                MDC.put("requestId", "first");
                AtomicReference<Thread> firstWorker = new AtomicReference<>();
                return ToThread.runSync(() -> {
                    MDC.put("leak", "from the first call");
                    firstWorker.set(Thread.currentThread());
                    return Thread.currentThread().getName() + " " + MDC.get("requestId");
                }).thenCompose(first -> {
                    seen.add(first);
                    MDC.remove("requestId");
                    MDC.put("other", "second");
                    // the parked worker is woken for the next call: the same thread runs it
                    return Workers.untilParked(firstWorker.get());
                }).thenCompose(parked -> ToThread.runSync(() -> Thread.currentThread().getName() + " "
                        + MDC.get("requestId") + " " + MDC.get("leak") + " " + MDC.get("other")))
                        .thenAccept(seen::add);
            });

            assertThat(seen).hasSize(2);
            String worker = seen.get(0).split(" ")[0];
            assertThat(seen).containsExactly(worker + " first", worker + " null null second");
        } finally {
            MDC.clear();
        }
    }

    @Test
    void mdcSetInAWorkerIsVisibleInCodeItRunsOnTheLoop() throws Exception {
        try {
            List<String> seen = new ArrayList<>();

            EventLoop.run(() -> ToThread.runSync(() -> {
                MDC.put("job", "j-9");
                seen.add("run: " + FromThread.run(() -> Async.checkpoint().thenApply(v -> MDC.get("job"))));
                seen.add("runSync: " + FromThread.runSync(() -> {
                    String job = MDC.get("job");
                    MDC.put("job", "changed on the loop");
                    return job;
                }));
                seen.add("worker: " + MDC.get("job"));
                return null;
            }));

            assertThat(seen).containsExactly("run: j-9", "runSync: j-9", "worker: j-9");
        } finally {
            MDC.clear();
        }
    }

    @Test
    void aCallbackFromAnotherThreadAfterATasksOffloadResultSeesNoneOfTheTasksMdc() throws Exception {
        // The loop keeps a task's context applied between the results of its offloads; a callback
        // that belongs to no task (submitted from another thread) must still start from none.
        BlockingPortal portal = BlockingPortal.start(EventLoop.builder().name("ctx-kept"));
        EventLoop loop = portal.eventLoop();
        try {
            for (int round = 0; round < 50; round++) {
                String id = "r-" + round;
                String inTask = portal.call(() -> {
                    MDC.put("requestId", id);
                    return ToThread.runSync(() -> "first").thenCompose(v -> ToThread.runSync(() -> "second"))
                            .thenApply(v -> MDC.get("requestId"));
                });
                CompletableFuture<String> plain = new CompletableFuture<>();
                loop.execute(() -> plain.complete(String.valueOf(MDC.get("requestId"))));

                assertThat(inTask).isEqualTo(id);
                assertThat(plain.get(10, TimeUnit.SECONDS)).isEqualTo("null");
            }
            assertThat(MDC.get("requestId")).as("the calling thread's MDC is untouched").isNull();
        } finally {
            portal.close();
            MDC.clear();
        }
    }

    @Test
    void tasksTakingTurnsOnTheLoopEachKeepTheirOwnMdcChanges() throws Exception {
        try {
            List<String> seen = new ArrayList<>();

            EventLoop.run(() -> TaskGroup.open(tg -> {
                for (String name : List.of("A", "B")) {
                    tg.startSoon(name, () -> {
                        MDC.put("task", name);
                        return ToThread.runSync(() -> MDC.get("task")).thenCompose(first -> {
                            // Changed in a callback that ran on an offload's result: kept for the
                            // task's next callback, whatever ran in between.
                            MDC.put("step", name + "-2");
                            return ToThread.runSync(() -> MDC.get("step"));
                        }).thenApply(second -> {
                            synchronized (seen) {
                                seen.add(name + ": " + MDC.get("task") + " " + MDC.get("step") + " " + second);
                            }
                            return null;
                        });
                    });
                }
                return CompletableFuture.completedFuture(null);
            }));

            assertThat(seen).containsExactlyInAnyOrder("A: A A-2 A-2", "B: B B-2 B-2");
        } finally {
            MDC.clear();
        }
    }

    @Test
    void theCallingThreadsMdcTravelsIntoEventLoopRunAndIsRestoredAfterwards() throws Exception {
        MDC.put("caller", "c-1");
        try {
            String seen = EventLoop.run(() -> {
                MDC.put("inner", "set in main");
                return ToThread.runSync(() -> MDC.get("caller") + " " + MDC.get("inner"));
            });

            assertThat(seen).isEqualTo("c-1 set in main");
            assertThat(MDC.get("caller")).isEqualTo("c-1");
            assertThat(MDC.get("inner")).isNull();
        } finally {
            MDC.clear();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Any ThreadLocal registered with Micrometer's context-propagation

    @Test
    void aRegisteredThreadLocalTravelsLikeTheMdc() throws Exception {
        ThreadLocal<String> tenant = new ThreadLocal<>();
        String key = "portal.test.tenant";
        ContextRegistry.getInstance().registerThreadLocalAccessor(key, tenant::get, tenant::set, tenant::remove);
        try {
            List<String> seen = new ArrayList<>();

            EventLoop.run(() -> {
                tenant.set("acme");
                AtomicReference<Thread> firstWorker = new AtomicReference<>();
                return ToThread.runSync(() -> {
                    firstWorker.set(Thread.currentThread());
                    String inWorker = tenant.get();
                    tenant.set("worker-tenant");
                    String fromLoop = FromThread.run(() -> CompletableFuture.completedFuture(tenant.get()));
                    return Thread.currentThread().getName() + "|" + inWorker + "|" + fromLoop;
                }).thenCompose(first -> {
                    seen.add(first);
                    tenant.remove();
                    // the parked worker is woken for the next call: the same thread runs it
                    return Workers.untilParked(firstWorker.get());
                }).thenCompose(parked -> ToThread.runSync(() -> Thread.currentThread().getName() + "|" + tenant.get()))
                        .thenAccept(seen::add);
            });

            assertThat(seen).hasSize(2);
            String worker = seen.get(0).split("\\|")[0];
            assertThat(seen).containsExactly(worker + "|acme|worker-tenant", worker + "|null");
        } finally {
            ContextRegistry.getInstance().removeThreadLocalAccessor(key);
            tenant.remove();
        }
    }
}
