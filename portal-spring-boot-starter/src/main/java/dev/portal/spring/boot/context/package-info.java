/**
 * Context propagation for Portal in a Spring application: the registry of ThreadLocal accessors
 * (MDC, Spring Security, Micrometer Observation, and the application's own) that the application's
 * event loop carries across every hop.
 */
@NullMarked
package dev.portal.spring.boot.context;

import org.jspecify.annotations.NullMarked;
