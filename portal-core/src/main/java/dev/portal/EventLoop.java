package dev.portal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ContextSnapshot;
import io.micrometer.context.ContextSnapshotFactory;

import dev.portal.internal.AdaptiveSpin;
import dev.portal.internal.MpscQueue;
import dev.portal.internal.ThreadContext;
import dev.portal.internal.TimerQueue;
import dev.portal.internal.Worker;
import dev.portal.internal.WorkerPool;

import org.jspecify.annotations.Nullable;

/**
 * A managed event loop: one thread that runs async code, with a task queue fed from any thread,
 * timers, a per-loop default {@link CapacityLimiter} of 40 tokens and a pool of worker threads for
 * {@link ToThread#runSync}. AnyIO's {@code anyio.run}.
 *
 * <pre>{@code
 * // run a loop on this thread until main's stage completes (anyio.run)
 * String body = EventLoop.run(() -> ToThread.runSync(() -> Files.readString(path)));
 *
 * // or keep a loop running on its own thread
 * try (EventLoop loop = EventLoop.builder().name("portal-loop").start()) { ... }
 * }</pre>
 *
 * <p><b>Threads.</b> {@link #execute}, {@link #inEventLoop()}, {@link #statistics()},
 * {@link #tasks()}, {@link #measureLag()}, {@link #shutdown()} and {@link #close()} may be called
 * from any thread; {@link #shutdownGracefully} from any thread but the loop's and its workers'. A
 * loop with nothing to do parks its thread and uses no CPU.
 *
 * <p><b>Stopping.</b> {@link #shutdown()} (or {@link #close()}, which also waits) cancels the loop's
 * root cancel scope, so every task is cancelled at its next checkpoint; the loop keeps running
 * until every task has finished or the {@linkplain Builder#shutdownTimeout shutdown timeout} has
 * passed. Callbacks submitted afterwards are rejected with {@link RejectedExecutionException};
 * callbacks that raced with the stop either run or hear of the rejection, never vanish. Idle
 * workers exit with the loop; workers still running an abandoned call exit when it returns.
 *
 * <p><b>Stopping gracefully.</b> {@link #shutdownGracefully} first stops taking new work and lets
 * the work in flight finish within a grace period, then cancels the rest as above and waits for the
 * workers, and reports what finished, what was cancelled and which functions still run.
 * <em>New work</em>, refused at once with a {@link RejectedExecutionException} that names the loop,
 * is what enters from threads that are neither the loop's nor its workers: calls on the portals
 * on the loop and {@link #execute} from those threads. <em>Continuations</em> of work in flight
 * stay accepted until the loop has stopped: whatever the loop thread schedules (callbacks, timers,
 * tasks started by tasks), what its workers send (offload results, {@link FromThread} calls), and
 * what Portal routes for a task it knows (stages brought in with {@link Async#await},
 * cancellations, {@link PortalResource#exit}). A foreign thread continuing a task through
 * {@code execute} looks like new work and is refused: bring foreign stages onto the loop with
 * {@link Async#await}.
 *
 * <p><b>Memory consistency.</b> Actions in a thread before {@link #execute} happen-before the
 * callback runs on the loop.
 */
