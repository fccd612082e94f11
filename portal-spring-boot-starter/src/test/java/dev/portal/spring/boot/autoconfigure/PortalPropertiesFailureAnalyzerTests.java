package dev.portal.spring.boot.autoconfigure;

import java.util.Map;
import java.util.Objects;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.env.OriginTrackedMapPropertySource;
import org.springframework.boot.origin.Origin;
import org.springframework.boot.origin.OriginTrackedValue;
import org.springframework.boot.origin.TextResourceOrigin;
import org.springframework.boot.origin.TextResourceOrigin.Location;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.test.context.assertj.AssertableApplicationContext;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.io.ClassPathResource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatException;

/**
 * Tests for {@link PortalPropertiesFailureAnalyzer}: every invalid {@code portal.*} value stops the
 * context, and the report names the property, the value, what is allowed and how to fix it.
 */
class PortalPropertiesFailureAnalyzerTests {

    private final ApplicationContextRunner contextRunner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(PortalAutoConfiguration.class));

    @Test
    void negativeMaxThreadsFailsWithTheAllowedRangeAndDefault() {
        FailureAnalysis analysis = failWith("portal.worker.max-threads=-1");
        assertThat(analysis.getDescription()).contains("Property: portal.worker.max-threads")
            .contains("Value: \"-1\"")
            .contains("Allowed: a whole number >= 0 (0 pauses offloads)");
        assertThat(analysis.getAction()).isEqualTo("Set portal.worker.max-threads to a whole number >= 0 "
                + "(0 pauses offloads), or remove it to use the default (40).");
    }

    @Test
    void zeroIdleTimeoutFails() {
        FailureAnalysis analysis = failWith("portal.worker.idle-timeout=0s");
        assertThat(analysis.getDescription()).contains("Property: portal.worker.idle-timeout")
            .contains("Value: \"0s\"")
            .contains("Allowed: a duration > 0, such as 10s or 500ms");
        assertThat(analysis.getAction()).contains("or remove it to use the default (10s).");
    }

    @Test
    void negativeIdleTimeoutFails() {
        assertThat(failWith("portal.worker.idle-timeout=-5s").getDescription())
            .contains("Property: portal.worker.idle-timeout")
            .contains("Value: \"-5s\"");
    }

    @Test
    void negativeBlockedThresholdFails() {
        FailureAnalysis analysis = failWith("portal.loop.blocked-threshold=-1ms");
        assertThat(analysis.getDescription()).contains("Property: portal.loop.blocked-threshold")
            .contains("Value: \"-1ms\"")
            .contains("Allowed: a duration >= 0, such as 2s (0 turns the blocked-loop detector off)");
        assertThat(analysis.getAction()).contains("the default (2s)");
    }

    @Test
    void negativeGracePeriodFails() {
        FailureAnalysis analysis = failWith("portal.shutdown.grace-period=-30s");
        assertThat(analysis.getDescription()).contains("Property: portal.shutdown.grace-period")
            .contains("Value: \"-30s\"")
            .contains("Allowed: a duration >= 0, such as 30s");
        assertThat(analysis.getAction()).contains("the default (30s)");
    }

    @Test
    void blankThreadNameFails() {
        assertThat(failWith("portal.loop.thread-name= ").getDescription()).contains("Property: portal.loop.thread-name")
            .contains("Allowed: a non-blank thread name");
    }

    @Test
    void blankWorkerPrefixFails() {
        FailureAnalysis analysis = failWith("portal.worker.thread-name-prefix= ");
        assertThat(analysis.getDescription()).contains("Property: portal.worker.thread-name-prefix");
        assertThat(analysis.getAction()).endsWith("or remove it to use the default.");
    }

    @Test
    void unknownCancelModeFailsListingTheModes() {
        FailureAnalysis analysis = failWith("portal.worker.cancel-mode=kill");
        assertThat(analysis.getDescription()).contains("Property: portal.worker.cancel-mode")
            .contains("Value: \"kill\"")
            .contains("Allowed: one of shield, abandon, interrupt");
        assertThat(analysis.getAction()).isEqualTo("Set portal.worker.cancel-mode to one of shield, abandon, "
                + "interrupt, or remove it to use the default (shield).");
    }

    @Test
    void unknownAfterGraceModeFailsListingTheModes() {
        FailureAnalysis analysis = failWith("portal.shutdown.after-grace=later");
        assertThat(analysis.getDescription()).contains("Property: portal.shutdown.after-grace")
            .contains("Value: \"later\"")
            .contains("Allowed: one of shield, abandon, interrupt");
        assertThat(analysis.getAction()).contains("the default (interrupt)");
    }

    @Test
    void malformedDurationFails() {
        FailureAnalysis analysis = failWith("portal.shutdown.grace-period=soon");
        assertThat(analysis.getDescription()).contains("Property: portal.shutdown.grace-period")
            .contains("Value: \"soon\"")
            .contains("Allowed: a duration such as 30s, 500ms or PT1M");
    }

    @Test
    void nonNumericMaxThreadsFails() {
        assertThat(failWith("portal.worker.max-threads=many").getDescription())
            .contains("Property: portal.worker.max-threads")
            .contains("Value: \"many\"")
            .contains("Allowed: a whole number");
    }

    @Test
    @EnabledForJreRange(max = JRE.JAVA_20)
    void virtualWorkersOnAJdkWithoutVirtualThreadsFail() {
        FailureAnalysis analysis = failWith("portal.worker.virtual=true");
        assertThat(analysis.getDescription()).contains("Property: portal.worker.virtual")
            .contains("Value: \"true\"")
            .contains("Allowed: true only on JDK 21 or newer (this JVM is JDK " + Runtime.version().feature()
                    + "), otherwise false");
    }

    @Test
    @EnabledForJreRange(min = JRE.JAVA_21)
    void virtualWorkersOnAJdkWithVirtualThreadsStart() {
        this.contextRunner.withPropertyValues("portal.worker.virtual=true")
            .run((context) -> assertThat(context).hasNotFailed());
    }

    @Test
    void everyInvalidValueIsReportedAtOnce() {
        FailureAnalysis analysis = failWith("portal.worker.max-threads=-2", "portal.shutdown.grace-period=-1s");
        assertThat(analysis.getDescription()).contains("Property: portal.worker.max-threads")
            .contains("Property: portal.shutdown.grace-period");
        assertThat(analysis.getAction().lines()).hasSize(2);
    }

    @Test
    void reportNamesWhereTheValueWasSet() {
        Origin origin = new TextResourceOrigin(new ClassPathResource("application.yml"), new Location(4, 18));
        this.contextRunner.withInitializer((context) -> context.getEnvironment()
            .getPropertySources()
            .addFirst(new OriginTrackedMapPropertySource("application.yml",
                    Map.of("portal.worker.max-threads", OriginTrackedValue.of("-1", origin)))))
            .run((context) -> assertThat(analyze(context).getDescription())
                .contains("Origin: class path resource [application.yml] - 5:19"));
    }

    @Test
    void failuresOutsidePortalsPropertiesAreLeftToOtherAnalyzers() {
        this.contextRunner.withPropertyValues("portal.worker.max-threads=-1").run((context) -> {
            Throwable unrelated = new IllegalStateException("not a binding failure");
            assertThat(new PortalPropertiesFailureAnalyzer().analyze(unrelated)).isNull();
        });
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void applicationThatFailsToStartPrintsThisReportNotSpringBootsGenericOne(CapturedOutput output) {
        SpringApplication application = new SpringApplication(MinimalApplication.class);
        application.setWebApplicationType(WebApplicationType.NONE);
        assertThatException().isThrownBy(() -> application.run("--portal.worker.max-threads=-1"));
        assertThat(output).contains("APPLICATION FAILED TO START")
            .contains("Portal's configuration is invalid:")
            .contains("Property: portal.worker.max-threads")
            .contains("Origin: \"portal.worker.max-threads\" from property source \"commandLineArgs\"")
            .contains("Set portal.worker.max-threads to a whole number >= 0")
            .doesNotContain("Binding to target");
    }

    @Configuration(proxyBeanMethods = false)
    @ImportAutoConfiguration(PortalAutoConfiguration.class)
    static class MinimalApplication {

    }

    private FailureAnalysis failWith(String... properties) {
        FailureAnalysis[] analysis = new FailureAnalysis[1];
        this.contextRunner.withPropertyValues(properties).run((context) -> analysis[0] = analyze(context));
        return Objects.requireNonNull(analysis[0]);
    }

    private static FailureAnalysis analyze(AssertableApplicationContext context) {
        assertThat(context).hasFailed();
        FailureAnalysis analysis = new PortalPropertiesFailureAnalyzer().analyze(context.getStartupFailure());
        assertThat(analysis).as("analysis of %s", context.getStartupFailure()).isNotNull();
        return analysis;
    }

}
