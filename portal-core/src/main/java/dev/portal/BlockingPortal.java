package dev.portal;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;

import dev.portal.internal.AdaptiveSpin;
import dev.portal.internal.MpscQueue;
import dev.portal.internal.TimerQueue;

import io.micrometer.context.ContextSnapshot;

import org.jspecify.annotations.Nullable;

/**
 * Lets threads that the event loop did not start (servlet threads, schedulers, {@code main}) run
 * async code on it and wait for the result (AnyIO's {@code BlockingPortal}).
 *
 * <pre>{@code
 * try (BlockingPortal portal = BlockingPortal.start()) {          // own loop thread
 *     String body = portal.call(() -> httpOnTheLoop.get(uri));    // blocks this thread, not the loop
 *     CompletableFuture<String> f = portal.startTaskSoon(() -> longRunning());
 *     f.cancel(true);                                              // cancels the task on the loop
 * }                                                                // waits for outstanding tasks
 * }</pre>
 *
 * <p><b>Guards.</b> Every blocking method first checks that the portal is running and that the
 * caller is not the portal's own loop thread (it would wait for the loop it is blocking, a certain
 * deadlock); either failure is an {@link IllegalStateException} that says what to do instead.
 *
 * <p><b>Tasks.</b> Each call runs as a new task in the portal's cancel scope, with a copy of the
 * caller's {@link TaskLocal}s and ThreadLocal context (MDC, context-propagation); nothing flows
 * back. The futures returned by {@link #startTaskSoon} cancel their task when cancelled, also after
 * {@link #stop(boolean)}, and a task cancelled before it starts sees the cancellation at its first
 * checkpoint (a plain function given to {@link #callSync} never runs). A cancelled task ends its
 * future cancelled, waking every waiter.
 *
 * <p><b>Cancelling a future</b> ({@code cancel(true)} or {@code cancel(false)}, from any thread, the
 * loop's included) completes it at once with a {@code CancellationException}, as
 * {@link java.util.concurrent.Future#cancel} specifies, and cancels the task's own scope on the loop:
 * the task ends at its next checkpoint, and an offload in it is treated as its {@link CancelMode}
 * says (one waiting for a token never runs, an {@code INTERRUPT} one is interrupted, a
 * {@code SHIELD} one runs to its end). {@link #close()} still waits for the task to end. This holds
 * for {@link #startTaskSoon}, {@link StartedTask#future()} and a resource's task alike; the futures
 * {@code stop} returns are copies, and cancelling them does not affect the stop.
 *
 * <p><b>Interruption.</b> A thread interrupted while blocked in {@link #call}, {@link #callSync},
 * {@link #startTask} or a resource method cancels the task it waits for and throws
 * {@link InterruptedException}, with its interrupt flag cleared (the JDK convention).
 *
 * <p><b>Stopping.</b> {@link #stop(boolean)} rejects new calls at once; with {@code true} it also
 * cancels the running tasks. {@link #close()} stops gracefully, waits for every task, and for a
 * portal made by {@link #start()} stops its loop and joins the thread. Wrapped async resources that
 * are still open when the portal stops are exited (with no error), so closing never hangs on them.
 */
public final class BlockingPortal implements AutoCloseable {

    /** The body of a task started with {@link #startTask}: it reports readiness through the status. */
    @FunctionalInterface
    public interface TaskStarter<S, T> {
        CompletionStage<T> start(TaskStatus<S> status) throws Exception;
    }

    /** The code run by {@link #withAsyncResource} while the resource is open. */
    @FunctionalInterface
    public interface ResourceBody<T, R> {
        R apply(T resource) throws Exception;
    }

    private final EventLoop loop;
    private final boolean ownsLoop;
    final CancelScope scope = CancelScope.create();
    private final Event stoppedEvent = new Event();
    private final CompletableFuture<Void> finished = new CompletableFuture<>();
    private final Set<PortalResource<?>> openResources = ConcurrentHashMap.newKeySet();
    private volatile boolean running = true;
    /** Loop-confined: stopOnLoop has run, so every task submitted before the stop has been started. */
    private boolean stopping;
    /** Tasks started and not yet finished; written on the loop thread, read by statistics. */
    private final LoopCounter active = new LoopCounter();
    private boolean finishedOnLoop;
    /** Loop-confined: a graceful stop is under way; open resources stay open until its grace ends. */
    private boolean graceful;
    /** Loop-confined: the tasks that a graceful stop cancelled when its grace period ended. */
    private List<TaskInfo> cancelledAtGrace = List.of();

    private final LongAdder calls = new LongAdder();
    private final LongAdder tasksStarted = new LongAdder();
    private final LongAdder resourcesWrapped = new LongAdder();
    // Counted by the loop, where tasks end.
    private final LoopCounter succeeded = new LoopCounter();
    private final LoopCounter failed = new LoopCounter();
    private final LoopCounter cancelled = new LoopCounter();
    private final LongAdder rejected = new LongAdder();

    private BlockingPortal(EventLoop loop, boolean ownsLoop) {
        this.loop = loop;
        this.ownsLoop = ownsLoop;
    }