public final class EventLoop implements Executor, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(EventLoop.class.getName());
    private static final ThreadLocal<EventLoop> CURRENT = new ThreadLocal<>();
    private static final AtomicInteger LOOP_IDS = new AtomicInteger();
    private static final int NEW = 0;
    private static final int RUNNING = 1;
    /** A graceful stop's grace period: no new work from outside, running work finishes. */
    private static final int DRAINING = 2;
    private static final int STOPPING = 3;
    private static final int TERMINATED = 4;
    /** {@link #stopRequest} bits: a graceful stop was asked for; a stop now (cancel everything). */
    private static final int STOP_GRACEFULLY = 1;
    private static final int STOP_NOW = 2;
    /** How often a draining loop with no task left looks whether its workers are done (see park). */
    private static final long DRAIN_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final int EXTERNAL_BATCH = 1024;
    private static final int SLEEP_FLAG = 16;
    private static final int CLOCK_SLOT = 8;
    /** The published clock's value while the loop sleeps or is not running: read the clock. */
    private static final long NO_CLOCK = Long.MIN_VALUE;

    private static final VarHandle SLEEPING;
    private static final VarHandle STOP_REQUEST;
    private static final VarHandle GRACEFUL;
    private static final VarHandle CLOCK;
    private static final VarHandle TICKS;
    private static final VarHandle LAST_TIMER_LAG;
    private static final VarHandle MAX_TIMER_LAG;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            SLEEPING = MethodHandles.arrayElementVarHandle(int[].class);
            STOP_REQUEST = lookup.findVarHandle(EventLoop.class, "stopRequest", int.class);
            GRACEFUL = lookup.findVarHandle(EventLoop.class, "graceful", GracefulStop.class);
            CLOCK = MethodHandles.arrayElementVarHandle(long[].class);
            TICKS = lookup.findVarHandle(LoopFrameFields.class, "ticks", long.class);
            LAST_TIMER_LAG = lookup.findVarHandle(LoopFrameFields.class, "lastTimerLagNanos", long.class);
            MAX_TIMER_LAG = lookup.findVarHandle(LoopFrameFields.class, "maxTimerLagNanos", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String name;
    private final Builder config;
    private final MpscQueue<Runnable> external = new MpscQueue<>();
    private final ArrayDeque<Runnable> local = new ArrayDeque<>();
    private final TimerQueue timers = new TimerQueue();
    private final LiveTasks liveTasks = new LiveTasks();
    private final CompletableFuture<Void> terminated = new CompletableFuture<>();
    private final List<Runnable> shutdownHooks = new ArrayList<>();
    /** Threads to wake at the end of the turn; loop thread only (see {@link #wake}). */
    private final List<Wakeup> wakeAfterTurn = new ArrayList<>();
    final CancelScope rootScope = CancelScope.root();
    final WorkerPool workers;
    final CapacityLimiter defaultLimiter;
    final CancelMode defaultCancelMode;
    /** What ThreadLocal context (MDC, ...) this loop's hops capture and apply. */
    final ThreadContext threadContext;
    /** Settings read on hot paths, copied out of {@link #config}. */
    final long loopSpinNanos;
    final long callerSpinNanos;
    /**
     * Whether the idle loop spins before it parks, learnt apart for two kinds of wait, which differ
     * in how soon their work comes: with offloads of its own out on workers (their results come
     * as soon as the functions return), and with none (the next call or task comes from outside,
     * maybe back to back, maybe a web request's worth of milliseconds later). Loop thread only.
     */
    private final AdaptiveSpin spinForResults;
    private final AdaptiveSpin spinForCalls;
    /**
     * Offloads this loop's code started whose results the loop has not yet taken; loop thread only.
     * Decides which of the two spins an idle turn uses; a count that drifts only costs that choice.
     */
    int offloadsOut;
    /** The loop thread's last context capture, handed out again while its values are unchanged. */
    private final ThreadContext.Captured lastCapture = new ThreadContext.Captured();
    /** Whether portal callers spin for their results; shared by them all (see {@link AdaptiveSpin}). */
    final AdaptiveSpin callerSpin;
    final long callerMaxSpinNanos;
    /** Whether the loop unparks each waiter of a turn itself ({@link Builder#fairWakeups}). */
    final boolean fairWakeups;
    final OffloadCounters offloads = new OffloadCounters();
    /** The listeners; each reporting point reads them once and does nothing more when there are none. */
    final LoopListeners listeners;

    private volatile @Nullable Thread thread;
    private volatile int state = NEW;
    /**
     * The park flag, 1 while the loop sleeps, at index {@link #SLEEP_FLAG}: the loop writes it on
     * every park and submitters CAS it, so it sits a cache line away from every field that
     * submitters read on each submission (the thread, the state, the queue), which would otherwise
     * miss after each of the loop's naps.
     */
    private final int[] sleeping = new int[2 * SLEEP_FLAG + 1];
    /**
     * The loop's published clock at index {@link #CLOCK_SLOT}, on a line of its own: the start of
     * the current turn, written once per turn, or {@link #NO_CLOCK} from before the loop parks
     * until its next turn, and before it starts and after it stops. See {@link #statisticsClock()}.
     */
    private final long[] clock = newClock();
    /** {@link #STOP_GRACEFULLY} and {@link #STOP_NOW} bits, set by any thread; see {@link #stopSeen}. */
    private volatile int stopRequest;
    /** The stop bits the loop has acted on; loop thread only. */
    private int stopSeen;
    private long stopDeadline;
    /** The graceful stop asked for, the first one; null until {@link #shutdownGracefully} is called. */
    private volatile @Nullable GracefulStop graceful;
    /**
     * Set on the loop thread when a graceful stop's grace period ends: the cancel mode that every
     * offload cancelled from then on is treated with, whatever its own ({@link Job#onCancelled}).
     */
    @Nullable CancelMode stopMode;
    /** What the loop's stop did, completed once it has terminated and waited for its workers. */
    private final CompletableFuture<ShutdownReport> report = new CompletableFuture<>();
    // Loop thread only: the figures of the report, gathered as the stop goes.
    private long stopStartNanos;
    private int tasksAtDrainStart;
    private long tasksAddedAtDrainStart;
    private int tasksFinishedInGrace;
    private boolean finishedWithinGrace;
    private List<TaskInfo> cancelledTasks = List.of();
    private final long[] offloadsAtStop = new long[4];
    private final List<Runnable> drainHooks = new ArrayList<>();

    /** The loop-thread context of the running callback, and what else the loop writes per callback. */
    final LoopFrame frame;

    // Observability, written by the loop thread, read anywhere.
    private final LongAdder callbackFailures = new LongAdder();
    final BlockedLoopDetector.Probe blockedProbe;

    private EventLoop(Builder config) {
        this.config = config.copy(); // the loop keeps its settings even if the builder is reused
        this.name = config.name != null ? config.name : "portal-loop-" + LOOP_IDS.incrementAndGet();
        this.rootScope.bindRoot(this);
        this.frame = new LoopFrame(rootScope);
        this.defaultLimiter = config.defaultThreadLimiter != null ? config.defaultThreadLimiter
                : new CapacityLimiter(config.defaultThreadLimit);
        this.defaultCancelMode = config.defaultCancelMode;
        this.threadContext = config.threadContext;
        this.loopSpinNanos = config.loopSpinNanos;
        this.callerSpinNanos = config.callerSpinNanos;
        this.callerMaxSpinNanos = config.callerMaxSpinNanos;
        this.fairWakeups = config.fairWakeups;
        this.spinForResults = new AdaptiveSpin(config.loopSpinNanos);
        this.spinForCalls = new AdaptiveSpin(config.loopSpinNanos);
        this.callerSpin = new AdaptiveSpin(config.callerSpinNanos);
        if (config.virtualWorkers && config.threadFactory != null) {
            throw new IllegalStateException("virtualWorkers(true) and threadFactory(" + config.threadFactory + ") are "
                    + "both set on event loop " + name + "; the factory decides what kind of thread a worker is: pass "
                    + "a virtual thread factory (Thread.ofVirtual().factory()) and leave virtualWorkers false");
        }
        this.workers = new WorkerPool(config.workerNamePrefix != null ? config.workerNamePrefix : name + "-worker-",
                config.workerIdleTimeout, config.virtualWorkers, config.threadFactory, config.workerSpinNanos,
                this::reportUncaught);
        this.listeners = new LoopListeners(name, this.config.listeners);
        this.blockedProbe = new BlockedLoopDetector.Probe(this, config.blockedLoopThreshold);
    }

    /** A builder for a loop with non-default settings. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Runs an event loop on the calling thread until {@code main}'s stage completes, then stops
     * the loop and returns the value, or throws the exception, that the stage completed with (the
     * same object, not wrapped). AnyIO's {@code anyio.run(main)}.
     *
     * @throws IllegalStateException if the calling thread already runs an event loop
     */
    public static <T> @Nullable T run(AsyncCallable<T> main) throws Exception {
        return builder().run(main);
    }

    /** Starts an event loop with default settings on a new thread named {@code portal-loop-N}. */
    public static EventLoop start() {
        return builder().start();
    }

    /** The event loop whose thread is the calling thread, or null. */
    public static @Nullable EventLoop current() {
        Thread t = Thread.currentThread();
        if (t instanceof LoopThread) {
            return ((LoopThread) t).running;
        }
        return CURRENT.get();
    }

    static EventLoop requireCurrent(String what) {
        EventLoop loop = current();
        if (loop == null) {
            throw new IllegalStateException(what + " must be called from async code on an event loop thread (current "
                    + "thread: " + Thread.currentThread().getName() + "). Run it inside EventLoop.run(...), a task, or "
                    + "a BlockingPortal call; from a worker thread use FromThread.run(...)");
        }
        return loop;
    }

    static void requireLoop(EventLoop loop, String what) {
        if (!loop.inEventLoop()) {
            throw new IllegalStateException(what + " must be called on the thread of event loop " + loop.name
                    + " (current thread: " + Thread.currentThread().getName() + ")");
        }
    }

    /** Whether the calling thread is this loop's thread. */
    public boolean inEventLoop() {
        return thread == Thread.currentThread() && state != TERMINATED;
    }

    public String name() {
        return name;
    }

    /**
     * This loop's default limiter for {@link ToThread#runSync}: the one given to
     * {@link Builder#defaultThreadLimiter}, or one of 40 tokens (or {@link Builder#defaultThreadLimit})
     * that the loop made. Any thread.
     */
    public CapacityLimiter defaultThreadLimiter() {
        return defaultLimiter;
    }

    /** The cancel mode of {@link ToThread#runSync} calls that do not choose one ({@link CancelMode#SHIELD} unless configured). */
    public CancelMode defaultCancelMode() {
        return defaultCancelMode;
    }

    /** Whether the loop has stopped and its thread has finished with it. */
    public boolean isTerminated() {
        return state == TERMINATED;
    }

    /**
     * Whether a stop was asked for: {@link #shutdown()}, {@link #close()},
     * {@link #shutdownGracefully} or the end of {@link #run}'s main function.
     */
    public boolean isShutdown() {
        return stopRequest != 0 || state >= STOPPING;
    }

    /** Whether a graceful stop was asked for: new work from outside is refused (see {@link #execute}). */
    boolean isDraining() {
        return graceful != null;
    }

    // ---------------------------------------------------------------------------------------------
    // Submitting work

    /**
     * Runs {@code command} on the loop thread. From the loop thread itself it runs after the
     * current callback, in the same task and cancel scope; from other threads outside any task.
     *
     * <p>Once {@link #shutdownGracefully} has been called, a command from a thread that is neither
     * the loop's nor one of its workers is new work, and is refused; from the loop thread and the
     * workers (work in flight continuing) it is accepted until the loop has stopped.
     *
     * @throws RejectedExecutionException if the loop has stopped, or is stopping gracefully and the
     *         calling thread is not the loop's or one of its workers
     */
    @Override
    public void execute(Runnable command) {
        Objects.requireNonNull(command, "command must not be null");
        if (graceful != null && !inEventLoop() && !workers.isWorkerThread()) {
            throw shuttingDown("EventLoop.execute");
        }
        if (inEventLoop()) {
            LoopTask task = frame.currentTask;
            CancelScope scope = frame.currentScope;
            if (task == null && scope == rootScope) {
                local.add(command);
            } else {
                local.add(() -> runIn(task, scope, command));
            }
            return;
        }
        submit(command);
    }

    /** Schedules on the loop: the local queue from the loop thread, the external queue otherwise. */
    void executeSoon(Runnable command) {
        if (inEventLoop()) {
            local.add(command);
        } else {
            submit(command);
        }
    }

    /** Loop thread only: runs after the current callback, without touching the context. */
    void executeLocal(Runnable command) {
        local.add(command);
    }

    /**
     * Queues {@code command} from a thread other than the loop's and returns its place in the
     * external queue, for {@link #aheadOf}. Any thread but the loop's.
     *
     * @throws RejectedExecutionException if the loop has stopped
     */
    long submit(Runnable command) {
        long seq = external.append(command);
        if (seq < 0) {
            throw rejection();
        }
        wakeup();
        return seq;
    }

    /**
     * About how many callbacks submitted from other threads the loop has still to take before the
     * one that {@link #submit} placed at {@code seq} (0 once it took that one); a hint.
     */
    long aheadOf(long seq) {
        return Math.max(0, seq - 1 - external.polled());
    }

    /**
     * Wakes {@code waiter}, a thread blocked on a result this loop completed: at the end of the
     * loop's current turn when called on the loop thread, at once otherwise. A turn runs up to a
     * thousand callbacks; a thread waiting for many results in turn is then woken once per turn,
     * and the turn's waiters wake one another ({@link Wakeup}), so the loop pays one
     * {@code unpark} per turn, not one per waiter.
     */
    void wake(Wakeup waiter) {
        if (inEventLoop()) {
            wakeAfterTurn.add(waiter);
        } else {
            Wakeup.handTo(waiter);
        }
    }

    /** Wakes the threads that {@link #wake} put off. Loop thread only. */
    private void wakeWaiters() {
        if (fairWakeups) {
            Wakeup.wakeEach(wakeAfterTurn);
        } else {
            Wakeup.wakeAll(wakeAfterTurn);
        }
        wakeAfterTurn.clear();
    }

    private RejectedExecutionException rejection() {
        return new RejectedExecutionException("event loop " + name + " is stopped; it accepts no more work");
    }

    /** The refusal of new work during a graceful stop; {@code what} names the refused call. */
    RejectedExecutionException shuttingDown(String what) {
        if (state == TERMINATED) {
            return new RejectedExecutionException("event loop " + name + " is stopped; it accepts no more work ("
                    + what + " from thread " + Thread.currentThread().getName() + ")");
        }
        return new RejectedExecutionException("event loop " + name + " is shutting down gracefully: it accepts no new "
                + "work (" + what + " from thread " + Thread.currentThread().getName() + "); the work in flight "
                + "finishes. Start new work on a loop that is running");
    }

    private void wakeup() {
        if ((int) SLEEPING.getVolatile(sleeping, SLEEP_FLAG) == 1
                && SLEEPING.compareAndSet(sleeping, SLEEP_FLAG, 1, 0)) {
            Thread t = thread;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }
    }

    TimerQueue timers() {
        return timers;
    }

    void runIn(@Nullable LoopTask task, CancelScope scope, Runnable command) {
        LoopTask prevTask = frame.currentTask;
        CancelScope prevScope = frame.currentScope;
        ContextSnapshot.Scope threadLocals = enter(task, scope);
        try {
            command.run();
        } finally {
            leave(task, threadLocals, prevTask, prevScope);
        }
    }

    /**
     * Makes {@code task} and {@code scope} current, applying the task's ThreadLocal context if the
     * loop switches tasks. Hand the result to {@link #leave}, with the task and scope that were
     * current before. Loop thread only; no allocation when the task does not change.
     */
    ContextSnapshot.@Nullable Scope enter(@Nullable LoopTask task, CancelScope scope) {
        ContextSnapshot.Scope threadLocals = null;
        if (task != frame.currentTask && task != null) {
            threadLocals = threadContext.apply(task.threadLocals, lastCapture);
        }
        frame.currentTask = task;
        frame.currentScope = scope;
        return threadLocals;
    }

    /** Undoes {@link #enter}: keeps what the callback changed in the task's ThreadLocals, restores the rest. */
    void leave(@Nullable LoopTask task, ContextSnapshot.@Nullable Scope threadLocals, @Nullable LoopTask prevTask,
            CancelScope prevScope) {
        if (threadLocals != null && task != null) {
            // Keep what the callback put in the MDC (or other ThreadLocals) for the task's next callback.
            task.threadLocals = captureContext();
        }
        frame.currentTask = prevTask;
        frame.currentScope = prevScope;
        ThreadContext.restore(threadLocals);
    }

    /** Runs {@code command} now when called on the loop thread, otherwise as soon as the loop can. */
    void runOnLoop(Runnable command) {
        if (inEventLoop()) {
            command.run();
        } else {
            executeSoon(command);
        }
    }

    /**
     * Starts {@code fn} as a new task in {@code scope}; the returned stage completes in the
     * spawner's context. Loop thread only.
     */
    <T> LoopPromise<T> spawn(LoopTask task, CancelScope scope, AsyncCallable<T> fn,
            @Nullable LoopTask spawnerTask, CancelScope spawnerScope) {
        LoopPromise<T> result = new LoopPromise<>(this, spawnerTask, spawnerScope);
        start(task, scope, fn, result::settle);
        return result;
    }

    /** What a task's starter does with its outcome, on the loop thread. */
    interface TaskEnd<T> {
        void ended(@Nullable T value, @Nullable Throwable error);

        /** Called once if the task's first step returns a stage that is not complete yet. */
        default void suspended() {
        }
    }

    /**
     * Starts {@code fn} as a new task in {@code scope} and hands its outcome to {@code end} on the
     * loop thread, in whatever task and scope completed it: {@code end} sets its own context. A task
     * whose stage is already complete when {@code fn} returns ends at once, without a continuation.
     * Loop thread only.
     */
    <T> void start(LoopTask task, CancelScope scope, AsyncCallable<T> fn, TaskEnd<? super T> end) {
        addLive(task);
        LoopTask prevTask = frame.currentTask;
        CancelScope prevScope = frame.currentScope;
        // A portal task started by its own callback keeps its context applied after its first step,
        // as a completion does: tasks one caller starts in a row carry one capture, and the loop
        // then applies it once for all of them, not once per task (see enterKeepingContext).
        boolean kept = enterKeepingContext(task, scope);
        ContextSnapshot.Scope threadLocals = kept ? null : enter(task, scope);
        CompletionStage<T> stage;
        try {
            stage = callSafely(fn);
        } finally {
            if (kept) {
                frame.currentTask = prevTask;
                frame.currentScope = prevScope;
            } else {
                leave(task, threadLocals, prevTask, prevScope);
            }
        }
        if (isDoneNormally(stage)) {
            liveTasks.remove(task);
            end.ended(((CompletableFuture<T>) stage).getNow(null), null);
            return;
        }
        end.suspended();
        adopt(stage, "a task's async function", (value, error) -> taskEnded(task, end, value, error), null);
    }

    /** A task's end on the loop; what it throws goes to the uncaught handler (nobody holds the stage). */
    private <T> void taskEnded(LoopTask task, TaskEnd<? super T> end, @Nullable T value, @Nullable Throwable error) {
        liveTasks.remove(task);
        try {
            end.ended(value, error);
        } catch (Throwable t) {
            reportUncaught(t);
        }
    }

    /**
     * Whether {@code stage} is a {@link CompletableFuture} that behaves as the JDK's class does,
     * so that {@code isDone} and {@code getNow} may be called on it: one of Portal's own, or exactly
     * the JDK's class. A subclass may throw from them (the JDK's own
     * {@link CompletableFuture#minimalCompletionStage()} throws from {@code isDone}), so any other
     * stage is only ever asked to call back, through {@link #adopt}.
     */
    static boolean isPlainFuture(CompletionStage<?> stage) {
        return stage instanceof LoopStage || stage.getClass() == CompletableFuture.class;
    }

    /** Whether {@code stage} is a {@linkplain #isPlainFuture plain future} that completed normally. */
    static boolean isDoneNormally(CompletionStage<?> stage) {
        if (!isPlainFuture(stage)) {
            return false;
        }
        CompletableFuture<?> f = (CompletableFuture<?>) stage;
        return f.isDone() && !f.isCompletedExceptionally();
    }

    /**
     * Hands the outcome of a stage that user code returned to {@code then}, on this loop's thread
     * (at once if the stage completes on it, otherwise queued as a continuation). A stage Portal
     * cannot wait for ends as a failure instead of hanging its task: if its {@code whenComplete}
     * throws, {@code then} gets an {@link IllegalStateException} that names {@code what} and the
     * stage's class, with the thrown exception as its cause. A foreign stage is called back once at
     * most, however often it calls. If the loop has stopped when the outcome arrives from another
     * thread, {@code stopped} gets it there (without it, the outcome is dropped: the loop's stop
     * has ended the task). Any thread; the stage is never asked anything but
     * {@code whenComplete} (not even {@code toString}) unless it is a {@linkplain #isPlainFuture
     * plain future}.
     */
    <T> void adopt(CompletionStage<T> stage, String what, java.util.function.BiConsumer<? super @Nullable T,
            ? super @Nullable Throwable> then, java.util.function.@Nullable BiConsumer<? super @Nullable T,
            ? super @Nullable Throwable> stopped) {
        if (isPlainFuture(stage)) {
            // Ours or the JDK's: calls back once, and whenComplete does not throw.
            stage.whenComplete((value, error) -> onLoop(then, stopped, value, error));
            return;
        }
        Adoption<T> adoption = new Adoption<>(this, then, stopped);
        try {
            stage.whenComplete(adoption);
        } catch (Throwable t) {
            adoption.accept(null, new IllegalStateException(what + " returned a " + stage.getClass().getName()
                    + " that threw from whenComplete, so Portal cannot wait for it: " + t, t));
        }
    }

    private <T> void onLoop(java.util.function.BiConsumer<? super @Nullable T, ? super @Nullable Throwable> then,
            java.util.function.@Nullable BiConsumer<? super @Nullable T, ? super @Nullable Throwable> stopped,
            @Nullable T value, @Nullable Throwable error) {
        if (inEventLoop()) {
            then.accept(value, error);
            return;
        }
        try {
            executeSoon(() -> then.accept(value, error));
        } catch (RejectedExecutionException loopStopped) {
            if (stopped != null) {
                stopped.accept(value, error);
            }
        }
    }

    /** The callback {@link #adopt} gives a foreign stage: the first call wins, on the loop. */
    private static final class Adoption<T> implements java.util.function.BiConsumer<@Nullable T, @Nullable Throwable> {
        private static final VarHandle CALLED;

        static {
            try {
                CALLED = MethodHandles.lookup().findVarHandle(Adoption.class, "called", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        private final EventLoop loop;
        private final java.util.function.BiConsumer<? super @Nullable T, ? super @Nullable Throwable> then;
        private final java.util.function.@Nullable BiConsumer<? super @Nullable T, ? super @Nullable Throwable> stopped;
        private volatile int called;

        Adoption(EventLoop loop, java.util.function.BiConsumer<? super @Nullable T, ? super @Nullable Throwable> then,
                java.util.function.@Nullable BiConsumer<? super @Nullable T, ? super @Nullable Throwable> stopped) {
            this.loop = loop;
            this.then = then;
            this.stopped = stopped;
        }

        @Override
        public void accept(@Nullable T value, @Nullable Throwable error) {
            if (CALLED.compareAndSet(this, 0, 1)) {
                loop.onLoop(then, stopped, value, error);
            }
        }
    }

    static <T> CompletionStage<T> callSafely(AsyncCallable<T> fn) {
        try {
            CompletionStage<T> stage = fn.call();
            if (stage == null) {
                return LoopStage.failedFuture(new NullPointerException("async function " + fn
                        + " returned null instead of a CompletionStage"));
            }
            return stage;
        } catch (Throwable t) {
            return LoopStage.failedFuture(t);
        }
    }

    /** The live tasks started by {@code owner}, in start order. Any thread. */
    List<LoopTask> tasksOf(Object owner) {
        return liveTasks.snapshot(owner);
    }

    /** Counts a task that is queued to start, so the loop does not stop before it has run. */
    void taskStarted(LoopTask task) {
        addLive(task);
    }

    /**
     * Adds a task to the live list, stamped with the time this turn of the loop began: reading the
     * clock costs about 25 ns, a tenth of a short task, so the loop reads it once a turn. A task's
     * start time is thus early by at most the time the loop had spent in the turn so far.
     */
    private void addLive(LoopTask task) {
        if (!task.live) {
            task.startNanos = frame.turnNanos;
            liveTasks.add(task);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Running

    private <T> @Nullable T runHere(AsyncCallable<T> main) throws Exception {
        Objects.requireNonNull(main, "main must not be null");
        EventLoop running = current();
        if (running != null) {
            throw new IllegalStateException("EventLoop.run cannot be called on an event loop thread (" + running.name
                    + " runs on " + Thread.currentThread().getName() + "); from async code just return the stage "
                    + "instead of running a nested loop");
        }
        // The caller's task-locals, read before this thread becomes a loop thread (which has none).
        Locals callerLocals = ContextHolder.currentLocals();
        // The loop clears its thread's interrupt flag after every callback (see runCallback); an
        // interrupt the caller had before the loop ran is the caller's, and is set again after it.
        boolean callerInterrupted = Thread.interrupted();
        thread = Thread.currentThread();
        state = RUNNING;
        CURRENT.set(this);
        LoopPromise<T> result;
        try {
            blockedProbe.register();
            LoopTask mainTask = new LoopTask("main", callerLocals, threadContext.captureOnThisThread());
            frame.turnNanos = System.nanoTime();
            result = spawn(mainTask, rootScope, main, null, rootScope);
            Thread.interrupted(); // main's first callback ran outside runCallback: clear as it would
            result.whenComplete((v, e) -> requestStop());
            runLoop();
        } finally {
            CURRENT.remove();
            if (callerInterrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (!result.isDone()) {
            throw new IllegalStateException("event loop " + name + " stopped before main completed");
        }
        return outcomeOf(result);
    }

    /**
     * The value of a completed future, or the very exception it completed with. {@code get()} and
     * {@code join()} wrap failures, and since JDK 23 they wrap cancellations in a new
     * {@code CancellationException} too, so the original is read back with {@code handle}.
     */
    static <T> @Nullable T outcomeOf(CompletableFuture<T> done) throws Exception {
        if (!done.isCompletedExceptionally()) {
            return done.join();
        }
        Throwable failure = done.handle((v, x) -> x).join();
        if (failure == null) {
            return done.getNow(null);
        }
        while (failure instanceof CompletionException && failure.getCause() != null) {
            failure = failure.getCause();
        }
        throw rethrow(failure);
    }

    /**
     * Blocks until {@code future} completes, then returns its value or throws the very exception it
     * completed with.
     *
     * @throws InterruptedException if interrupted while waiting (the flag is cleared)
     */
    static <T> @Nullable T await(CompletableFuture<T> future) throws Exception {
        try {
            future.get();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.CancellationException e) {
            // fall through: read the original outcome
        }
        return outcomeOf(future);
    }

    static Exception rethrow(Throwable t) {
        if (t instanceof Error) {
            throw (Error) t;
        }
        if (t instanceof Exception) {
            return (Exception) t;
        }
        return new IllegalStateException(t);
    }

    private volatile boolean ownThread;

    /**
     * Starts the loop's own thread: the {@linkplain Builder#loopThreadFactory loop thread factory}'s,
     * or a thread that does not inherit the starting thread's InheritableThreadLocals. If the thread
     * cannot be made or started, nothing of the loop is left behind (its blocked-loop probe is
     * unregistered) and the error is thrown as it came.
     */
    private EventLoop startThread() {
        Runnable body = () -> {
            Thread self = Thread.currentThread();
            LoopThread own = self instanceof LoopThread ? (LoopThread) self : null;
            if (own != null) {
                own.running = this;
            } else {
                CURRENT.set(this);
            }
            try {
                runLoop();
            } finally {
                if (own != null) {
                    own.running = null;
                } else {
                    CURRENT.remove();
                }
            }
        };
        Thread t;
        ThreadFactory factory = config.loopThreadFactory;
        if (factory == null) {
            t = new LoopThread(body, name);
            t.setDaemon(config.daemon);
        } else {
            t = factory.newThread(body);
            if (t == null) {
                throw new IllegalStateException("the loopThreadFactory " + factory + " of event loop " + name
                        + " returned null instead of a thread; it must return a new, unstarted thread");
            }
            if (t.getState() != Thread.State.NEW) {
                throw new IllegalStateException("the loopThreadFactory " + factory + " of event loop " + name
                        + " returned a thread that was already started (" + t.getName() + "); it must return a new, "
                        + "unstarted thread");
            }
            t.setName(name);
        }
        ownThread = true;
        thread = t;
        state = RUNNING;
        blockedProbe.register();
        try {
            t.start();
        } catch (Throwable e) {
            // The JVM's "unable to create native thread", say: the loop never ran.
            blockedProbe.unregister();
            state = NEW;
            thread = null;
            ownThread = false;
            throw e;
        }
        return this;
    }

    /**
     * A thread that a loop started for itself. Async code asks "which loop am I on" on every
     * {@code runSync}, checkpoint and promise: a field of the thread answers it without the
     * ThreadLocal lookup that a loop run on the caller's thread ({@link #run}), or on a thread of a
     * {@linkplain Builder#loopThreadFactory factory}, still needs. It does not inherit the
     * InheritableThreadLocals of the thread that starts the loop: a value the starter held would
     * otherwise be seen by every task of the loop's life.
     */
    private static final class LoopThread extends Thread {
        /** The loop running on this thread; written and read by this thread only. */
        @Nullable EventLoop running;

        LoopThread(Runnable body, String name) {
            super(null, body, name, 0, false);
        }
    }

    private void runLoop() {
        try {
            while (true) {
                boolean worked = runOnce();
                if (stopRequest != stopSeen) {
                    onStopRequest();
                    continue;
                }
                int s = state;
                if (s == DRAINING) {
                    GracefulStop g = graceful;
                    if (drained() || (g != null && System.nanoTime() - g.graceEndNanos >= 0)) {
                        beginStop();
                        continue;
                    }
                } else if (s == STOPPING && (liveTasks.isEmpty() || System.nanoTime() - stopDeadline > 0)) {
                    if (local.isEmpty()) {
                        break;
                    }
                    continue;
                }
                if (!worked) {
                    park();
                }
            }
        } finally {
            CLOCK.setOpaque(clock, CLOCK_SLOT, NO_CLOCK);
            switchContext(null); // the thread's own context back (a loop run on the caller's thread)
            terminate();
        }
    }

    private boolean runOnce() {
        boolean worked = false;
        long now = System.nanoTime();
        frame.turnNanos = now;
        CLOCK.setOpaque(clock, CLOCK_SLOT, now);
        TimerQueue.Timer timer;
        while ((timer = timers.pollDue(now)) != null) {
            long lag = now - timer.deadlineNanos();
            LAST_TIMER_LAG.setOpaque(frame, lag);
            if (lag > frame.maxTimerLagNanos) {
                MAX_TIMER_LAG.setOpaque(frame, lag);
            }
            runCallback(timers.actionOf(timer));
            worked = true;
        }
        Runnable r;
        int budget = EXTERNAL_BATCH;
        while (budget-- > 0 && (r = external.poll()) != null) {
            runCallback(r);
            worked = true;
        }
        int n = local.size();
        while (n-- > 0 && (r = local.poll()) != null) {
            runCallback(r);
            worked = true;
        }
        if (!wakeAfterTurn.isEmpty()) {
            wakeWaiters();
        }
        return worked;
    }

    private void runCallback(Runnable r) {
        TICKS.setOpaque(frame, (long) TICKS.getOpaque(frame) + 1);
        LoopFrame f = frame;
        // A deferred completion enters its promise's task before any other code runs, and a portal
        // call's callback starts its task before any other code runs, so either may keep that
        // task's context applied (enterKeepingContext); any other callback starts from the
        // thread's own context.
        boolean completion = r instanceof LoopPromise || r instanceof BlockingPortal.PortalFuture;
        if (!completion && f.contextTask != null) {
            switchContext(null);
        }
        f.mayKeepContext = completion;
        try {
            r.run();
        } catch (Throwable t) {
            reportUncaught(t);
        } finally {
            f.mayKeepContext = false;
            f.currentTask = null;
            f.currentScope = rootScope;
            // Whatever the callback was (a task, a continuation, a timer, a portal call, a listener
            // it called), an interrupt it left on the loop thread is nobody's: the next callback
            // must not see it, and park() would return at once on every idle turn. One read when clear.
            Thread.interrupted();
        }
    }

    /**
     * Enters a promise's task and scope to complete it, as the first thing a top-level callback
     * does (a deferred completion: see {@link #runCallback}), and leaves the task's ThreadLocal
     * context applied after the callback: the next callback of the same task (the next offload's
     * result, say) then applies and captures nothing. Switching to another task, or to a callback
     * that is not a completion, first captures what the task's callbacks changed into the task and
     * restores the thread's own context. Returns false, doing nothing, if the callback is past that
     * point (the caller then enters and leaves the usual way). Loop thread only.
     */
    boolean enterKeepingContext(@Nullable LoopTask task, CancelScope scope) {
        LoopFrame f = frame;
        if (!f.mayKeepContext) {
            return false;
        }
        f.mayKeepContext = false;
        if (task != f.contextTask) {
            switchContext(task);
        }
        f.currentTask = task;
        f.currentScope = scope;
        return true;
    }

    /**
     * Gives the loop thread its own context back if a task's is kept applied, and lets the current
     * callback keep none: for a portal call's callback that runs other code (a listener, the
     * future's dependents) before, or instead of, entering its task. Loop thread only.
     */
    void ownContext() {
        LoopFrame f = frame;
        f.mayKeepContext = false;
        if (f.contextTask != null) {
            switchContext(null);
        }
    }

    /** Makes {@code task}'s context the one kept applied (null: the thread's own). Loop thread only. */
    private void switchContext(@Nullable LoopTask task) {
        LoopFrame f = frame;
        LoopTask kept = f.contextTask;
        ContextSnapshot.Scope restore = f.contextRestore;
        f.contextTask = null;
        f.contextRestore = null;
        if (kept != null && restore != null) {
            // Keep what the task's callbacks put in the MDC (or other ThreadLocals) for its next one.
            ContextSnapshot back = captureContext();
            kept.threadLocals = back;
            if (task != null && back != null && task.threadLocals == back) {
                // The next task carries the very same context (tasks started by one caller with one
                // MDC share its capture): leave it applied, with the same way back to the thread's own.
                f.contextRestore = restore;
                f.contextTask = task;
                return;
            }
            ThreadContext.restore(restore);
        }
        if (task != null) {
            f.contextRestore = threadContext.apply(task.threadLocals, lastCapture);
            f.contextTask = task;
        }
    }

    /**
     * Captures the loop thread's ThreadLocal context (MDC ...), reusing the last capture while every
     * value is the same object: see {@link ThreadContext#capture(ThreadContext.Captured)}. Loop thread only.
     */
    @Nullable ContextSnapshot captureContext() {
        return threadContext.capture(lastCapture);
    }

    void reportUncaught(Throwable t) {
        callbackFailures.increment();
        LOG.log(System.Logger.Level.ERROR, "Uncaught exception in a callback on event loop " + name, t);
        if (listeners.any()) {
            listeners.uncaught(this, t);
        }
    }

    private void park() {
        if (!local.isEmpty()) {
            return;
        }
        TimerQueue.Timer next = timers.peek();
        AdaptiveSpin adaptive = offloadsOut > 0 ? spinForResults : spinForCalls;
        long spin = adaptive.spinNanos();
        if (spin > 0) {
            int spun = spinForWork(next, spin);
            if (spun == SPIN_ARRIVED) {
                adaptive.spun(true);
                return;
            }
            if (spun == SPIN_RAN_OUT) {
                adaptive.spun(false);
            }
        }
        external.trim(); // keep nothing alive through an idle queue
        CLOCK.setOpaque(clock, CLOCK_SLOT, NO_CLOCK); // until the next turn publishes one
        SLEEPING.setVolatile(sleeping, SLEEP_FLAG, 1);
        if (!external.isEmpty() || stopRequest != stopSeen) {
            SLEEPING.setVolatile(sleeping, SLEEP_FLAG, 0);
            return;
        }
        long until = next != null ? next.deadlineNanos() : Long.MAX_VALUE;
        if (state == STOPPING && stopDeadline - until < 0) {
            until = stopDeadline;
        }
        if (state == DRAINING) {
            GracefulStop g = graceful;
            long end = g != null ? g.graceEndNanos : System.nanoTime();
            if (liveTasks.isEmpty()) {
                // No task left to wake us, only calls on workers with no task (abandoned ones, or
                // offloads from plain callbacks): their workers go idle without telling the loop.
                end = Math.min(end, System.nanoTime() + DRAIN_POLL_NANOS);
            }
            if (until == Long.MAX_VALUE || end - until < 0) {
                until = end;
            }
        }
        // Code the loop ran outside a callback (a hook, a cancellation, a listener) may have left the
        // flag set too: a set flag makes every park return at once, and the idle loop would spin.
        Thread.interrupted();
        long parkedAt = System.nanoTime();
        if (until == Long.MAX_VALUE) {
            LockSupport.park(this);
        } else {
            long wait = until - parkedAt;
            if (wait > 0) {
                LockSupport.parkNanos(this, wait);
            }
        }
        SLEEPING.setVolatile(sleeping, SLEEP_FLAG, 0);
        if (spin == 0) {
            // A park that a spin would have saved: the work comes quickly again.
            adaptive.parked(System.nanoTime() - parkedAt);
        }
    }

    private static long[] newClock() {
        long[] c = new long[2 * CLOCK_SLOT + 1];
        c[CLOCK_SLOT] = NO_CLOCK;
        return c;
    }

    /**
     * A clock reading for statistics kept by other threads (the limiter's wait time, updated by
     * every worker that frees a token): while the loop runs, the start of its current turn, with no
     * clock read, which on a busy loop is at most a turn old; from before the loop parks until its
     * next turn, and while it is not running, the time now. A callback that blocks the loop holds
     * the reading back for as long as it blocks (the blocked-loop detector reports such callbacks).
     * Any thread.
     */
    long statisticsClock() {
        long published = (long) CLOCK.getOpaque(clock, CLOCK_SLOT);
        return published != NO_CLOCK ? published : System.nanoTime();
    }

    private static final int SPIN_ARRIVED = 0;
    private static final int SPIN_RAN_OUT = 1;
    private static final int SPIN_TIMER_DUE = 2;

    /**
     * Spins briefly before parking, while the flag is still clear (so submitters do not unpark):
     * a worker's result or a portal call often arrives within microseconds, sooner than a
     * park/unpark pair completes. At most {@code spin} ({@link Builder#loopSpin}, 20 µs; 0 turns it
     * off) per transition to idle, and never past the next timer, so an idle loop is parked and
     * costs no CPU. Whether a transition spins at all is {@link AdaptiveSpin}'s call: a loop whose
     * work comes later than the spin (paced calls) parks at once. Returns {@link #SPIN_ARRIVED},
     * {@link #SPIN_RAN_OUT} or {@link #SPIN_TIMER_DUE} (the spin ended at the next timer, which
     * says nothing about how soon work comes).
     */
    private int spinForWork(TimerQueue.@Nullable Timer next, long spin) {
        long now = System.nanoTime();
        long end = now + spin;
        int outcome = SPIN_RAN_OUT;
        if (next != null && next.deadlineNanos() - end < 0) {
            end = next.deadlineNanos();
            outcome = SPIN_TIMER_DUE;
        }
        while (end - now > 0) {
            if (!external.isEmpty() || stopRequest != stopSeen) {
                return SPIN_ARRIVED;
            }
            Thread.onSpinWait();
            now = System.nanoTime();
        }
        return outcome;
    }

    boolean isSleeping() {
        return (int) SLEEPING.getVolatile(sleeping, SLEEP_FLAG) == 1;
    }

    /**
     * How many callbacks other threads have submitted after the one that {@link #submit} placed at
     * {@code seq}; a hint.
     */
    long submittedAfter(long seq) {
        return Math.max(0, external.appended() - seq);
    }

    /** About how many callbacks other threads have queued that the loop has not taken yet; a hint. */
    long backlog() {
        return external.backlog();
    }

    long ticks() {
        return (long) TICKS.getOpaque(frame);
    }

    @Nullable Thread thread() {
        return thread;
    }

    private void requestStop() {
        requestStop(STOP_NOW);
    }

    private void requestStop(int bit) {
        STOP_REQUEST.getAndBitwiseOr(this, bit);
        wakeup();
    }

    /** Acts on the stop bits that changed: a stop now wins over a graceful one. Loop thread. */
    private void onStopRequest() {
        int request = stopRequest;
        stopSeen = request;
        int s = state;
        if ((request & STOP_NOW) != 0) {
            if (s == RUNNING || s == DRAINING) {
                beginStop();
            }
        } else if (s == RUNNING) {
            beginDrain();
        }
    }

    /**
     * Starts a graceful stop's grace period: from now on the loop refuses new work from outside
     * ({@link #execute} from foreign threads, portal calls; their callers already see
     * {@link #graceful}), and the portals on it stop taking calls and let their tasks finish.
     * Loop thread.
     */
    private void beginDrain() {
        state = DRAINING;
        GracefulStop g = graceful;
        stopStartNanos = g != null ? g.startNanos : System.nanoTime();
        tasksAtDrainStart = liveTasks.size();
        tasksAddedAtDrainStart = liveTasks.added();
        for (Runnable hook : List.copyOf(drainHooks)) {
            runCallback(hook);
        }
        drainHooks.clear();
    }

    /**
     * Whether the grace period's work is done: no task alive, no callback queued, no offload queued
     * or running (abandoned ones included). Loop thread.
     */
    private boolean drained() {
        return liveTasks.isEmpty() && local.isEmpty() && external.isEmpty() && !workers.hasJobs();
    }

    private void beginStop() {
        boolean drained = state == DRAINING;
        long now = System.nanoTime();
        if (drained) {
            GracefulStop g = graceful;
            stopMode = g != null ? g.afterGrace : null;
            tasksFinishedInGrace = (int) Math.max(0,
                    tasksAtDrainStart + (liveTasks.added() - tasksAddedAtDrainStart) - liveTasks.size());
        } else {
            stopStartNanos = now;
        }
        finishedWithinGrace = drained ? drained() : liveTasks.isEmpty() && !workers.hasJobs();
        cancelledTasks = liveTasks.isEmpty() ? List.of() : tasks();
        offloadsAtStop[0] = offloads.cancelledBeforeStart.sum();
        offloadsAtStop[1] = offloads.interrupted.sum();
        offloadsAtStop[2] = offloads.abandoned.sum();
        offloadsAtStop[3] = offloads.shielded.sum();
        state = STOPPING;
        stopDeadline = CancelScope.saturatedAdd(now, CancelScope.saturatedNanos(config.shutdownTimeout));
        drainHooks.clear();
        for (Runnable hook : List.copyOf(shutdownHooks)) {
            runCallback(hook);
        }
        shutdownHooks.clear();
        rootScope.cancelAll();
        if (stopMode == CancelMode.INTERRUPT) {
            // Calls abandoned before the stop run on outside any scope: interrupt them too.
            for (Worker w : workers.workers()) {
                Object job = w.currentJob();
                if (job instanceof Job && ((Job<?>) job).loop == this && ((Job<?>) job).interruptAbandoned()) {
                    offloads.interrupted.increment();
                }
            }
        }
    }

    /** Runs {@code hook} on the loop thread when the loop starts stopping (now, if it has). Loop only. */
    void onShutdown(Runnable hook) {
        if (state >= STOPPING) {
            executeLocal(hook);
        } else {
            shutdownHooks.add(hook);
        }
    }

    /**
     * Runs {@code hook} on the loop thread when a graceful stop's grace period starts (now, if it
     * has; never if the loop stops without one). Loop only.
     */
    void onDrain(Runnable hook) {
        if (state == DRAINING) {
            executeLocal(hook);
        } else if (state < DRAINING) {
            drainHooks.add(hook);
        }
    }

    private void terminate() {
        if (!liveTasks.isEmpty()) {
            LOG.log(System.Logger.Level.WARNING, "Event loop " + name + " stopped after its shutdown timeout of "
                    + config.shutdownTimeout + " with tasks still running; they will never complete: " + tasks());
        }
        state = TERMINATED;
        // Every later submission is refused; the ones that got in raced with the stop: reject the
        // ones that can hear of it, run the rest.
        external.close();
        RejectedExecutionException stopped = rejection();
        while (!external.isEmpty() || !local.isEmpty()) {
            Runnable r = external.poll();
            if (r == null) {
                r = local.poll();
            }
            if (r == null) {
                Thread.onSpinWait(); // an offer between its CAS and its link
                continue;
            }
            if (r instanceof LoopRejectable) {
                try {
                    ((LoopRejectable) r).rejected(stopped);
                } catch (Throwable t) {
                    reportUncaught(t);
                }
            } else {
                try {
                    r.run();
                } catch (Throwable t) {
                    reportUncaught(t);
                } finally {
                    Thread.interrupted(); // as after any callback (runCallback); the joins below wait
                }
            }
        }
        wakeWaiters(); // anything put off by the last callbacks (later wakes are immediate)
        blockedProbe.unregister();
        try {
            awaitWorkers();
        } finally {
            report.complete(buildReport());
            terminated.complete(null);
        }
    }

    /**
     * Idle workers exit now and are joined. A worker still running a call exits when the call
     * returns (it is a daemon thread): after a graceful stop whose calls were interrupted or
     * shielded, the loop waits for those workers until the shutdown timeout, counted from the end
     * of the grace period, has passed; otherwise it does not wait for them. Loop thread.
     */
    private void awaitWorkers() {
        List<Thread> exiting = workers.shutdown();
        boolean interrupted = false;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        for (Thread t : exiting) {
            interrupted |= join(t, deadline);
        }
        CancelMode mode = stopMode;
        if (mode != null) {
            // After a graceful stop, also the workers between jobs (searching, not yet parked):
            // they exit as they find the pool shut down. Before the busy ones, which may use up
            // the shutdown timeout.
            for (Worker w : workers.workers()) {
                if (w.currentJob() == null) {
                    interrupted |= join(w.thread(), deadline);
                }
            }
        }
        if (mode == CancelMode.INTERRUPT || mode == CancelMode.SHIELD) {
            for (Worker w : workers.workers()) {
                interrupted |= join(w.thread(), stopDeadline);
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Joins {@code t} until {@code deadline}; returns whether the wait was interrupted (it then goes on). */
    private static boolean join(Thread t, long deadline) {
        boolean interrupted = false;
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !t.isAlive()) {
                return interrupted;
            }
            try {
                TimeUnit.NANOSECONDS.timedJoin(t, left);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }

    private ShutdownReport buildReport() {
        List<ShutdownReport.AbandonedCall> running = new ArrayList<>();
        for (Worker w : workers.workers()) {
            Object job = w.currentJob();
            Thread t = w.thread();
            if (job instanceof Job && t.isAlive()) {
                running.add(new ShutdownReport.AbandonedCall(t.getName(), ((Job<?>) job).functionName()));
            }
        }
        long start = stopStartNanos != 0 ? stopStartNanos : System.nanoTime();
        return new ShutdownReport(name, finishedWithinGrace, Duration.ofNanos(Math.max(0, System.nanoTime() - start)),
                tasksFinishedInGrace, cancelledTasks, offloads.cancelledBeforeStart.sum() - offloadsAtStop[0],
                offloads.interrupted.sum() - offloadsAtStop[1], offloads.abandoned.sum() - offloadsAtStop[2],
                offloads.shielded.sum() - offloadsAtStop[3], running);
    }

    /**
     * Stops the loop gracefully: refuses new work at once, lets the running tasks and offloads
     * finish until {@code gracePeriod} has passed, then cancels what is left, treating every
     * offload still running as {@code afterGrace} says, and waits for the loop and its workers.
     * Returns as soon as the loop has terminated, early if everything finished within the grace
     * period.
     *
     * <pre>{@code
     * ShutdownReport report = loop.shutdownGracefully(Duration.ofSeconds(20), CancelMode.INTERRUPT);
     * }</pre>
     *
     * <p><b>New work and work in flight.</b> From this call on, new work from outside fails at once
     * with a {@link RejectedExecutionException} that names the loop and says it is shutting down:
     * calls on every {@link BlockingPortal} on the loop, and {@link #execute} from threads that are
     * neither the loop's nor its workers. What work in flight needs to finish is accepted until the
     * loop has stopped: results of offloads, {@link FromThread} calls from workers, timers, stages
     * brought onto the loop with {@link Async#await}, cancellations, and everything the loop's own
     * thread schedules (tasks that running tasks start, callbacks, {@code execute} on the loop).
     * Portals on the loop stop taking calls and let their tasks finish; a portal opened with
     * {@link BlockingPortal#start()} or {@link BlockingPortal#open} ends once its tasks have.
     *
     * <p><b>After the grace period.</b> The loop's root scope is cancelled, as by {@link #shutdown()}.
     * Each offload still in flight is then treated as {@code afterGrace} says, whatever its own
     * {@link CancelMode}: {@code INTERRUPT} releases its caller and interrupts its worker (calls
     * abandoned earlier and still running included), {@code ABANDON} releases its caller and leaves
     * the function running, {@code SHIELD} waits for it; a call still waiting for a limiter token
     * never runs. Tasks get until the loop's {@linkplain Builder#shutdownTimeout shutdown timeout}
     * to end. With {@code INTERRUPT} and {@code SHIELD} the loop then waits for its worker threads to
     * exit until the shutdown timeout, counted from the end of the grace period, has passed; with
     * {@code ABANDON} only for the idle ones. A worker still inside a function then (one that
     * ignores interrupts, or outlives the timeout) is left running and named in the report; it
     * exits when its function returns. No other thread of the loop is left.
     *
     * <p><b>Threads, repeats.</b> Any thread except the loop's own and its workers'. Only the first
     * graceful stop counts: a later or concurrent call, with any arguments, waits for the same stop
     * and returns the same report, and so does a call after the loop stopped by other means (its
     * report then describes that stop). {@link #shutdown()} or {@link #close()} during the grace
     * period end it at once (the cancellation then follows {@code afterGrace} as usual). A loop
     * run by {@link #run} on another thread may be stopped this way too; {@code run} then returns or
     * throws as its main function's stage completed or was cancelled.
     *
     * <p><b>Blocking.</b> Blocks for up to the grace period plus the shutdown timeout (and a moment
     * for idle workers and the loop thread to exit). Waits uninterruptibly: an interrupt does not cut the stop
     * short, and the interrupt flag is set again when this returns.
     *
     * @param gracePeriod how long running work may take to finish on its own (>= 0; zero cancels
     *        at once, as {@link #shutdown()} does, but with {@code afterGrace} and a report)
     * @param afterGrace what happens to offloads still running when the grace period ends
     * @return what finished, what was cancelled and which functions still run on abandoned workers
     * @throws IllegalArgumentException if {@code gracePeriod} is negative
     * @throws IllegalStateException if the loop was never started, or if called on the loop's own
     *         thread or one of its worker threads (the stop would wait for the caller)
     */
    public ShutdownReport shutdownGracefully(Duration gracePeriod, CancelMode afterGrace) {
        Objects.requireNonNull(gracePeriod, "gracePeriod must not be null");
        Objects.requireNonNull(afterGrace, "afterGrace must not be null");
        if (gracePeriod.isNegative()) {
            throw new IllegalArgumentException("gracePeriod must be >= 0 (was " + gracePeriod + ")");
        }
        if (state == NEW) {
            throw new IllegalStateException("event loop " + name + " was never started; there is nothing to stop");
        }
        if (inEventLoop()) {
            throw new IllegalStateException("shutdownGracefully cannot be called on the loop's own thread (" + name
                    + "): it waits for the loop's work, which needs this thread. From async code call shutdown() to "
                    + "stop at once, or call shutdownGracefully from a thread that is not the loop's");
        }
        if (workers.isWorkerThread()) {
            throw new IllegalStateException("shutdownGracefully cannot be called on a worker thread of event loop "
                    + name + " (" + Thread.currentThread().getName() + "): it waits for the offloads in flight, "
                    + "this one included. Call shutdown() to stop at once, or call shutdownGracefully from a "
                    + "thread that is not the loop's");
        }
        long start = System.nanoTime();
        GracefulStop stop = new GracefulStop(start,
                CancelScope.saturatedAdd(start, CancelScope.saturatedNanos(gracePeriod)), afterGrace);
        if (GRACEFUL.compareAndSet(this, null, stop)) {
            requestStop(STOP_GRACEFULLY);
        }
        boolean interrupted = false;
        ShutdownReport result;
        while (true) {
            try {
                result = report.get();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("event loop " + name + " failed to report its stop", e.getCause());
            }
        }
        // The report is made just before the loop leaves its thread: join the thread this loop started.
        Thread t = thread;
        if (ownThread && t != null) {
            interrupted |= join(t, System.nanoTime() + TimeUnit.SECONDS.toNanos(1));
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return result;
    }

    /** A graceful stop as asked for: when it began, when its grace period ends, and the mode after it. */
    private static final class GracefulStop {
        final long startNanos;
        final long graceEndNanos;
        final CancelMode afterGrace;

        GracefulStop(long startNanos, long graceEndNanos, CancelMode afterGrace) {
            this.startNanos = startNanos;
            this.graceEndNanos = graceEndNanos;
            this.afterGrace = afterGrace;
        }
    }

    /**
     * Asks the loop to stop now: every task is cancelled and the loop exits once they have
     * finished. During a graceful stop's grace period it ends the grace period at once. Any thread.
     */
    public void shutdown() {
        if (state == NEW) {
            throw new IllegalStateException("event loop " + name + " was never started");
        }
        requestStop();
    }

    /**
     * Waits for the loop to terminate.
     *
     * @return whether it terminated within the timeout
     * @throws InterruptedException if interrupted while waiting (the flag is cleared)
     */
    public boolean awaitTermination(Duration timeout) throws InterruptedException {
        CancelScope.requireTimeout(timeout, "timeout");
        if (inEventLoop()) {
            throw new IllegalStateException("awaitTermination cannot be called on the loop's own thread ("
                    + name + "): it would wait for itself");
        }
        try {
            terminated.get(CancelScope.saturatedNanos(timeout), TimeUnit.NANOSECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException e) {
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            return true;
        }
    }

    /** A stage that completes once the loop has terminated. */
    public CompletionStage<Void> terminationFuture() {
        return terminated.copy();
    }

    /**
     * Stops the loop and waits for it (up to its shutdown timeout plus a second). From the loop's
     * own thread it only requests the stop. Idempotent.
     */
    @Override
    public void close() {
        if (state == NEW) {
            return;
        }
        requestStop();
        if (thread == Thread.currentThread()) {
            return;   // on the loop thread: only request the stop
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    if (awaitTermination(config.shutdownTimeout.plusSeconds(1))) {
                        // terminate() completes the future on the loop thread just before that thread
                        // exits: join the thread this loop started, so close() leaves none behind.
                        Thread t = thread;
                        if (ownThread && t != null) {
                            t.join(TimeUnit.SECONDS.toMillis(1));
                        }
                    }
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Observability

    /**
     * An immutable snapshot of the loop's state and counters. Any thread; takes no lock that the
     * loop or its workers use (the default limiter's counters are read without its lock, so its
     * {@linkplain CapacityLimiterStatistics#borrowers() borrowers} are left out: see
     * {@link CapacityLimiter#statistics()} for them).
     */
    public EventLoopStatistics statistics() {
        WorkerPool.CallCounts calls = workers.callCounts();
        return new EventLoopStatistics(name, state == RUNNING || state == DRAINING, state == TERMINATED, liveTasks.size(),
                (long) TICKS.getOpaque(frame), callbackFailures.sum(), Duration.ofNanos(Math.max(0, (long) LAST_TIMER_LAG.getOpaque(frame))),
                Duration.ofNanos(Math.max(0, (long) MAX_TIMER_LAG.getOpaque(frame))), blockedProbe.blockedEvents(),
                blockedProbe.longestBlock(), new WorkerPoolStatistics(workers.liveThreads(), workers.idleThreads(),
                        calls.running(), offloads.abandonedRunning(), workers.createdThreads(),
                        workers.retiredThreads(), workers.isVirtual(), workers.startFailures()),
                offloads.snapshot(calls), defaultLimiter.counters());
    }

    /**
     * How long the loop thread has been running its current callback, if that is longer than the
     * {@linkplain Builder#blockedLoopThreshold blocked-loop threshold}; {@link Duration#ZERO} when the
     * loop is healthy: idle, between callbacks, in a callback shorter than the threshold, stopped,
     * or when the detector is off (threshold zero). For a health check or a gauge.
     *
     * <p>The reading comes from the blocked-loop watchdog's samples, so it starts up to one check
     * interval (half the threshold, at least 10 ms and at most 1 s) after the callback
     * began and may trail it by that much; it drops to zero as soon as the loop moves on, without
     * waiting for a check. Any thread; lock-free and allocation-free (two volatile reads and a clock
     * read).
     */
    public Duration blockedFor() {
        long nanos = blockedProbe.blockedForNanos();
        return nanos <= 0 ? Duration.ZERO : Duration.ofNanos(nanos);
    }

    /**
     * Registers {@code listener} for this loop's events from now on; see {@link EventLoopListener}.
     * Any thread, any time (also after the loop stopped, when no more events come). It never waits
     * for the loop or its workers: registrations are ordered by a short private lock that no
     * reporting thread takes, and interrupts are neither checked nor cleared. Adding the same
     * listener twice registers it twice (it then receives each event twice). Events being delivered
     * while this runs may or may not reach it.
     *
     * @throws NullPointerException if {@code listener} is null
     */
    public void addListener(EventLoopListener listener) {
        listeners.add(listener);
    }

    /**
     * Unregisters {@code listener} (its most recent registration, if it was added more than once).
     * Any thread, any time; blocks as {@link #addListener} does (never on the loop). Once this
     * returns, events reported afterwards do not reach it; a delivery already running on another
     * thread may still finish.
     *
     * @return whether the listener was registered
     * @throws NullPointerException if {@code listener} is null
     */
    public boolean removeListener(EventLoopListener listener) {
        return listeners.remove(listener);
    }

    /** The tasks running on this loop, oldest first, with names and ages. Any thread. */
    public List<TaskInfo> tasks() {
        return LoopTask.infos(liveTasks.snapshot(null));
    }

    /**
     * Measures the loop's scheduling lag now: the time a callback submitted from another thread
     * waits before it runs. Any thread other than the loop's.
     */
    public CompletableFuture<Duration> measureLag() {
        CompletableFuture<Duration> lag = new CompletableFuture<>();
        long submitted = System.nanoTime();
        submit(() -> lag.complete(Duration.ofNanos(System.nanoTime() - submitted)));
        return lag;
    }

    @Override
    public String toString() {
        int st = state;
        String s = st == NEW ? "new" : st == RUNNING ? "running" : st == DRAINING ? "shutting down gracefully"
                : st == STOPPING ? "stopping" : "terminated";
        return "EventLoop[" + name + ", " + s + ", " + liveTasks.size() + " tasks, " + timers.size() + " timers]";
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * Settings for a new event loop. Every setter validates its argument at once, naming the
     * setting and the value it was given.
     */
    public static final class Builder {

        /** The most any spin setting may be: longer spins cost a core for no measured gain. */
        static final Duration MAX_SPIN = Duration.ofMillis(1);
        /** The most a portal caller may spin in all while it waits for one result. */
        static final Duration MAX_CALLER_SPIN = Duration.ofMillis(100);

        private @Nullable String name;
        private int defaultThreadLimit = 40;
        private @Nullable CapacityLimiter defaultThreadLimiter;
        private CancelMode defaultCancelMode = CancelMode.SHIELD;
        private ThreadContext threadContext = ThreadContext.defaults();
        private long loopSpinNanos;
        private long workerSpinNanos;
        private long callerSpinNanos;
        private long callerMaxSpinNanos;
        private boolean fairWakeups;
        private Duration workerIdleTimeout = Duration.ofSeconds(10);
        private boolean virtualWorkers;
        private @Nullable String workerNamePrefix;
        private Duration blockedLoopThreshold = Duration.ofSeconds(2);
        private Duration shutdownTimeout = Duration.ofSeconds(30);
        private boolean daemon;
        private @Nullable ThreadFactory threadFactory;
        private @Nullable ThreadFactory loopThreadFactory;
        private final List<EventLoopListener> listeners = new ArrayList<>();

        /**
         * @throws IllegalArgumentException if a {@code portal.*.spinNanos} system property is set to
         *         something other than a number of nanoseconds in its allowed range
         */
        private Builder() {
            this(Runtime.getRuntime().availableProcessors());
        }

        /**
         * A builder whose defaults suit {@code processors} available processors: with two or more the
         * usual spins and callers waking one another, with one no spins (see {@link #defaultSpin})
         * and fair wake-ups (see {@link #fairWakeups}).
         */
        Builder(int processors) {
            loopSpinNanos = spinProperty("portal.loop.spinNanos", defaultSpin(20_000L, processors), MAX_SPIN);
            workerSpinNanos = spinProperty("portal.worker.spinNanos", defaultSpin(2_000L, processors), MAX_SPIN);
            callerSpinNanos = spinProperty("portal.caller.spinNanos", defaultSpin(3_000L, processors), MAX_SPIN);
            callerMaxSpinNanos = spinProperty("portal.caller.maxSpinNanos", 1_000_000L, MAX_CALLER_SPIN);
            fairWakeups = booleanProperty("portal.loop.fairWakeups", processors == 1);
        }

        /**
         * A spin's default: {@code nanos} with two or more processors available, 0 (off) with one. A
         * spinning thread waits for another thread to hand it something; with one processor that
         * other thread cannot run while the spinner holds it, so every spin runs out (or is cut
         * short by preemption, which the adaptive spin would take for a success) and only delays
         * the thread it waits for. The JDK's own synchronizers spin only on multiprocessors for the
         * same reason. {@code Runtime.availableProcessors()} counts what the JVM may use: a
         * container's CPU limit, a {@code taskset} affinity or {@code -XX:ActiveProcessorCount}.
         */
        static long defaultSpin(long nanos, int processors) {
            return processors > 1 ? nanos : 0L;
        }

        private Builder(Builder from) {
            // copy(): the settings were validated when they were set
        }

        /**
         * Reads a switch's default from a system property, which must be {@code true} or {@code false}
         * if set; {@code otherwise} if it is not.
         */
        static boolean booleanProperty(String property, boolean otherwise) {
            String value = System.getProperty(property);
            if (value == null) {
                return otherwise;
            }
            String v = value.trim();
            if (v.equalsIgnoreCase("true")) {
                return true;
            }
            if (v.equalsIgnoreCase("false")) {
                return false;
            }
            throw new IllegalArgumentException("system property " + property + " must be true or false (was \""
                    + value + "\")");
        }

        /** Reads a spin default from a system property, which must be a whole number of nanoseconds in range. */
        static long spinProperty(String property, long defaultNanos, Duration max) {
            String value = System.getProperty(property);
            if (value == null) {
                return defaultNanos;
            }
            long nanos;
            try {
                nanos = Long.parseLong(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("system property " + property + " must be a whole number of "
                        + "nanoseconds from 0 to " + max.toNanos() + " (was \"" + value + "\")", e);
            }
            if (nanos < 0 || nanos > max.toNanos()) {
                throw new IllegalArgumentException("system property " + property + " must be from 0 to "
                        + max.toNanos() + " nanoseconds (was " + nanos + ")");
            }
            return nanos;
        }

        private static long requireSpin(@Nullable Duration spin, String setting, Duration max) {
            Objects.requireNonNull(spin, () -> setting + " must not be null");
            if (spin.isNegative() || spin.compareTo(max) > 0) {
                throw new IllegalArgumentException(setting + " must be from PT0S to " + max + " (was " + spin + ")");
            }
            return spin.toNanos();
        }

        private Builder copy() {
            Builder b = new Builder(this);
            b.name = name;
            b.defaultThreadLimit = defaultThreadLimit;
            b.defaultThreadLimiter = defaultThreadLimiter;
            b.defaultCancelMode = defaultCancelMode;
            b.threadContext = threadContext;
            b.loopSpinNanos = loopSpinNanos;
            b.workerSpinNanos = workerSpinNanos;
            b.callerSpinNanos = callerSpinNanos;
            b.callerMaxSpinNanos = callerMaxSpinNanos;
            b.fairWakeups = fairWakeups;
            b.workerIdleTimeout = workerIdleTimeout;
            b.virtualWorkers = virtualWorkers;
            b.workerNamePrefix = workerNamePrefix;
            b.blockedLoopThreshold = blockedLoopThreshold;
            b.shutdownTimeout = shutdownTimeout;
            b.daemon = daemon;
            b.threadFactory = threadFactory;
            b.loopThreadFactory = loopThreadFactory;
            b.listeners.addAll(listeners);
            return b;
        }

        /** The loop thread's name (default {@code portal-loop-N}); workers are named after it. */
        public Builder name(String name) {
            Objects.requireNonNull(name, "name must not be null");
            if (name.isBlank()) {
                throw new IllegalArgumentException("name must not be blank (was \"" + name + "\")");
            }
            this.name = name;
            return this;
        }

        /**
         * Total tokens of the limiter the loop makes for {@link ToThread#runSync} (default 40, >= 0; 0
         * pauses offloading until the total is raised). Replaces a limiter given to
         * {@link #defaultThreadLimiter}.
         */
        public Builder defaultThreadLimit(int tokens) {
            CapacityLimiter.requireTotal(tokens, "defaultThreadLimit");
            this.defaultThreadLimit = tokens;
            this.defaultThreadLimiter = null;
            return this;
        }

        /**
         * The loop's default limiter for {@link ToThread#runSync}, instead of one the loop makes: an
         * application's own limiter, named for its meters, resizable live, and possibly shared by
         * several loops (a call holds a token of it wherever it runs). Replaces
         * {@link #defaultThreadLimit}.
         */
        public Builder defaultThreadLimiter(CapacityLimiter limiter) {
            this.defaultThreadLimiter = Objects.requireNonNull(limiter, "defaultThreadLimiter must not be null");
            return this;
        }

        /**
         * The cancel mode of {@link ToThread#runSync} calls that do not choose one (default
         * {@link CancelMode#SHIELD}, AnyIO's default).
         */
        public Builder defaultCancelMode(CancelMode mode) {
            this.defaultCancelMode = Objects.requireNonNull(mode, "defaultCancelMode must not be null");
            return this;
        }

        /**
         * Propagate exactly the ThreadLocal accessors of {@code registry} (captured with
         * {@code clearMissing}, so a pooled thread never keeps another call's values). By default a
         * loop propagates what {@link ContextRegistry#getInstance()} knows at each hop, plus SLF4J's
         * MDC when SLF4J is present, without registering anything in the global registry.
         */
        public Builder contextRegistry(ContextRegistry registry) {
            this.threadContext = ThreadContext.of(Objects.requireNonNull(registry, "contextRegistry must not be null"));
            return this;
        }

        /**
         * Capture and apply ThreadLocal context with {@code factory} at every hop (task to worker,
         * worker to loop, caller to portal task). Use a factory built with {@code clearMissing(true)}:
         * without it, a pooled worker keeps values a previous call set that this call's snapshot lacks.
         * Replaces {@link #contextRegistry}.
         */
        public Builder contextSnapshotFactory(ContextSnapshotFactory factory) {
            this.threadContext = ThreadContext.of(
                    Objects.requireNonNull(factory, "contextSnapshotFactory must not be null"));
            return this;
        }

        /**
         * How long an idle loop spins for new work before it parks (default 20 µs, 0 when the JVM has
         * one processor available, or the system property {@code portal.loop.spinNanos}; from 0,
         * which turns spinning off, to 1 ms). A result or portal call arriving within the spin costs
         * no wake-up; an idle loop never spins longer.
         */
        public Builder loopSpin(Duration spin) {
            this.loopSpinNanos = requireSpin(spin, "loopSpin", MAX_SPIN);
            return this;
        }

        /**
         * How long a worker that finished a call spins for the next one before it parks (default 2 µs,
         * 0 with one processor, or {@code portal.worker.spinNanos}; 0 to 1 ms).
         */
        public Builder workerSpin(Duration spin) {
            this.workerSpinNanos = requireSpin(spin, "workerSpin", MAX_SPIN);
            return this;
        }

        /**
         * How long a thread blocked in a {@link BlockingPortal} call spins for its result before it
         * parks, renewed while the loop is still working through calls queued before it (default 3 µs,
         * 0 with one processor, or {@code portal.caller.spinNanos}; 0 to 1 ms).
         */
        public Builder callerSpin(Duration spin) {
            this.callerSpinNanos = requireSpin(spin, "callerSpin", MAX_SPIN);
            return this;
        }

        /**
         * The most a portal caller spins in all for one result, renewals included (default 1 ms, or
         * {@code portal.caller.maxSpinNanos}; 0 to 100 ms).
         */
        public Builder callerMaxSpin(Duration spin) {
            this.callerMaxSpinNanos = requireSpin(spin, "callerMaxSpin", MAX_CALLER_SPIN);
            return this;
        }

        /**
         * Whether the loop unparks every thread blocked on a portal call it answered itself, at the
         * end of each turn (default false with two or more processors, true with one, or the system
         * property {@code portal.loop.fairWakeups}).
         * By default the loop unparks the first of a turn's waiters and each woken thread wakes two
         * more (see {@code docs/design.md}, "Callers wake one another"): the loop pays one {@code unpark} per
         * turn, and with many callers on few cores the calls per second are higher, but a waiter deep
         * in that tree waits for its ancestors to be scheduled, which lengthens the slowest calls when
         * the callers outnumber the cores. Fair wake-ups make every answered caller runnable at once:
         * measured with 64 callers on two cores, the 99.9th percentile of a call fell from 10-12 ms to
         * 6-7 ms, the JDK executor's figure in the same runs, and the calls per second fell to the
         * JDK's too (about 130 k/s against 200 to 300 k/s). With one processor the tree has no other
         * core to spread the {@code unpark}s over, and a woken caller must be scheduled before the
         * ones below it can be: 8 callers pinned to one processor made 71 k calls/s with the tree and
         * 144 k/s with fair wake-ups, the default there.
         */
        public Builder fairWakeups(boolean fair) {
            this.fairWakeups = fair;
            return this;
        }

        /** How long an idle worker thread waits for work before it exits (default 10 s, > 0). */
        public Builder workerIdleTimeout(Duration timeout) {
            CancelScope.requireTimeout(timeout, "workerIdleTimeout");
            if (timeout.isZero()) {
                throw new IllegalArgumentException("workerIdleTimeout must be > 0 (was PT0S)");
            }
            this.workerIdleTimeout = timeout;
            return this;
        }

        /**
         * Run offloaded calls on virtual threads (JDK 21+); still bounded by the limiters.
         *
         * @throws UnsupportedOperationException for {@code true} on a JDK without virtual threads
         */
        public Builder virtualWorkers(boolean virtualWorkers) {
            if (virtualWorkers && !dev.portal.internal.VirtualThreads.available()) {
                throw new UnsupportedOperationException("virtualWorkers(true) needs a JDK 21 or newer with virtual "
                        + "threads (running " + Runtime.version() + "); run on JDK 21+ or leave it false");
            }
            this.virtualWorkers = virtualWorkers;
            return this;
        }

        /** Prefix of worker thread names (default: the loop's name plus {@code -worker-}). */
        public Builder workerNamePrefix(String prefix) {
            Objects.requireNonNull(prefix, "workerNamePrefix must not be null");
            this.workerNamePrefix = prefix;
            return this;
        }

        /**
         * Report the loop as blocked when one callback has run this long (default 2 s); zero turns
         * the blocked-loop detector off.
         */
        public Builder blockedLoopThreshold(Duration threshold) {
            this.blockedLoopThreshold = CancelScope.requireTimeout(threshold, "blockedLoopThreshold");
            return this;
        }

        /** How long a stopping loop waits for its cancelled tasks to finish (default 30 s). */
        public Builder shutdownTimeout(Duration timeout) {
            this.shutdownTimeout = CancelScope.requireTimeout(timeout, "shutdownTimeout");
            return this;
        }

        /**
         * Whether the loop thread started by {@link #start()} is a daemon thread (default false). With
         * a {@link #loopThreadFactory}, the factory's thread keeps the daemon status it was made with.
         */
        public Builder daemon(boolean daemon) {
            this.daemon = daemon;
            return this;
        }

        /**
         * Where the loop's worker threads come from (default: none given, and the loop makes daemon
         * platform threads, or virtual ones with {@link #virtualWorkers}, that do not inherit
         * InheritableThreadLocals). Applications use it to set priorities, thread groups, an uncaught
         * exception handler, or instrumentation. Every worker thread the loop ever starts is asked of
         * {@code factory}, whichever thread needs it (the loop, a worker, a thread that resized a
         * limiter); the loop thread is not (see {@link #loopThreadFactory}).
         *
         * <p>The factory must return a new, unstarted thread that runs the runnable it is given. The
         * loop then names it ({@link #workerNamePrefix} plus a number) and makes it a daemon; the
         * factory decides the rest, including whether the thread inherits InheritableThreadLocals
         * (a {@code new Thread(group, r, name, 0, false)} does not). For virtual workers pass a virtual
         * factory, e.g. {@code Thread.ofVirtual().inheritInheritableThreadLocals(false).factory()},
         * and leave {@link #virtualWorkers} false: setting both fails at {@link #start()} and
         * {@link #run}. The factory is called on the thread that needs a worker and must not block.
         *
         * <p>If the factory throws, returns null, or the thread cannot be started (the JVM's "unable
         * to create native thread" {@code OutOfMemoryError}), the pool stays as it was: the calls
         * that were to run on the new thread fail with that error and return their tokens, calls
         * already running are not touched, and the next call tries to start a thread again.
         */
        public Builder threadFactory(ThreadFactory factory) {
            this.threadFactory = Objects.requireNonNull(factory, "threadFactory must not be null");
            return this;
        }

        /**
         * Where the loop thread that {@link #start()} runs on comes from (default: a platform thread,
         * {@link #daemon} as set, that does not inherit InheritableThreadLocals). The loop names the
         * thread after the loop; the factory decides the rest (daemon status included). Not used by
         * {@link #run}, which runs the loop on the calling thread. The factory must return a new,
         * unstarted thread that runs the runnable it is given. If it throws, returns null, or the
         * thread cannot be started, {@link #start()} throws that error (or an
         * {@link IllegalStateException} saying what the factory returned) and leaves nothing running.
         */
        public Builder loopThreadFactory(ThreadFactory factory) {
            this.loopThreadFactory = Objects.requireNonNull(factory, "loopThreadFactory must not be null");
            return this;
        }

        /**
         * Adds a listener for the loop's events (see {@link EventLoopListener}); each call adds one
         * more. More may be added and removed while the loop runs with
         * {@link EventLoop#addListener} and {@link EventLoop#removeListener}.
         *
         * @throws NullPointerException if {@code listener} is null
         */
        public Builder listener(EventLoopListener listener) {
            this.listeners.add(Objects.requireNonNull(listener, "listener must not be null"));
            return this;
        }

        /** Runs a loop with these settings on the calling thread; see {@link EventLoop#run}. */
        public <T> @Nullable T run(AsyncCallable<T> main) throws Exception {
            Objects.requireNonNull(main, "main must not be null");
            return new EventLoop(this).runHere(main);
        }

        /**
         * Starts a loop with these settings on a new thread.
         *
         * @throws IllegalStateException if both {@link #virtualWorkers} and {@link #threadFactory} are
         *         set, or the {@link #loopThreadFactory} returned null or a started thread
         * @throws OutOfMemoryError if the JVM cannot create the loop thread (and anything else the
         *         {@link #loopThreadFactory} throws, as it came); nothing of the loop is left running
         */
        public EventLoop start() {
            return new EventLoop(this).startThread();
        }
    }
}
