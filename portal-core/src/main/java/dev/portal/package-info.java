/**
 * Portal: AnyIO's worker-thread model for Java.
 *
 * <p>An {@link dev.portal.EventLoop} runs async code ({@link dev.portal.AsyncCallable}s that
 * compose {@link java.util.concurrent.CompletionStage}s) on one thread. Blocking calls are
 * offloaded with {@link dev.portal.ToThread#runSync} to pooled worker threads bounded by a
 * {@link dev.portal.CapacityLimiter}; workers call back with {@link dev.portal.FromThread} and poll
 * for cancellation with {@link dev.portal.FromThread#checkCancelled()}. {@link dev.portal.CancelScope}s
 * give structured cancellation and deadlines, {@link dev.portal.TaskGroup}s structured
 * concurrency, and {@link dev.portal.TaskLocal}s per-task context that travels with every hop.
 */
@NullMarked
package dev.portal;

import org.jspecify.annotations.NullMarked;
