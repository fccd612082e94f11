package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The wake-up tree of a loop turn ({@link Wakeup}): every waiter is woken exactly by the tree,
 * whichever of them left on their own first. The threads here park with no timeout and are woken
 * by nothing but the tree, so a waiter the tree missed hangs its thread and fails the join.
 */
class WakeupTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    private final EventLoop loop = EventLoop.start();

    @AfterEach
    void stopLoop() throws Exception {
        loop.shutdown();
        assertThat(loop.awaitTermination(WAIT)).isTrue();
    }

    /** A thread waiting the way a portal caller does: parks until its result is there, then leaves. */
    private final class Waiter {
        final AtomicBoolean done = new AtomicBoolean();
        final CountDownLatch registered = new CountDownLatch(1);
        volatile Wakeup wakeup;
        volatile int stateAtLeave = -1;
        final Thread thread;

        Waiter(String name) {
            thread = new Thread(() -> {
                wakeup = new Wakeup(loop);
                registered.countDown();
                while (!done.get()) {
                    LockSupport.park(this);
                }
                stateAtLeave = wakeup.state();
                wakeup.leave();
            }, name);
            thread.setDaemon(true);
            thread.start();
        }

        /** The thread stops waiting by itself (its result came before it parked, or it gave up). */
        void leaveOnItsOwn() {
            done.set(true);
            LockSupport.unpark(thread);
        }
    }

    private List<Waiter> startWaiters(int n) throws InterruptedException {
        List<Waiter> waiters = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            waiters.add(new Waiter("waiter-" + i));
        }
        for (Waiter w : waiters) {
            assertThat(w.registered.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
            await().atMost(WAIT).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(1))
                    .until(() -> w.thread.getState() == Thread.State.WAITING); // parked
        }
        return waiters;
    }

    private static List<Wakeup> turnOf(List<Waiter> waiters) {
        List<Wakeup> turn = new ArrayList<>();
        for (Waiter w : waiters) {
            turn.add(w.wakeup);
        }
        return turn;
    }

    private static void joinAll(List<Waiter> waiters) throws InterruptedException {
        for (Waiter w : waiters) {
            w.thread.join(WAIT.toMillis());
            assertThat(w.thread.isAlive()).as("%s was never woken", w.thread.getName()).isFalse();
        }
    }

    @Test
    void everyWaiterOfATurnIsWokenThoughTheLoopUnparksOnlyTheFirst() throws Exception {
        for (int n : new int[] {1, 2, 3, 7, 8, 64, 100}) {
            List<Waiter> waiters = startWaiters(n);
            for (Waiter w : waiters) {
                w.done.set(true); // results in, nobody unparked yet
            }
            Wakeup.wakeAll(turnOf(waiters));
            joinAll(waiters);
            for (Waiter w : waiters) {
                assertThat(w.stateAtLeave).as("%s woken by the tree", w.thread.getName()).isEqualTo(Wakeup.HANDED);
            }
        }
    }

    @Test
    void waitersThatLeftOnTheirOwnDoNotCutOffTheWaitersBelowThem() throws Exception {
        Random random = new Random(42);
        for (int round = 0; round < 200; round++) {
            int n = 1 + random.nextInt(40);
            List<Waiter> waiters = startWaiters(n);
            List<Waiter> leaving = new ArrayList<>();
            for (Waiter w : waiters) {
                if (random.nextInt(3) == 0) {
                    leaving.add(w);
                }
            }
            // Some leave before the turn is handed out, the rest while it is: both orders happen.
            int early = leaving.isEmpty() ? 0 : random.nextInt(leaving.size() + 1);
            for (int i = 0; i < early; i++) {
                leaving.get(i).leaveOnItsOwn();
                leaving.get(i).thread.join(WAIT.toMillis());
            }
            for (Waiter w : waiters) {
                w.done.set(true);
            }
            Thread racer = new Thread(() -> {
                for (int i = early; i < leaving.size(); i++) {
                    leaving.get(i).leaveOnItsOwn();
                }
            });
            racer.start();
            Wakeup.wakeAll(turnOf(waiters));
            racer.join(WAIT.toMillis());
            joinAll(waiters);
            for (int i = 0; i < early; i++) {
                assertThat(leaving.get(i).stateAtLeave).isEqualTo(Wakeup.WAITING);
            }
        }
    }

    @Test
    void aTurnWhoseWaitersAllLeftWakesNobodyAndAnEmptyTurnIsNothing() throws Exception {
        Wakeup.wakeAll(List.of());
        Wakeup.handTo(null);
        List<Waiter> waiters = startWaiters(5);
        for (Waiter w : waiters) {
            w.leaveOnItsOwn();
        }
        joinAll(waiters);
        Wakeup.wakeAll(turnOf(waiters)); // every CAS fails; each skipped waiter's children are tried
        for (Waiter w : waiters) {
            assertThat(w.wakeup.state()).isEqualTo(Wakeup.LEFT);
        }
    }

    @Test
    void aWakeOffTheLoopThreadWakesTheWaiterAtOnce() throws Exception {
        List<Waiter> waiters = startWaiters(1);
        Waiter w = waiters.get(0);
        w.done.set(true);
        loop.wake(w.wakeup); // this thread is not the loop's: no turn to wait for
        joinAll(waiters);
        assertThat(w.stateAtLeave).isEqualTo(Wakeup.HANDED);
    }

    @Test
    void fairWakeupsHandEveryWaiterItsWakeUpFromTheLoopItselfAndSkipThoseThatLeft() throws Exception {
        for (int n : new int[] {1, 2, 7, 64}) {
            List<Waiter> waiters = startWaiters(n);
            Waiter gone = waiters.get(n - 1);
            gone.leaveOnItsOwn();
            gone.thread.join(WAIT.toMillis());
            for (Waiter w : waiters) {
                w.done.set(true);
            }
            Wakeup.wakeEach(turnOf(waiters));
            // Handed before wakeEach returned, not later by another waiter: nobody waits on a tree.
            for (Waiter w : waiters) {
                assertThat(w.wakeup.state()).as("%s", w.thread.getName())
                        .isEqualTo(w == gone ? Wakeup.LEFT : Wakeup.HANDED);
            }
            joinAll(waiters);
        }
    }
}