    // ---------------------------------------------------------------------------------------------
    // Creating portals

    /**
     * Starts a new event loop on its own daemon thread and returns a portal to it (AnyIO's
     * {@code start_blocking_portal}). Close the portal to stop the loop.
     */
    public static BlockingPortal start() {
        return start(EventLoop.builder().daemon(true));
    }

    /** As {@link #start()}, with a loop built from {@code loopSettings} (name, limits, ...). */
    public static BlockingPortal start(EventLoop.Builder loopSettings) {
        Objects.requireNonNull(loopSettings, "loopSettings must not be null");
        EventLoop loop = loopSettings.start();
        try {
            return launch(loop, true);
        } catch (RuntimeException | Error e) {
            loop.close();
            throw e;
        }
    }

    /**
     * Opens a portal on {@code loop}, a loop that is already running, for as long as the
     * application needs it: the form for a container that owns one loop and hands its portal to
     * every request thread.
     *
     * <pre>{@code
     * EventLoop loop = EventLoop.builder().name("app-loop").start();
     * BlockingPortal portal = BlockingPortal.openOn(loop);     // no thread started
     * String name = portal.call(() -> ToThread.runSync(() -> jdbc.loadName(id)));
     * portal.close();                                          // waits for its tasks; the loop runs on
     * }</pre>
     *
     * <p>Any thread may open one, the loop's own included; any thread but the loop's may then call
     * it. {@link #stop(boolean)} and {@link #close()} stop the portal and never the loop. When the
     * loop stops, the portal stops too, cancelling its tasks, and later calls fail with an
     * {@link IllegalStateException}. Opening blocks until the loop has set the portal up, which a
     * loop that is not blocked does within one turn; it does not respond to interrupts (the wait is
     * that short), and leaves the interrupt flag as it was.
     *
     * @throws IllegalStateException if {@code loop} was never started or has stopped
     */
    public static BlockingPortal openOn(EventLoop loop) {
        Objects.requireNonNull(loop, "loop must not be null");
        if (loop.isShutdown()) {
            throw new IllegalStateException("BlockingPortal.openOn needs a running event loop, but " + loop.name()
                    + " is " + (loop.isTerminated() ? "stopped" : "stopping") + "; open portals on a loop before "
                    + "it shuts down");
        }
        if (loop.thread() == null) {
            throw new IllegalStateException("BlockingPortal.openOn needs a running event loop, but " + loop.name()
                    + " was never started; start it with EventLoop.Builder.start() first");
        }
        return launch(loop, false);
    }

    /** Sets a new portal up on a running loop: a task in the portal's scope that lasts until it is finished. */
    private static BlockingPortal launch(EventLoop loop, boolean ownsLoop) {
        BlockingPortal portal = new BlockingPortal(loop, ownsLoop);
        CompletableFuture<Void> ready = new CompletableFuture<>();
        Runnable setUp = new SetUp(loop, portal, ready);
        if (loop.inEventLoop()) {
            setUp.run();
        } else {
            try {
                loop.execute(setUp);
            } catch (RejectedExecutionException stopped) {
                ready.completeExceptionally(stopped);
            }
        }
        try {
            ready.join();
        } catch (CompletionException e) {
            throw new IllegalStateException("BlockingPortal could not be opened: event loop " + loop.name()
                    + " stopped before it could set the portal up", e.getCause());
        }
        return portal;
    }

    /** The loop-side set-up of a portal; hears of it if the loop stopped before running it. */
    private static final class SetUp implements Runnable, LoopRejectable {
        private final EventLoop loop;
        private final BlockingPortal portal;
        private final CompletableFuture<Void> ready;

        SetUp(EventLoop loop, BlockingPortal portal, CompletableFuture<Void> ready) {
            this.loop = loop;
            this.portal = portal;
            this.ready = ready;
        }

        @Override
        public void run() {
            if (loop.isShutdown()) {
                rejected(new RejectedExecutionException("event loop " + loop.name() + " is stopping"));
                return;
            }
            portal.watchLoop();
            LoopTask task = new LoopTask("portal", Locals.EMPTY, null);
            loop.spawn(task, loop.rootScope, () -> portal.scope.run(() -> {
                ready.complete(null);
                return portal.whenFinished();
            }), null, loop.rootScope).whenComplete((v, e) -> portal.finished.complete(null));
        }

        @Override
        public void rejected(RejectedExecutionException e) {
            portal.running = false;
            portal.finished.complete(null);
            ready.completeExceptionally(e);
        }
    }

