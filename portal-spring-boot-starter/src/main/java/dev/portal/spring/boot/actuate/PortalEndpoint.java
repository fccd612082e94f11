package dev.portal.spring.boot.actuate;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import dev.portal.CapacityLimiter;
import dev.portal.CapacityLimiterStatistics;
import dev.portal.EventLoop;
import dev.portal.EventLoopStatistics;
import dev.portal.TaskInfo;
import dev.portal.WorkerPoolStatistics;
import org.jspecify.annotations.Nullable;

import org.springframework.boot.actuate.endpoint.InvalidEndpointRequestException;
import org.springframework.boot.actuate.endpoint.OperationResponseBody;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

/**
 * The {@code portal} endpoint: the application's event loop (state, tasks with names and ages,
 * workers), and every {@link CapacityLimiter} bean's statistics; its write operation resizes a
 * limiter live. Exposed over HTTP at {@code /actuator/portal} only when the application exposes it
 * ({@code management.endpoints.web.exposure.include=portal}).
 */
@Endpoint(id = "portal")
public final class PortalEndpoint {

    private final EventLoop eventLoop;

    private final Map<String, CapacityLimiter> limiters;

    /**
     * Creates the endpoint.
     * @param eventLoop the application's loop
     * @param limiters the limiters to show and resize, keyed by their bean names; the loop's default
     * limiter is shown whether or not it is among them
     */
    public PortalEndpoint(EventLoop eventLoop, Map<String, CapacityLimiter> limiters) {
        this.eventLoop = Objects.requireNonNull(eventLoop, "eventLoop must not be null");
        this.limiters = Map.copyOf(Objects.requireNonNull(limiters, "limiters must not be null"));
    }

    /** The loop, its tasks and every limiter. Any thread; takes no lock on the loop. */
    @ReadOperation
    public PortalDescriptor portal() {
        EventLoopStatistics statistics = this.eventLoop.statistics();
        Map<String, LimiterDescriptor> limiters = new LinkedHashMap<>();
        limitersByName().forEach((name, limiter) -> limiters.put(name, LimiterDescriptor.of(limiter.statistics())));
        List<TaskDescriptor> tasks = this.eventLoop.tasks().stream().map(TaskDescriptor::of).toList();
        return new PortalDescriptor(LoopDescriptor.of(statistics), limiters, tasks);
    }

    /**
     * One limiter, by its name ({@link CapacityLimiter#name()}) or bean name; {@code null} (HTTP
     * 404) when there is none.
     */
    @ReadOperation
    public @Nullable LimiterDescriptor limiter(@Selector String name) {
        CapacityLimiter limiter = find(name);
        return (limiter != null) ? LimiterDescriptor.of(limiter.statistics()) : null;
    }

    /**
     * Resizes a limiter live ({@link CapacityLimiter#setTotalTokens}): raising it wakes waiters at
     * once; lowering it lets calls in flight finish and grants no new token until the borrowed
     * count is below the new total. Does not block.
     * @param name the limiter's name or bean name
     * @param totalTokens the new total, {@code >= 0} (0 pauses offloads through it)
     * @return the limiter after the change
     * @throws InvalidEndpointRequestException (HTTP 400) for an unknown limiter or a negative total
     */
    @WriteOperation
    public LimiterDescriptor resizeLimiter(@Selector String name, int totalTokens) {
        CapacityLimiter limiter = find(name);
        if (limiter == null) {
            throw new InvalidEndpointRequestException(
                    "No limiter named '" + name + "'; limiters: " + limitersByName().keySet(), "unknown limiter");
        }
        if (totalTokens < 0) {
            throw new InvalidEndpointRequestException("totalTokens must be >= 0 (was " + totalTokens + ")",
                    "totalTokens must be >= 0");
        }
        limiter.setTotalTokens(totalTokens);
        return LimiterDescriptor.of(limiter.statistics());
    }

    /** A limiter by its name, else by its bean name. */
    private @Nullable CapacityLimiter find(String name) {
        CapacityLimiter limiter = limitersByName().get(name);
        return (limiter != null) ? limiter : this.limiters.get(name);
    }

