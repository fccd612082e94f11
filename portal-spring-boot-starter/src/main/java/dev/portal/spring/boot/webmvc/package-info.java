/**
 * Spring MVC support: a controller may return a portal future (or any {@code CompletionStage}) and
 * Spring MVC serves it asynchronously; the task is cancelled when the request times out or the client
 * goes away.
 */
@NullMarked
package dev.portal.spring.boot.webmvc;

import org.jspecify.annotations.NullMarked;
