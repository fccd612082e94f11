package dev.portal.sample.bench;

import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;
import org.springframework.scheduling.annotation.EnableAsync;

/** Turns on {@code @Async} for the comparison; Boot's {@code spring.task.execution.*} sizes its pool. */
@Configuration(proxyBeanMethods = false)
@Profile("bench")
@EnableAsync
class BenchConfiguration {
}
