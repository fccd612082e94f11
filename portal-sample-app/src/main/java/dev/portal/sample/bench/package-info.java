/**
 * The same customer lookup written three ways, for the load comparison in {@code docs/performance.md}:
 * through Portal, through Spring's {@code @Async} and {@code TaskExecutor}, and on plain virtual
 * threads. Active only with the {@code bench} profile.
 */
@NullMarked
package dev.portal.sample.bench;

import org.jspecify.annotations.NullMarked;