    /** Limiters by name (their own, else their bean name), the loop's default first, then by bean name. */
    private Map<String, CapacityLimiter> limitersByName() {
        Map<String, CapacityLimiter> all = new LinkedHashMap<>();
        CapacityLimiter loopDefault = this.eventLoop.defaultThreadLimiter();
        all.put(nameOf(loopDefault, "default"), loopDefault);
        this.limiters.entrySet()
            .stream()
            .sorted(Map.Entry.comparingByKey())
            .filter((entry) -> entry.getValue() != loopDefault)
            .forEach((entry) -> all.putIfAbsent(nameOf(entry.getValue(), entry.getKey()), entry.getValue()));
        return all;
    }

    private static String nameOf(CapacityLimiter limiter, String fallback) {
        String name = limiter.name();
        return (name != null) ? name : fallback;
    }

    /**
     * The endpoint's answer.
     * @param loop the event loop
     * @param limiters every limiter by name
     * @param tasks the tasks running on the loop, oldest first
     */
    public record PortalDescriptor(LoopDescriptor loop, Map<String, LimiterDescriptor> limiters,
            List<TaskDescriptor> tasks) implements OperationResponseBody {
    }

    /**
     * The event loop.
     * @param name the loop thread's name
     * @param state {@code running}, {@code stopping} or {@code terminated}
     * @param tasks tasks alive on the loop
     * @param callbacksRun callbacks run since the start
     * @param callbackFailures callbacks that threw
     * @param blockedEvents times a callback ran past the blocked-loop threshold
     * @param longestBlock the longest such stall (ISO-8601)
     * @param maxTimerLag the latest a timer fired (ISO-8601)
     * @param workers the worker threads
     */
    public record LoopDescriptor(String name, String state, int tasks, long callbacksRun, long callbackFailures,
            long blockedEvents, String longestBlock, String maxTimerLag, WorkersDescriptor workers) {

        static LoopDescriptor of(EventLoopStatistics statistics) {
            return new LoopDescriptor(statistics.name(), PortalHealthIndicator.state(statistics), statistics.tasks(),
                    statistics.callbacksRun(), statistics.callbackFailures(), statistics.blockedEvents(),
                    statistics.longestBlock().toString(), statistics.maxTimerLag().toString(),
                    WorkersDescriptor.of(statistics.workers()));
        }

    }

    /**
     * The worker threads.
     * @param live threads alive
     * @param idle threads waiting for work
     * @param busy calls running now
     * @param abandonedRunning abandoned or interrupted calls that have not returned yet
     * @param created threads started since the loop started
     * @param retired threads that exited
     * @param virtual whether workers are virtual threads
     */
    public record WorkersDescriptor(int live, int idle, long busy, long abandonedRunning, long created, long retired,
            boolean virtual) {

        static WorkersDescriptor of(WorkerPoolStatistics workers) {
            return new WorkersDescriptor(workers.live(), workers.idle(), workers.busy(), workers.abandonedRunning(),
                    workers.created(), workers.retired(), workers.virtual());
        }

    }

    /**
     * A limiter.
     * @param totalTokens the current total
     * @param borrowedTokens tokens held now
     * @param availableTokens total minus borrowed (negative right after lowering the total)
     * @param tasksWaiting acquirers queued for a token
     * @param acquisitions tokens granted since the limiter was made
     * @param waitedAcquisitions grants that had to queue first
     * @param totalWaitTime time spent queued, summed over every waiter (ISO-8601)
     */
    public record LimiterDescriptor(int totalTokens, int borrowedTokens, int availableTokens, int tasksWaiting,
            long acquisitions, long waitedAcquisitions, String totalWaitTime) implements OperationResponseBody {

        static LimiterDescriptor of(CapacityLimiterStatistics statistics) {
            return new LimiterDescriptor(statistics.totalTokens(), statistics.borrowedTokens(),
                    statistics.availableTokens(), statistics.tasksWaiting(), statistics.acquisitions(),
                    statistics.waitedAcquisitions(), statistics.totalWaitTime().toString());
        }

    }

    /**
     * A task on the loop.
     * @param id a number unique within the JVM
     * @param name the task's name
     * @param startedAt when it started (ISO-8601)
     * @param age how long it has been running (ISO-8601)
     */
    public record TaskDescriptor(long id, String name, String startedAt, String age) {

        static TaskDescriptor of(TaskInfo task) {
            return new TaskDescriptor(task.id(), task.name(), task.startedAt().toString(), task.age().toString());
        }

    }

}
