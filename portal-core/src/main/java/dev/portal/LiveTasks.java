package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

import org.jspecify.annotations.Nullable;

/**
 * The tasks alive on one loop, as a list threaded through the tasks themselves: adding and removing
 * a task costs a few field writes and no allocation, where a concurrent set costs a node and a CAS
 * or two each way. Only the loop thread changes the list.
 *
 * <p>Other threads may read {@link #size()} and walk the list with {@link #snapshot}, for
 * statistics. The forward links are written with release stores and read with acquiring loads
 * (no fence on the loop's side), and a removed task links to itself, so a reader that
 * stands on a task as it is removed notices and walks again from the head, keeping what it found; a
 * removed task never keeps later tasks reachable (a user may hold a finished task through a stage
 * for as long as they like). A snapshot is weakly consistent: it may hold a task that ended during
 * the walk or miss one that started during it. Long-lived tasks sit at the head of the list, so
 * every walk reaches them first.
 */
final class LiveTasks {

    private static final int MAX_RESTARTS = 8;
    private static final VarHandle SIZE;

    static {
        try {
            SIZE = MethodHandles.lookup().findVarHandle(LiveTasks.class, "size", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final LoopTask head = new LoopTask("live-tasks-head", Locals.EMPTY, null);
    private LoopTask tail = head;
    /** Written with release stores by the loop (a plain store on x86, where a volatile one fences). */
    @SuppressWarnings("unused") // read and written with SIZE
    private int size;
    /** Tasks ever added; loop thread only (a graceful stop counts the tasks that ended in its grace). */
    private long added;

    /** Adds {@code task}; does nothing if it is already in. Loop thread only. */
    void add(LoopTask task) {
        if (task.live) {
            return;
        }
        task.live = true;
        task.prevLive = tail;
        LoopTask.NEXT_LIVE.set(task, (LoopTask) null);
        LoopTask.NEXT_LIVE.setRelease(tail, task);
        tail = task;
        added++;
        SIZE.setRelease(this, size + 1);
    }

    /** Removes {@code task}; does nothing if it is not in. Loop thread only. */
    void remove(LoopTask task) {
        if (!task.live) {
            return;
        }
        task.live = false;
        LoopTask prev = task.prevLive;
        LoopTask next = (LoopTask) LoopTask.NEXT_LIVE.get(task);
        LoopTask.NEXT_LIVE.setRelease(prev, next);
        if (next != null) {
            next.prevLive = prev;
        } else {
            tail = prev;
        }
        task.prevLive = null;
        LoopTask.NEXT_LIVE.setRelease(task, task);
        SIZE.setRelease(this, size - 1);
    }

    /** How many tasks were ever added. Loop thread only. */
    long added() {
        return added;
    }

    int size() {
        return (int) SIZE.getAcquire(this);
    }

    boolean isEmpty() {
        return size() == 0;
    }

    /** The live tasks started by {@code owner} (all of them if null), in start order. Any thread. */
    List<LoopTask> snapshot(@Nullable Object owner) {
        List<LoopTask> found = new ArrayList<>();
        Set<LoopTask> seen = null;
        for (int attempt = 0; attempt <= MAX_RESTARTS; attempt++) {
            LoopTask t = head.nextLive();
            boolean restart = false;
            while (t != null) {
                LoopTask next = t.nextLive();
                if (next == t) {
                    // Removed under our feet: walk again from the head, keeping what we found.
                    restart = true;
                    break;
                }
                if ((owner == null || t.owner == owner) && (seen == null || seen.add(t))) {
                    found.add(t);
                }
                t = next;
            }
            if (!restart) {
                break;
            }
            if (seen == null) {
                seen = Collections.newSetFromMap(new IdentityHashMap<>());
                seen.addAll(found);
            }
        }
        if (seen != null) {
            found.removeIf(task -> !task.live);
            found.sort((a, b) -> Long.signum(a.startNanos - b.startNanos));
        }
        return found;
    }
}
