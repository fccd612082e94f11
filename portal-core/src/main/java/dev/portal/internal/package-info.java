/**
 * Portal's machinery: the timer heap, the worker pool and the thread-context bridge.
 *
 * <p><strong>Not for use.</strong> These types are public only so that {@code dev.portal} can use
 * them; they change without notice. Use the types in {@code dev.portal}.
 */
@NullMarked
package dev.portal.internal;

import org.jspecify.annotations.NullMarked;
