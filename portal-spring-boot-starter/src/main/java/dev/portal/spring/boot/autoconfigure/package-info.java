/**
 * Spring Boot auto-configuration for Portal: the application's managed
 * {@link dev.portal.EventLoop}, its default {@link dev.portal.CapacityLimiter}, a
 * {@link dev.portal.BlockingPortal} and a shared {@link dev.portal.BlockingPortalProvider}, configured
 * under {@code portal.*} ({@link dev.portal.spring.boot.autoconfigure.PortalProperties}).
 */
@NullMarked
package dev.portal.spring.boot.autoconfigure;

import org.jspecify.annotations.NullMarked;
