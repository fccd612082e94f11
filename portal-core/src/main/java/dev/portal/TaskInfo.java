package dev.portal;

import java.time.Duration;
import java.time.Instant;

/**
 * An immutable description of a task on an event loop (AnyIO's {@code TaskInfo}).
 *
 * @param id a number unique within the JVM
 * @param name the name given when the task was started, or a generated one
 * @param startedAt when the task started
 * @param age how long it had been running when this snapshot was taken
 */
public record TaskInfo(long id, String name, Instant startedAt, Duration age) {
}
