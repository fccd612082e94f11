package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** The loop's intrusive task list: one writer (the loop), any number of readers. */
class LiveTasksTest {

    private static LoopTask task(String name) {
        return new LoopTask(name, Locals.EMPTY, null);
    }

    @Test
    void addAndRemoveAreIdempotentAndKeepStartOrder() {
        LiveTasks tasks = new LiveTasks();
        LoopTask a = task("a");
        LoopTask b = task("b");
        LoopTask c = task("c");
        tasks.add(a);
        tasks.add(b);
        tasks.add(b);
        tasks.add(c);
        assertThat(tasks.size()).isEqualTo(3);
        assertThat(tasks.snapshot(null)).containsExactly(a, b, c);

        tasks.remove(b);
        tasks.remove(b);
        assertThat(tasks.size()).isEqualTo(2);
        assertThat(tasks.snapshot(null)).containsExactly(a, c);

        tasks.remove(c);
        tasks.add(task("d"));
        tasks.remove(a);
        assertThat(tasks.snapshot(null)).extracting(LoopTask::name).containsExactly("d");
        assertThat(tasks.isEmpty()).isFalse();
    }

    @Test
    void aSnapshotCanBeLimitedToOneOwner() {
        LiveTasks tasks = new LiveTasks();
        Object portal = new Object();
        LoopTask mine = task("mine");
        mine.owner = portal;
        LoopTask other = task("other");
        tasks.add(other);
        tasks.add(mine);
        assertThat(tasks.snapshot(portal)).containsExactly(mine);
        assertThat(tasks.snapshot(new Object())).isEmpty();
    }

    @Test
    void aRemovedTaskLinksToItselfSoItKeepsNoLaterTaskReachable() {
        LiveTasks tasks = new LiveTasks();
        LoopTask a = task("a");
        LoopTask b = task("b");
        tasks.add(a);
        tasks.add(b);
        tasks.remove(a);
        assertThat(a.nextLive()).isSameAs(a);
        assertThat(a.prevLive).isNull();
        tasks.remove(b);
        assertThat(tasks.isEmpty()).isTrue();
        assertThat(tasks.snapshot(null)).isEmpty();
    }

    /**
     * Readers walk the list while the writer churns through short-lived tasks around a few that
     * stay: every snapshot must hold each long-lived task exactly once and end.
     */
    @RepeatedTest(5)
    void readersSeeEveryLongLivedTaskWhileTheWriterChurns() throws Exception {
        LiveTasks tasks = new LiveTasks();
        List<LoopTask> stable = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            LoopTask t = task("stable-" + i);
            stable.add(t);
            tasks.add(t);
        }
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicReference<AssertionError> failure = new AtomicReference<>();
        AtomicInteger snapshots = new AtomicInteger();
        Thread writer = new Thread(() -> {
            Random random = new Random(42);
            List<LoopTask> churn = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            // Churn until the readers have walked the list often, so the two always overlap.
            for (int i = 0; (i < 200_000 || snapshots.get() < 500) && System.nanoTime() - deadline < 0; i++) {
                if (churn.isEmpty() || random.nextBoolean()) {
                    LoopTask t = task("t");
                    tasks.add(t);
                    churn.add(t);
                } else {
                    tasks.remove(churn.remove(random.nextInt(churn.size())));
                }
            }
            writing.set(false);
        }, "writer");
        Runnable reader = () -> {
            while (writing.get() && failure.get() == null) {
                List<LoopTask> seen = tasks.snapshot(null);
                Set<LoopTask> distinct = new HashSet<>(seen);
                if (distinct.size() != seen.size()) {
                    failure.set(new AssertionError("a snapshot held a task twice"));
                } else if (!distinct.containsAll(stable)) {
                    failure.set(new AssertionError("a snapshot missed a task alive throughout: " + seen));
                }
                snapshots.incrementAndGet();
            }
        };
        Thread r1 = new Thread(reader, "reader-1");
        Thread r2 = new Thread(reader, "reader-2");
        writer.start();
        r1.start();
        r2.start();
        writer.join(30_000);
        r1.join(30_000);
        r2.join(30_000);
        assertThat(writer.isAlive() || r1.isAlive() || r2.isAlive()).as("a thread did not finish").isFalse();
        if (failure.get() != null) {
            throw failure.get();
        }
        assertThat(snapshots.get()).as("snapshots taken during the churn").isGreaterThanOrEqualTo(500);
        List<LoopTask> last = tasks.snapshot(null);
        assertThat(last).containsAll(stable);
        assertThat(last).hasSize(tasks.size());
    }
}
