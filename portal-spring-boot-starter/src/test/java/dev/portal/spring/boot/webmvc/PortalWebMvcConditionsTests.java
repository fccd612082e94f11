package dev.portal.spring.boot.webmvc;

import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;
import org.junit.jupiter.api.Test;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;

import static org.assertj.core.api.Assertions.assertThat;

/** When {@link PortalWebMvcAutoConfiguration} applies: servlet web applications, unless switched off. */
class PortalWebMvcConditionsTests {

    private static final AutoConfigurations CONFIGURATIONS = AutoConfigurations.of(PortalAutoConfiguration.class,
            PortalWebMvcAutoConfiguration.class);

    @Test
    void aServletApplicationGetsTheCancellingHandler() {
        new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
            .run((context) -> assertThat(context).hasBean("portalCancellingCompletionStageHandler"));
    }

    @Test
    void itCanBeSwitchedOff() {
        new WebApplicationContextRunner().withConfiguration(CONFIGURATIONS)
            .withPropertyValues("portal.mvc.cancel-on-disconnect=false")
            .run((context) -> assertThat(context).doesNotHaveBean("portalCancellingCompletionStageHandler"));
    }

    @Test
    void aNonWebApplicationDoesNotGetIt() {
        new ApplicationContextRunner().withConfiguration(CONFIGURATIONS)
            .run((context) -> assertThat(context).doesNotHaveBean("portalCancellingCompletionStageHandler"));
    }

}
