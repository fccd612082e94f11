package dev.portal.spring.boot.context;

import java.util.List;

import dev.portal.BlockingPortal;
import dev.portal.FromThread;
import dev.portal.ToThread;
import dev.portal.spring.boot.autoconfigure.PortalAutoConfiguration;
import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;
import io.micrometer.context.integration.Slf4jThreadLocalAccessor;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import io.micrometer.observation.contextpropagation.ObservationThreadLocalAccessor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.authentication.TestingAuthenticationToken;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.context.SecurityContextHolder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tests for {@link PortalContextPropagationAutoConfiguration}: the MDC, Spring Security's
 * {@code SecurityContext}, the current Micrometer {@code Observation} and an application's own
 * accessor each flow from the calling thread to the loop task, the worker, and the worker's call back
 * into the loop; nothing is registered globally, and nothing is left on a pooled worker.
 */
class PortalContextPropagationAutoConfigurationTests {

    private final ApplicationContextRunner contextRunner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(PortalContextPropagationAutoConfiguration.class,
                PortalAutoConfiguration.class));

    @AfterEach
    void clear() {
        MDC.clear();
        SecurityContextHolder.clearContext();
    }

    /** What the loop task, the worker and the worker's call back into the loop each saw, in that order. */
    private static List<String> seenOnEveryHop(BlockingPortal portal, java.util.function.Supplier<String> read)
            throws Exception {
        return portal.call(() -> {
            String onLoop = read.get();
            return ToThread.runSync(() -> {
                String onWorker = read.get();
                String backOnLoop = FromThread.runSync(read::get);
                return java.util.Arrays.asList(onLoop, onWorker, backOnLoop);
            });
        });
    }

    @Test
    void theMdcFlowsToEveryHopAndNothingStaysOnTheWorker() {
        this.contextRunner.run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            MDC.put("requestId", "r-7");
            assertThat(seenOnEveryHop(portal, () -> MDC.get("requestId"))).containsExactly("r-7", "r-7", "r-7");
            MDC.clear();
            assertThat(seenOnEveryHop(portal, () -> MDC.get("requestId"))).containsExactly(null, null, null);
        });
    }

    @Test
    void theSecurityContextFlowsToEveryHop() {
        this.contextRunner.run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            SecurityContextHolder.getContext().setAuthentication(new TestingAuthenticationToken("ada", "pw", "ROLE_USER"));
            assertThat(seenOnEveryHop(portal, () -> {
                Authentication auth = SecurityContextHolder.getContext().getAuthentication();
                return (auth != null) ? auth.getName() : null;
            })).containsExactly("ada", "ada", "ada");
            SecurityContextHolder.clearContext();
            assertThat(seenOnEveryHop(portal, () -> {
                Authentication auth = SecurityContextHolder.getContext().getAuthentication();
                return (auth != null) ? auth.getName() : null;
            })).containsExactly(null, null, null);
        });
    }

    @Test
    void theCurrentObservationFlowsToEveryHopSoTracesContinue() {
        ObservationRegistry observations = ObservationRegistry.create();
        observations.observationConfig().observationHandler((ctx) -> true);
        ObservationThreadLocalAccessor.getInstance().setObservationRegistry(observations);
        this.contextRunner.run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            Observation request = Observation.start("http.server.requests", observations);
            try (Observation.Scope scope = request.openScope()) {
                assertThat(seenOnEveryHop(portal, () -> {
                    Observation current = observations.getCurrentObservation();
                    return (current != null) ? current.getContext().getName() : null;
                })).containsExactly("http.server.requests", "http.server.requests", "http.server.requests");
            }
            finally {
                request.stop();
            }
        });
    }

    @Test
    void anApplicationsAccessorBeanIsCarriedToo() {
        this.contextRunner.withUserConfiguration(TenantConfiguration.class).run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            TenantConfiguration.TENANT.set("acme");
            try {
                assertThat(seenOnEveryHop(portal, TenantConfiguration.TENANT::get)).containsExactly("acme", "acme",
                        "acme");
            }
            finally {
                TenantConfiguration.TENANT.remove();
            }
        });
    }

    @Test
    void theRegistryIsTheLoopsOwnAndTheGlobalOneIsUntouched() {
        this.contextRunner.withUserConfiguration(TenantConfiguration.class).run((context) -> {
            ContextRegistry registry = context.getBean(PortalContextPropagationAutoConfiguration.CONTEXT_REGISTRY_BEAN_NAME,
                    ContextRegistry.class);
            assertThat(registry).isNotSameAs(ContextRegistry.getInstance());
            assertThat(registry.getThreadLocalAccessors()).extracting(ThreadLocalAccessor::key)
                .contains(Slf4jThreadLocalAccessor.KEY, ObservationThreadLocalAccessor.KEY, "tenant");
            assertThat(ContextRegistry.getInstance().getThreadLocalAccessors()).extracting(ThreadLocalAccessor::key)
                .doesNotContain(Slf4jThreadLocalAccessor.KEY, "tenant");
        });
    }

    @Test
    void aUserDefinedRegistryReplacesOurs() {
        this.contextRunner.withBean(PortalContextPropagationAutoConfiguration.CONTEXT_REGISTRY_BEAN_NAME,
                ContextRegistry.class, ContextRegistry::new).run((context) -> {
                    BlockingPortal portal = context.getBean(BlockingPortal.class);
                    MDC.put("requestId", "r-8");
                    assertThat(seenOnEveryHop(portal, () -> MDC.get("requestId")))
                        .as("an empty registry carries nothing").containsExactly(null, null, null);
                });
    }

    @Configuration(proxyBeanMethods = false)
    static class TenantConfiguration {

        static final ThreadLocal<String> TENANT = new ThreadLocal<>();

        @Bean
        ThreadLocalAccessor<String> tenantAccessor() {
            return new ThreadLocalAccessor<>() {
                @Override
                public Object key() {
                    return "tenant";
                }

                @Override
                public String getValue() {
                    return TENANT.get();
                }

                @Override
                public void setValue(String value) {
                    TENANT.set(value);
                }

                @Override
                public void setValue() {
                    TENANT.remove();
                }
            };
        }

    }

}
