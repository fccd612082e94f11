package dev.portal.spring.boot.autoconfigure;

import java.time.Duration;

import dev.portal.CancelMode;
import org.jspecify.annotations.Nullable;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.Errors;
import org.springframework.validation.Validator;

/**
 * Settings of the application's event loop, its worker threads and its shutdown, bound from
 * {@code portal.*}.
 *
 * <p>Spring Boot validates an instance right after binding it (the class is its own
 * {@link Validator}); a value outside its range stops the application at startup with a report that
 * names the property, the value and what is allowed.
 */
@ConfigurationProperties("portal")
public class PortalProperties implements Validator {

    private final Worker worker = new Worker();

    private final Loop loop = new Loop();

    private final Shutdown shutdown = new Shutdown();

    /** Settings of the worker threads that run {@code ToThread.runSync} calls. */
    public Worker getWorker() {
        return this.worker;
    }

    /** Settings of the event loop thread. */
    public Loop getLoop() {
        return this.loop;
    }

    /** What happens to running work when the application context closes. */
    public Shutdown getShutdown() {
        return this.shutdown;
    }

    /** Spring's validation contract: this validator checks {@link PortalProperties} only. */
    @Override
    public boolean supports(Class<?> type) {
        return PortalProperties.class.isAssignableFrom(type);
    }

    /**
     * Checks every value against its allowed range. Called by Spring Boot once the properties are
     * bound; each error's field is the property's path below {@code portal.} (in camel case), its
     * message what is allowed.
     */
    @Override
    public void validate(Object target, Errors errors) {
        PortalProperties properties = (PortalProperties) target;
        Worker worker = properties.getWorker();
        if (worker.getMaxThreads() < 0) {
            errors.rejectValue("worker.maxThreads", "portal.range", "a whole number >= 0 (0 pauses offloads)");
        }
        if (!isPositive(worker.getIdleTimeout())) {
            errors.rejectValue("worker.idleTimeout", "portal.range", "a duration > 0, such as 10s or 500ms");
        }
        int jdk = Runtime.version().feature();
        if (Boolean.TRUE.equals(worker.getVirtual()) && jdk < 21) {
            errors.rejectValue("worker.virtual", "portal.jdk",
                    "true only on JDK 21 or newer (this JVM is JDK " + jdk + "), otherwise false");
        }
        String prefix = worker.getThreadNamePrefix();
        if (prefix != null && prefix.isBlank()) {
            errors.rejectValue("worker.threadNamePrefix", "portal.blank", "a non-blank prefix, or no value");
        }
        String threadName = properties.getLoop().getThreadName();
        if (threadName == null || threadName.isBlank()) {
            errors.rejectValue("loop.threadName", "portal.blank", "a non-blank thread name");
        }
        if (isNegative(properties.getLoop().getBlockedThreshold())) {
            errors.rejectValue("loop.blockedThreshold", "portal.range",
                    "a duration >= 0, such as 2s (0 turns the blocked-loop detector off)");
        }
        if (isNegative(properties.getShutdown().getGracePeriod())) {
            errors.rejectValue("shutdown.gracePeriod", "portal.range", "a duration >= 0, such as 30s");
        }
    }

    private static boolean isPositive(@Nullable Duration duration) {
        return duration != null && !duration.isNegative() && !duration.isZero();
    }

    private static boolean isNegative(@Nullable Duration duration) {
        return duration == null || duration.isNegative();
    }

    /** Settings of the worker threads, bound from {@code portal.worker.*}. */
    public static class Worker {

        /**
         * Maximum number of worker threads running blocking calls at once: the size of the default
         * capacity limiter. 0 pauses offloads until the limit is raised.
         */
        private int maxThreads = 40;

        /**
         * Time an idle worker thread waits for the next call before it exits.
         */
        private Duration idleTimeout = Duration.ofSeconds(10);

        /**
         * Prefix for the names of worker threads. Defaults to the loop thread's name followed by
         * "-worker-".
         */
        private @Nullable String threadNamePrefix;

        /**
         * Whether worker threads are virtual threads (JDK 21 or newer). When not set, follows
         * "spring.threads.virtual.enabled".
         */
        private @Nullable Boolean virtual;

        /**
         * What a blocking call does when its caller is cancelled, unless the call chooses: 'shield'
         * waits for the call and drops its result, 'abandon' releases the caller at once and lets
         * the call run on, 'interrupt' also interrupts the worker thread.
         */
        private CancelMode cancelMode = CancelMode.SHIELD;

        public int getMaxThreads() {
            return this.maxThreads;
        }

        public void setMaxThreads(int maxThreads) {
            this.maxThreads = maxThreads;
        }

        public Duration getIdleTimeout() {
            return this.idleTimeout;
        }

        public void setIdleTimeout(Duration idleTimeout) {
            this.idleTimeout = idleTimeout;
        }

        public @Nullable String getThreadNamePrefix() {
            return this.threadNamePrefix;
        }

        public void setThreadNamePrefix(@Nullable String threadNamePrefix) {
            this.threadNamePrefix = threadNamePrefix;
        }

        public @Nullable Boolean getVirtual() {
            return this.virtual;
        }

        public void setVirtual(@Nullable Boolean virtual) {
            this.virtual = virtual;
        }

        public CancelMode getCancelMode() {
            return this.cancelMode;
        }

        public void setCancelMode(CancelMode cancelMode) {
            this.cancelMode = cancelMode;
        }

    }

    /** Settings of the event loop thread, bound from {@code portal.loop.*}. */
    public static class Loop {

        /**
         * Name of the event loop thread.
         */
        private String threadName = "portal-loop";

        /**
         * Time one callback may run on the loop before the loop is reported as blocked (logged,
         * counted, and shown as DOWN by the health indicator). 0 turns the detector off.
         */
        private Duration blockedThreshold = Duration.ofSeconds(2);

        public String getThreadName() {
            return this.threadName;
        }

        public void setThreadName(String threadName) {
            this.threadName = threadName;
        }

        public Duration getBlockedThreshold() {
            return this.blockedThreshold;
        }

        public void setBlockedThreshold(Duration blockedThreshold) {
            this.blockedThreshold = blockedThreshold;
        }

    }

    /** What happens to running work when the context closes, bound from {@code portal.shutdown.*}. */
    public static class Shutdown {

        /**
         * Time that tasks and blocking calls still running when the context closes get to finish,
         * after the web server's graceful shutdown. Not capped by
         * "spring.lifecycle.timeout-per-shutdown-phase".
         */
        private Duration gracePeriod = Duration.ofSeconds(30);

        /**
         * How blocking calls still running after the grace period are cancelled: 'interrupt'
         * interrupts their worker threads, 'abandon' leaves them to finish on their own, 'shield'
         * waits for them.
         */
        private CancelMode afterGrace = CancelMode.INTERRUPT;

        public Duration getGracePeriod() {
            return this.gracePeriod;
        }

        public void setGracePeriod(Duration gracePeriod) {
            this.gracePeriod = gracePeriod;
        }

        public CancelMode getAfterGrace() {
            return this.afterGrace;
        }

        public void setAfterGrace(CancelMode afterGrace) {
            this.afterGrace = afterGrace;
        }

    }

}
