/**
 * Portal's benchmarks against the JDK floor, Vert.x 5 and Reactor 3.8. {@link dev.portal.bench.Contender}
 * states each measured operation once; each system implements it in its own idiom, and the JMH
 * benchmarks in {@code dev.portal.bench.jmh} run every contender with the same JVM settings in the
 * same run. {@code bench/run.sh} builds and runs everything and publishes {@code docs/performance.md}.
 */
@NullMarked
package dev.portal.bench;

import org.jspecify.annotations.NullMarked;