    /**
     * Opens a portal to the running loop for the duration of {@code body} (AnyIO's
     * {@code async with BlockingPortal() as portal}). The body typically hands the portal to other
     * threads and returns {@link #sleepUntilStopped()}. When the body completes, the portal stops:
     * gracefully (waiting for its tasks) if the body succeeded, cancelling its tasks if the body
     * failed. Loop thread only.
     */
    public static <T> CompletionStage<T> open(Function<BlockingPortal, ? extends CompletionStage<T>> body) {
        Objects.requireNonNull(body, "body must not be null");
        EventLoop loop = EventLoop.requireCurrent("BlockingPortal.open");
        BlockingPortal portal = new BlockingPortal(loop, false);
        portal.watchLoop();
        @SuppressWarnings("unchecked")
        CompletionStage<T> result = (CompletionStage<T>) portal.scope.run(() -> {
            LoopPromise<T> out = LoopPromise.here(loop);
            CompletionStage<T> stage = EventLoop.callSafely(() -> body.apply(portal));
            loop.adopt(stage, "the body of BlockingPortal.open", (value, error) -> {
                // As AnyIO's __aexit__: any failure of the body, a cancellation included, cancels the tasks.
                portal.stopOnLoop(error != null);
                portal.whenFinished().whenComplete((v, e) -> out.settle(value, error));
            }, null);
            return out;
        });
        result.whenComplete((v, e) -> portal.finished.complete(null));
        return result;
    }

    /**
     * Ties the portal to its loop's stop: a graceful stop of the loop stops the portal gracefully
     * (no new calls, tasks finish), and the loop's cancellation cancels the portal's tasks. Loop
     * thread.
     */
    private void watchLoop() {
        loop.onDrain(() -> stopGracefullyOnLoop(null));
        loop.onShutdown(() -> stopOnLoop(true));
    }

    private LoopPromise<Void> whenFinished() {
        LoopPromise<Void> done = LoopPromise.here(loop);
        finishWaiters.add(done);
        checkFinished();
        return done;
    }

    private final List<LoopPromise<Void>> finishWaiters = new ArrayList<>();

    private void checkFinished() {
        if (!stopping || active.get() > 0) {
            return;
        }
        finishedOnLoop = true;
        for (LoopPromise<Void> w : finishWaiters) {
            w.settle(null, null);
        }
        finishWaiters.clear();
    }

    // ---------------------------------------------------------------------------------------------
    // Calls from other threads

    /**
     * Runs async code on the loop and blocks until its stage completes.
     *
     * @return the stage's value
     * @throws Exception the exception the stage failed with (the same object)
     * @throws CancellationException if the task was cancelled (by {@code stop(true)})
     * @throws InterruptedException if this thread is interrupted while waiting; the task is cancelled
     * @throws IllegalStateException if the portal is not running or this is the loop's thread
     */
    public <T> @Nullable T call(AsyncCallable<T> fn) throws Exception {
        Objects.requireNonNull(fn, "fn must not be null");
        checkRunning(PortalMethod.CALL);
        calls.increment();
        return await(spawn(PortalMethod.CALL, null, fn));
    }

    /**
     * Runs a plain function on the loop thread (inside a task, with the caller's context) and blocks
     * until it returns. Use it for loop-confined calls such as {@link Event#set()}.
     */
    public <T> @Nullable T callSync(Callable<T> fn) throws Exception {
        Objects.requireNonNull(fn, "fn must not be null");
        checkRunning(PortalMethod.CALL_SYNC);
        calls.increment();
        return await(spawn(PortalMethod.CALL_SYNC, null, syncTask(fn)));
    }

    /** Runs a plain action on the loop thread and blocks until it has run, e.g. {@code callSync(event::set)}. */
    public void callSync(Runnable action) throws Exception {
        Objects.requireNonNull(action, "action must not be null");
        callSync(() -> {
            action.run();
            return null;
        });
    }

    /** Starts async code as a task on the loop and returns its future at once. */
    public <T> CompletableFuture<T> startTaskSoon(AsyncCallable<T> fn) {
        return startTaskSoon(null, fn);
    }

    /**
     * Starts async code as a task named {@code name} and returns its future at once. Cancelling the
     * future (any thread) completes it cancelled at once and cancels the task on the loop (see the
     * class comment); otherwise the future completes with the task's value or its exception. The
     * task's async function may return any {@code CompletionStage}; one that cannot be waited for
     * (its {@code whenComplete} throws) fails the future with an {@link IllegalStateException}.
     */
    public <T> CompletableFuture<T> startTaskSoon(@Nullable String name, AsyncCallable<T> fn) {
        Objects.requireNonNull(fn, "fn must not be null");
        checkRunning(PortalMethod.START_TASK_SOON);
        tasksStarted.increment();
        return spawn(PortalMethod.START_TASK_SOON, name, fn);
    }

    /** As {@link #startTask(String, TaskStarter)}, unnamed. */
    public <S, T> StartedTask<S, T> startTask(TaskStarter<S, T> fn) throws Exception {
        return startTask(null, fn);
    }

    /**
     * Starts a task and blocks until it reports readiness with {@link TaskStatus#started(Object)}
     * (AnyIO's {@code start_task}). If the task fails first, this throws its exception; if it is
     * cancelled first, {@link CancellationException}; if it returns without calling {@code started},
     * an {@link IllegalStateException}.
     */
    public <S, T> StartedTask<S, T> startTask(@Nullable String name, TaskStarter<S, T> fn) throws Exception {
        Objects.requireNonNull(fn, "fn must not be null");
        checkRunning(PortalMethod.START_TASK);
        tasksStarted.increment();
        CompletableFuture<S> started = new CompletableFuture<>();
        TaskStatus<S> status = new TaskStatus<>(started);
        CompletableFuture<T> future = spawn(PortalMethod.START_TASK, name, () -> fn.start(status));
        future.whenComplete((value, error) -> {
            if (error == null) {
                started.completeExceptionally(new IllegalStateException("the task returned without calling "
                        + "TaskStatus.started(); call status.started(value) once it is ready"));
            } else {
                started.completeExceptionally(error);
            }
        });
        S value;
        try {
            value = EventLoop.await(started);
        } catch (InterruptedException e) {
            future.cancel(true);
            throw e;
        }
        return new StartedTask<>(value, future);
    }

    /**
     * Enters an async resource in a new task and returns a handle for this thread (AnyIO's
     * {@code wrap_async_context_manager}). Enter and exit run in the same task. Close the handle to
     * exit; pass the body's failure with {@link PortalResource#exit(Throwable)}, or use
     * {@link #withAsyncResource}, for exit to see it and possibly suppress it.
     *
     * @throws Exception what {@link AsyncResource#enter()} failed with (exit is then not called)
     */
    public <T> PortalResource<T> wrapAsyncResource(AsyncResource<T> resource) throws Exception {
        Objects.requireNonNull(resource, "resource must not be null");
        checkRunning(PortalMethod.WRAP_ASYNC_RESOURCE);
        resourcesWrapped.increment();
        PortalResource<T> handle = new PortalResource<>(this);
        handle.task = spawn(PortalMethod.WRAP_ASYNC_RESOURCE, "async-resource", () -> handle.runOnLoop(resource));
        try {
            handle.value = EventLoop.await(handle.entered);
        } catch (InterruptedException e) {
            handle.task.cancel(true);
            throw e;
        }
        return handle;
    }

    /**
     * Enters {@code resource}, runs {@code body} on this thread with its value, and exits the
     * resource with the body's failure, if any. If exit suppresses the failure this returns null.
     */
    public <T, R> @Nullable R withAsyncResource(AsyncResource<T> resource, ResourceBody<T, R> body)
            throws Exception {
        Objects.requireNonNull(body, "body must not be null");
        PortalResource<T> handle = wrapAsyncResource(resource);
        R result;
        try {
            result = body.apply(handle.get());
        } catch (Throwable t) {
            if (handle.exit(t)) {
                return null;
            }
            throw EventLoop.rethrow(t);
        }
        handle.exit(null);
        return result;
    }

    // ---------------------------------------------------------------------------------------------
    // Loop-side API and stopping

    /** A stage that completes once the portal is stopped. Loop thread only. */
    public CompletionStage<Void> sleepUntilStopped() {
        EventLoop.requireLoop(loop, "BlockingPortal.sleepUntilStopped");
        return stoppedEvent.await();
    }

    /**
     * Stops the portal: new calls are rejected at once; with {@code cancelRemaining} the running
     * tasks are cancelled, otherwise they run on. Any thread; idempotent. The returned future
     * completes once every task has finished.
     */
    public CompletableFuture<Void> stop(boolean cancelRemaining) {
        running = false;
        if (loop.inEventLoop()) {
            stopOnLoop(cancelRemaining);
        } else {
            try {
                loop.executeSoon(() -> stopOnLoop(cancelRemaining));
            } catch (RejectedExecutionException loopGone) {
                finished.complete(null);
            }
        }
        return finished.copy();
    }

    private void stopOnLoop(boolean cancelRemaining) {
        running = false;
        stopping = true;
        stoppedEvent.set();
        if (cancelRemaining || !graceful) {
            for (PortalResource<?> r : List.copyOf(openResources)) {
                r.signalExitOnLoop(null);
            }
        }
        if (cancelRemaining) {
            scope.cancelOnLoop();
        }
        checkFinished();
    }

    /**
     * Stops the portal with a deadline: new calls are rejected at once, the running tasks may
     * finish until {@code gracePeriod} has passed, then the ones left are cancelled (as by
     * {@code stop(true)}). The returned future completes once every task has ended, early if all of
     * them finished within the grace period, with the tasks that were cancelled (empty if none).
     * Wrapped async resources stay open during the grace period, for their holders to exit; those
     * still open when it ends are exited.
     *
     * <pre>{@code
     * List<TaskInfo> cancelled = portal.stop(Duration.ofSeconds(10)).join();
     * }</pre>
     *
     * <p>Never stops the loop, unless the portal owns it ({@link #start()}): that loop is then shut
     * down once the tasks have ended, and the future completes when it has terminated. Any thread,
     * the loop's included; does not block. Calling it again, or after {@link #stop(boolean)}, is
     * allowed: the first grace period to end cancels the tasks left. An offload running in a task
     * cancelled at the end of the grace period is treated as its own {@link CancelMode} says; the
     * future completes after shielded ones have returned. Cancelling the returned future does not
     * affect the stop.
     *
     * @param gracePeriod how long the running tasks may take to finish (>= 0; zero is {@code stop(true)})
     * @throws IllegalArgumentException if {@code gracePeriod} is negative
     */
    public CompletableFuture<List<TaskInfo>> stop(Duration gracePeriod) {
        Objects.requireNonNull(gracePeriod, "gracePeriod must not be null");
        if (gracePeriod.isNegative()) {
            throw new IllegalArgumentException("gracePeriod must be >= 0 (was " + gracePeriod + ")");
        }
        running = false;
        CompletableFuture<List<TaskInfo>> result = new CompletableFuture<>();
        long graceEnd = CancelScope.saturatedAdd(System.nanoTime(), CancelScope.saturatedNanos(gracePeriod));
        Runnable onLoop = () -> stopGracefullyOnLoop(graceEnd).whenComplete((cancelled, e) -> {
            if (!ownsLoop) {
                result.complete(cancelled);
                return;
            }
            if (!loop.isShutdown()) {
                loop.shutdown(); // not when stopping already: a graceful stop would lose its grace
            }
            loop.terminationFuture().whenComplete((v, x) -> result.complete(cancelled));
        });
        if (loop.inEventLoop()) {
            onLoop.run();
        } else {
            try {
                loop.executeSoon(onLoop);
            } catch (RejectedExecutionException loopGone) {
                // The loop has stopped: so have the portal's tasks.
                result.complete(List.of());
            }
        }
        return result;
    }

    /**
     * Stops taking calls and lets the tasks finish; with a grace end ({@code System.nanoTime()}
     * basis), cancels them when it passes. Without one (the loop's own graceful stop), the loop
     * cancels them when its grace ends. The stage completes on the loop once every task has ended,
     * with the tasks the grace end cancelled. Loop thread.
     */
    private CompletionStage<List<TaskInfo>> stopGracefullyOnLoop(@Nullable Long graceEnd) {
        graceful = true;
        stopOnLoop(false);
        CompletableFuture<List<TaskInfo>> done = new CompletableFuture<>();
        if (finishedOnLoop) {
            done.complete(cancelledAtGrace);
            return done;
        }
        TimerQueue.Timer timer = graceEnd == null ? null : loop.timers().schedule(graceEnd, () -> {
            if (!finishedOnLoop) {
                if (cancelledAtGrace.isEmpty()) {
                    cancelledAtGrace = tasks();
                }
                stopOnLoop(true);
            }
        });
        whenFinished().whenComplete((v, e) -> {
            if (timer != null) {
                loop.timers().cancel(timer);
            }
            done.complete(cancelledAtGrace);
        });
        return done;
    }

    /**
     * Stops gracefully and waits for every task; for a portal made by {@link #start()}, then stops
     * its loop and joins the thread. Idempotent. Waits uninterruptibly (an interrupt is re-asserted).
     *
     * @throws IllegalStateException on the portal's loop thread, where it would wait for itself
     */
    @Override
    public void close() {
        if (loop.inEventLoop()) {
            throw new IllegalStateException("BlockingPortal.close() cannot be called from the event loop thread: it "
                    + "waits for the portal's tasks, which need this thread. From async code call stop(false) instead");
        }
        CompletableFuture<Void> done = stop(false);
        boolean interrupted = false;
        while (true) {
            try {
                done.get();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            } catch (ExecutionException e) {
                break;
            }
        }
        if (ownsLoop) {
            loop.close();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the portal accepts calls. */
    public boolean isRunning() {
        return running;
    }

    /** The loop this portal runs tasks on. */
    public EventLoop eventLoop() {
        return loop;
    }

    /** The portal's tasks alive now, oldest first. */
    public List<TaskInfo> tasks() {
        return LoopTask.infos(loop.tasksOf(this));
    }

    /** An immutable snapshot of the portal's counters. Any thread. */
    public PortalStatistics statistics() {
        return new PortalStatistics(running, (int) active.get(), calls.sum(), tasksStarted.sum(), resourcesWrapped.sum(),
                succeeded.get(), failed.get(), cancelled.get(), rejected.sum());
    }

    @Override
    public String toString() {
        return "BlockingPortal[" + loop.name() + ", " + (running ? "running" : "stopped") + ", " + active.get()
                + " tasks]";
    }

    // ---------------------------------------------------------------------------------------------
    // Internals

    private void checkRunning(PortalMethod method) {
        if (loop.isDraining()) {
            throw rejectedCall(method, loop.shuttingDown("BlockingPortal." + method.methodName()));
        }
        if (!running) {
            throw rejectedCall(method, new IllegalStateException("This portal is not running: it was stopped, so "
                    + "BlockingPortal." + method.methodName() + " cannot start work on it. Use a portal that is running, "
                    + "or share one with a BlockingPortalProvider, which starts a portal on demand"));
        }
        if (loop.inEventLoop()) {
            throw rejectedCall(method, new IllegalStateException("BlockingPortal." + method.methodName() + " cannot be "
                    + "called from the event loop thread (" + Thread.currentThread().getName() + "): it would block "
                    + "the thread that must run the task, a certain deadlock. In async code call the function "
                    + "directly, or start a task with TaskGroup.startSoon"));
        }
    }

    /**
     * Counts and reports a refused call, and returns the refusal for the caller to throw. Any thread.
     * {@code method} is null for a call made while the loop had no listener, which is not reported.
     */
    private <X extends Throwable> X rejectedCall(@Nullable PortalMethod method, X refusal) {
        rejected.increment();
        if (method != null && loop.listeners.any()) {
            loop.listeners.portalCall(new PortalCallEvent(loop.name(), method, PortalCallOutcome.REJECTED,
                    Duration.ZERO, refusal));
        }
        return refusal;
    }

    /** Reports a call whose task has ended, if it was observed. Loop thread. */
    private void reportEnded(PortalFuture<?> future, PortalCallOutcome outcome, @Nullable Throwable error) {
        PortalFuture.Observed<?> observed = future.observed();
        if (observed != null && loop.listeners.any()) {
            loop.listeners.portalCall(new PortalCallEvent(loop.name(), observed.method, outcome,
                    Duration.ofNanos(Math.max(0, System.nanoTime() - observed.startNanos)), error));
        }
    }

    private static <T> AsyncCallable<T> syncTask(Callable<T> fn) {
        return () -> {
            if (CancelScope.current().isCancelled()) {
                throw CancelScope.current().newCancelledException();
            }
            return LoopStage.completedFuture(fn.call());
        };
    }

    static <T> @Nullable T await(CompletableFuture<T> future) throws Exception {
        try {
            return EventLoop.await(future);
        } catch (InterruptedException e) {
            future.cancel(true);
            throw e;
        }
    }

    /**
     * Starts {@code fn} as a portal task from any thread; the future cancels the task. The calling
     * thread makes only the future, which carries the call to the loop; the task and its scope are
     * made on the loop, so the loop touches one object the caller wrote, not four.
     */
    <T> CompletableFuture<T> spawn(PortalMethod method, @Nullable String name, AsyncCallable<T> fn) {
        PortalFuture<T> future = PortalFuture.create(this, method, name, fn, ContextHolder.currentLocals(),
                loop.threadContext.captureOnThisThread());
        try {
            loop.execute(future);
        } catch (RejectedExecutionException stopped) {
            if (loop.isDraining()) {
                // the loop began a graceful stop since checkRunning: its own message
                throw rejectedCall(method, stopped);
            }
            throw rejectedCall(method, new IllegalStateException("This portal is not running: its event loop "
                    + loop.name() + " has stopped", stopped));
        }
        return future;
    }

    private <T> void startOnLoop(PortalFuture<T> future) {
        if (finishedOnLoop) {
            // No task to enter: the listeners and the future's dependents run in the loop's own context.
            loop.ownContext();
            PortalFuture.Observed<T> observed = future.observed();
            future.completeExceptionally(rejectedCall(observed != null ? observed.method : null,
                    new IllegalStateException("This portal is not running: it stopped before the task could start")));
            return;
        }
        active.increment();
        LoopTask task = new LoopTask(future.name, future.locals, future.threadLocals);
        task.owner = this;
        // The task's own scope, entered here rather than through CancelScope.run: the task's end
        // is the scope's exit, so no stage sits between them.
        CancelScope taskScope = CancelScope.create();
        if (future.isCancelled()) {
            loop.ownContext(); // entering a cancelled scope reports it to the listeners, before the task's context
            taskScope.cancel();
        }
        taskScope.enter(loop, scope, false);
        loop.start(task, taskScope, future.fn, new PortalTaskEnd<>(future, taskScope));
    }

    /**
     * Ends a portal task on the loop. Until the task's first step returns, the loop only reads the
     * future: the thread waiting for it is likely reading it too, and every write would take the
     * line from under it. Only a task that outlives its first step hands its scope to the future,
     * for a cancel to find; a cancel made during the first step (only the loop thread can make
     * one then) is applied as the step returns.
     */
    private final class PortalTaskEnd<T> implements EventLoop.TaskEnd<T> {
        private final PortalFuture<T> future;
        private final CancelScope taskScope;

        PortalTaskEnd(PortalFuture<T> future, CancelScope taskScope) {
            this.future = future;
            this.taskScope = taskScope;
        }

        @Override
        public void suspended() {
            future.taskScope = taskScope;
            if (future.isCancelled()) {
                taskScope.cancelOnLoop();
            }
        }

        @Override
        public void ended(@Nullable T value, @Nullable Throwable error) {
            if (future.taskScope != null) {
                future.taskScope = null;
            }
            boolean caught = taskScope.exit(error);
            // Out of the ended task, so that the future's dependents that run here see no task.
            LoopTask prevTask = loop.frame.currentTask;
            CancelScope prevScope = loop.frame.currentScope;
            ContextSnapshot.Scope threadLocals = loop.enter(null, scope);
            try {
                taskEnded(caught, future, value, error);
            } finally {
                loop.leave(null, threadLocals, prevTask, prevScope);
            }
        }
    }

    private <T> void taskEnded(boolean cancelledCaught, PortalFuture<T> future, @Nullable T value,
            @Nullable Throwable error) {
        active.decrement();
        Throwable cause = CancelScope.unwrap(error);
        if (cancelledCaught || (cause instanceof CancellationException)) {
            cancelled.increment();
            reportEnded(future, PortalCallOutcome.CANCELLED, null);
            future.cancelledByTask();
        } else if (cause == null) {
            succeeded.increment();
            reportEnded(future, PortalCallOutcome.SUCCESS, null);
            future.complete(value);
        } else {
            failed.increment();
            reportEnded(future, PortalCallOutcome.FAILURE, cause);
            future.completeExceptionally(cause);
        }
        checkFinished();
    }

    void resourceOpened(PortalResource<?> r) {
        openResources.add(r);
    }

    void resourceClosed(PortalResource<?> r) {
        openResources.remove(r);
    }

    EventLoop loop() {
        return loop;
    }

    /**
     * A portal task's future, and the callback that starts the task on the loop. Cancelling it
     * cancels the task's scope, whatever the portal's state. The future is cancelled first, then
     * the scope's cancel is queued to the loop, which owns the scope: a task that starts after the
     * future was cancelled starts in a cancelled scope, and one that is past its first step is
     * cancelled by the queued callback (see {@link PortalTaskEnd}). Starting and ending a task that
     * completes in its first step thus writes nothing to the future but its outcome.
     */
    static class PortalFuture<T> extends CompletableFuture<T> implements Runnable, MpscQueue.Sequenced {

        /**
         * How a thread blocking on a portal future waits: it spins while the loop is getting
         * through its queue, and parks once it is not. It spins up to
         * the loop's {@link EventLoop.Builder#callerSpin} (3 µs by default; 0 turns spinning off); each time that
         * runs out it reads the loop's callback count, and spins another 3 µs if the count moved,
         * and at most {@link #SHORT_QUEUE} submissions are ahead of this call, up to
         * {@link EventLoop.Builder#callerMaxSpin} (1 ms) in all. This is the adaptive mutex's rule
         * (spin while the owner is running): a busy loop answers within microseconds, far sooner
         * than a park/unpark pair completes, and a caller that never parked costs the loop no
         * {@code unpark}; a loop that is blocked, parked or descheduled stops the count, and the
         * caller parks within 3 µs, so it does not take the CPU the loop needs. A fixed spin lost
         * both ways: long ones kept the loop's core busy when both threads shared it, short ones
         * parked a caller that waits on thousands of futures in turn every few tasks; and a caller
         * far back in the queue (64 callers on two cores) is better parked, leaving the CPU to the
         * others' wake-ups. While the queue is long the spinner looks at the future once a
         * microsecond. At most half the cores' worth of callers (at least one) spin at a time; the
         * others park at once. A thread whose call has more than {@link #SHORT_QUEUE} calls ahead
         * of it, or as many newer calls queued behind it, does not spin at all: it is one of a crowd
         * of callers, or it waits for calls it started in bulk (spinning right behind the loop, it
         * would pull each future from the loop's cache as the loop completes it); parked, it is
         * woken once per turn.
         */
        private static final long POLL_NANOS = 1_000L;
        private static final int SHORT_QUEUE = 16;
        private static final int MAX_SPINNERS = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
        private static final AtomicInteger SPINNERS = new AtomicInteger();

        private final BlockingPortal portal;
        final @Nullable String name;
        final AsyncCallable<T> fn;
        final Locals locals;
        final @Nullable ContextSnapshot threadLocals;
        /** Where the future went in the loop's queue (0 if not through it); the submitter writes it. */
        private long seq;
        /** The scope of a task past its first step, until it ends; loop-confined. */
        @Nullable CancelScope taskScope;

        private PortalFuture(BlockingPortal portal, @Nullable String name, AsyncCallable<T> fn, Locals locals,
                @Nullable ContextSnapshot threadLocals) {
            this.portal = portal;
            this.name = name;
            this.fn = fn;
            this.locals = locals;
            this.threadLocals = threadLocals;
        }

        /**
         * The future of a call to {@code method}: an {@link Observed} one, which keeps the method and
         * the start time for its {@link PortalCallEvent}, if the loop has listeners; otherwise a plain
         * one, which reads no clock and is no bigger for it. The calling thread.
         */
        static <T> PortalFuture<T> create(BlockingPortal portal, PortalMethod method, @Nullable String name,
                AsyncCallable<T> fn, Locals locals, @Nullable ContextSnapshot threadLocals) {
            return portal.loop.listeners.any() ? new Observed<>(portal, method, name, fn, locals, threadLocals)
                    : new PortalFuture<>(portal, name, fn, locals, threadLocals);
        }

        /** This future as an observed call, or null if the loop had no listener when it was made. */
        @Nullable Observed<T> observed() {
            return null;
        }

        /** A call made while the loop had listeners. */
        static final class Observed<T> extends PortalFuture<T> {
            final PortalMethod method;
            /** When the call was made, on the calling thread. */
            final long startNanos = System.nanoTime();

            private Observed(BlockingPortal portal, PortalMethod method, @Nullable String name, AsyncCallable<T> fn,
                    Locals locals, @Nullable ContextSnapshot threadLocals) {
                super(portal, name, fn, locals, threadLocals);
                this.method = method;
            }

            @Override
            Observed<T> observed() {
                return this;
            }
        }

        @Override
        public void sequenced(long seq) {
            this.seq = seq;
        }

        /** Starts the task. Loop thread. */
        @Override
        public void run() {
            portal.startOnLoop(this);
        }

        @Override
        public T get() throws InterruptedException, ExecutionException {
            spinUntilDone();
            if (!isDone()) {
                parkUntilDone(true);
            }
            return super.get();
        }

        @Override
        public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
            // A timed wait parks the CompletableFuture way, which takes its waiter off the future
            // when it gives up: a thread polling a long task with short timeouts leaves nothing.
            spinUntilDone();
            return super.get(timeout, unit);
        }

        @Override
        public T join() {
            spinUntilDone();
            if (!isDone()) {
                try {
                    parkUntilDone(false);
                } catch (InterruptedException impossible) {
                    throw new AssertionError(impossible);
                }
            }
            return super.join();
        }

        /**
         * Parks until the future is done or (if {@code interruptible}) the thread is interrupted;
         * an untimed wait registers one dependent, which an interrupted wait leaves behind (marked
         * as left, so it wakes nobody when the future completes). The wake-up comes from a
         * dependent of the future, so every way of completing it wakes the thread; when the loop
         * completes it, the thread is woken at the end of the loop's turn ({@link EventLoop#wake})
         * rather than at once, by the loop or by another waiter of that turn ({@link Wakeup}). A
         * thread that waits for many futures in turn, behind a loop that has thousands of tasks to
         * run, then wakes once per turn of up to a thousand tasks, not once per task: when the two
         * threads share a core, the woken waiter would take the core from the loop every time.
         *
         * @throws InterruptedException if interruptible and the thread was interrupted (cleared)
         */
        private void parkUntilDone(boolean interruptible) throws InterruptedException {
            Wakeup wakeup = new Wakeup(portal.loop);
            whenComplete(wakeup);
            boolean interrupted = false;
            try {
                while (!isDone()) {
                    if (Thread.interrupted()) {
                        if (interruptible) {
                            throw new InterruptedException();
                        }
                        interrupted = true;
                    }
                    LockSupport.park(this);
                }
            } finally {
                wakeup.leave(); // first: the waiters below this one wait for it
                if (interrupted) {
                    wakeup.thread.interrupt();
                }
            }
        }

        private void spinUntilDone() {
            EventLoop loop = portal.loop;
            long spin = loop.callerSpinNanos;
            if (spin <= 0 || isDone()) {
                return;
            }
            if (seq != 0 && (loop.aheadOf(seq) > SHORT_QUEUE || loop.submittedAfter(seq) > SHORT_QUEUE)) {
                // Far back in the queue (one of a crowd), or an old call with many newer ones
                // behind it (this thread waits for calls in bulk, and spinning right behind the
                // loop would pull every future it completes from its cache): park, and be woken
                // once per turn.
                return;
            }
            AdaptiveSpin adaptive = loop.callerSpin;
            if (adaptive.spinNanos() <= 0) {
                return; // recent spins ran out before their results came: park at once
            }
            int spinners = SPINNERS.get();
            if (spinners >= MAX_SPINNERS || !SPINNERS.compareAndSet(spinners, spinners + 1)) {
                return;
            }
            boolean done = false;
            try {
                long now = System.nanoTime();
                long deadline = now + spin;
                long giveUp = now + loop.callerMaxSpinNanos;
                long ticks = loop.ticks();
                // Behind a long queue, look at the future once a microsecond: each look pulls
                // its line from the loop, which then has to take it back to write it, and the
                // loop would pay that on every task it runs while we wait.
                long pollEvery = loop.backlog() > SHORT_QUEUE ? POLL_NANOS : 0;
                long pollAgain = now;
                while (true) {
                    if (now - pollAgain >= 0) {
                        if (isDone()) {
                            done = true;
                            return;
                        }
                        pollAgain = now + pollEvery;
                    }
                    Thread.onSpinWait();
                    now = System.nanoTime();
                    if (now - deadline >= 0) {
                        // Out of patience, unless the loop is getting through its queue and is
                        // close to this call: behind dozens of others (a crowd of callers), the
                        // CPU is better spent on the crowd's wake-ups than on one skipped park.
                        long t = loop.ticks();
                        if (t == ticks || loop.aheadOf(seq) > SHORT_QUEUE || now - giveUp >= 0) {
                            return;
                        }
                        ticks = t;
                        deadline = now + spin;
                        pollEvery = loop.backlog() > SHORT_QUEUE ? POLL_NANOS : 0;
                    }
                }
            } finally {
                SPINNERS.decrementAndGet();
                adaptive.spun(done);
            }
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelledNow = super.cancel(mayInterruptIfRunning);
            try {
                portal.loop.runOnLoop(this::cancelOnLoop);
            } catch (RejectedExecutionException stopped) {
                // The loop is gone: the task has ended, or never will start.
            }
            return cancelledNow;
        }

        /** Cancels the task's scope, if the task has started. Loop thread. */
        private void cancelOnLoop() {
            CancelScope scope = taskScope;
            if (scope != null) {
                scope.cancelOnLoop();
            }
        }

        void cancelledByTask() {
            super.cancel(false);
        }
    }
}
