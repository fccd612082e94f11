package dev.portal.spring.boot.autoconfigure;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

import dev.portal.BlockingPortal;
import dev.portal.BlockingPortalProvider;
import dev.portal.BlockingPortalProvider.PortalLease;
import dev.portal.CancelMode;
import dev.portal.CapacityLimiter;
import dev.portal.EventLoop;
import dev.portal.ToThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.annotation.ImportCandidates;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.annotation.Order;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Tests for {@link PortalAutoConfiguration}: each bean, its back-off, and each {@code portal.*}
 * property's effect on the running loop.
 */
class PortalAutoConfigurationTests {

    private final ApplicationContextRunner contextRunner = new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(PortalAutoConfiguration.class));

    @Test
    void autoConfigurationIsRegisteredInTheImportsFile() {
        assertThat(ImportCandidates.load(AutoConfiguration.class, getClass().getClassLoader()))
            .contains(PortalAutoConfiguration.class.getName());
    }

    @Test
    void defaultLimiterIsNamedDefaultWithFortyTokens() {
        this.contextRunner.run((context) -> {
            CapacityLimiter limiter = context.getBean(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME,
                    CapacityLimiter.class);
            assertThat(limiter.name()).isEqualTo("default");
            assertThat(limiter.totalTokens()).isEqualTo(40);
        });
    }

    @Test
    void eventLoopIsRunningAndUsesTheLimiterBean() {
        this.contextRunner.run((context) -> {
            EventLoop loop = context.getBean(EventLoop.class);
            assertThat(loop.isShutdown()).isFalse();
            assertThat(loop.name()).isEqualTo("portal-loop");
            assertThat(loop.defaultThreadLimiter())
                .isSameAs(context.getBean(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME));
            assertThat(loop.defaultCancelMode()).isEqualTo(CancelMode.SHIELD);
        });
    }

    @Test
    void blockingPortalRunsOffloadsOnTheApplicationsLoop() {
        this.contextRunner.run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            assertThat(portal.eventLoop()).isSameAs(context.getBean(EventLoop.class));
            String worker = portal.call(() -> ToThread.runSync(() -> Thread.currentThread().getName()));
            assertThat(worker).startsWith("portal-loop-worker-");
        });
    }

    @Test
    void portalProviderIsBoundToTheApplicationsLoop() {
        this.contextRunner.run((context) -> {
            BlockingPortalProvider provider = context.getBean(BlockingPortalProvider.class);
            assertThat(provider.isBound()).isTrue();
            try (PortalLease lease = provider.lease()) {
                assertThat(lease.portal().eventLoop()).isSameAs(context.getBean(EventLoop.class));
                assertThat(lease.portal().<Integer>call(() -> ToThread.runSync(() -> 6 * 7))).isEqualTo(42);
            }
        });
    }

    @Test
    void lifecycleStopsTheLoopWhenTheContextCloses() {
        AtomicReference<EventLoop> loop = new AtomicReference<>();
        this.contextRunner.run((context) -> {
            loop.set(context.getBean(EventLoop.class));
            assertThat(context.getBean(EventLoopLifecycle.class).isRunning()).isTrue();
        });
        assertThat(loop.get().isTerminated()).isTrue();
    }

    @Test
    void maxThreadsSizesTheDefaultLimiter() {
        this.contextRunner.withPropertyValues("portal.worker.max-threads=7").run((context) -> {
            assertThat(context.getBean(EventLoop.class).defaultThreadLimiter().totalTokens()).isEqualTo(7);
        });
    }

    @Test
    void maxThreadsZeroPausesOffloadsUntilTheLimiterIsResized() {
        this.contextRunner.withPropertyValues("portal.worker.max-threads=0").run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            CapacityLimiter limiter = context.getBean(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME,
                    CapacityLimiter.class);
            var result = portal.startTaskSoon(() -> ToThread.runSync(() -> "ran"));
            await().atMost(Duration.ofSeconds(10)).until(() -> limiter.statistics().tasksWaiting() == 1);
            assertThat(result).isNotDone();
            limiter.setTotalTokens(1);
            assertThat(result.get(10, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("ran");
        });
    }

    @Test
    void threadNameNamesTheLoopAndItsWorkers() {
        this.contextRunner.withPropertyValues("portal.loop.thread-name=orders-loop").run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            assertThat(portal.<String>call(() -> java.util.concurrent.CompletableFuture
                .completedFuture(Thread.currentThread().getName()))).isEqualTo("orders-loop");
            assertThat(portal.<String>call(() -> ToThread.runSync(() -> Thread.currentThread().getName())))
                .startsWith("orders-loop-worker-");
        });
    }

    @Test
    void threadNamePrefixNamesTheWorkers() {
        this.contextRunner.withPropertyValues("portal.worker.thread-name-prefix=blocking-").run((context) -> {
            BlockingPortal portal = context.getBean(BlockingPortal.class);
            assertThat(portal.<String>call(() -> ToThread.runSync(() -> Thread.currentThread().getName())))
                .startsWith("blocking-");
        });
    }

    @Test
    void cancelModeSetsTheLoopsDefaultCancelMode() {
        this.contextRunner.withPropertyValues("portal.worker.cancel-mode=interrupt").run((context) -> {
            assertThat(context.getBean(EventLoop.class).defaultCancelMode()).isEqualTo(CancelMode.INTERRUPT);
        });
    }

    @Test
    void idleTimeoutRetiresIdleWorkers() {
        this.contextRunner.withPropertyValues("portal.worker.idle-timeout=100ms").run((context) -> {
            EventLoop loop = context.getBean(EventLoop.class);
            context.getBean(BlockingPortal.class).call(() -> ToThread.runSync(() -> "warm"));
            await().atMost(Duration.ofSeconds(10)).until(() -> loop.statistics().workers().retired() >= 1);
            assertThat(loop.statistics().workers().live()).isZero();
        });
    }

    @Test
    void blockedThresholdReportsALongCallbackAsABlockedLoop() {
        this.contextRunner.withPropertyValues("portal.loop.blocked-threshold=50ms").run((context) -> {
            EventLoop loop = context.getBean(EventLoop.class);
            context.getBean(BlockingPortal.class).call(() -> {
                // Deliberately blocks the loop thread until the detector has seen it.
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (loop.statistics().blockedEvents() == 0 && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
                return java.util.concurrent.CompletableFuture.completedFuture(null);
            });
            assertThat(loop.statistics().blockedEvents()).isGreaterThanOrEqualTo(1);
        });
    }

    @Test
    void blockedThresholdZeroTurnsTheDetectorOff() {
        this.contextRunner.withPropertyValues("portal.loop.blocked-threshold=0").run((context) -> {
            EventLoop loop = context.getBean(EventLoop.class);
            context.getBean(BlockingPortal.class).call(() -> {
                long until = System.nanoTime() + Duration.ofMillis(300).toNanos();
                while (System.nanoTime() < until) {
                    Thread.onSpinWait();
                }
                return java.util.concurrent.CompletableFuture.completedFuture(null);
            });
            assertThat(loop.statistics().blockedEvents()).isZero();
        });
    }

    @Test
    @EnabledForJreRange(max = JRE.JAVA_20)
    void virtualThreadsPropertyIsIgnoredOnAJdkWithoutVirtualThreads() {
        this.contextRunner.withPropertyValues("spring.threads.virtual.enabled=true").run((context) -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(EventLoop.class).statistics().workers().virtual()).isFalse();
        });
    }

    @Test
    @EnabledForJreRange(min = JRE.JAVA_21)
    void workersFollowTheVirtualThreadsPropertyWhenPortalsIsUnset() {
        this.contextRunner.withPropertyValues("spring.threads.virtual.enabled=true").run((context) -> {
            assertThat(context.getBean(EventLoop.class).statistics().workers().virtual()).isTrue();
        });
    }

    @Test
    @EnabledForJreRange(min = JRE.JAVA_21)
    void workerVirtualFalseWinsOverTheVirtualThreadsProperty() {
        this.contextRunner.withPropertyValues("spring.threads.virtual.enabled=true", "portal.worker.virtual=false")
            .run((context) -> {
                assertThat(context.getBean(EventLoop.class).statistics().workers().virtual()).isFalse();
            });
    }

    @Test
    void workerVirtualFalseStartsOnAnyJdk() {
        this.contextRunner.withPropertyValues("portal.worker.virtual=false").run((context) -> {
            assertThat(context).hasNotFailed();
            assertThat(context.getBean(EventLoop.class).statistics().workers().virtual()).isFalse();
        });
    }

    @Test
    void workersArePlatformThreadsByDefault() {
        this.contextRunner.run((context) -> {
            assertThat(context.getBean(EventLoop.class).statistics().workers().virtual()).isFalse();
        });
    }

    @Test
    void shutdownSettingsReachTheLifecycle() {
        this.contextRunner
            .withPropertyValues("portal.shutdown.grace-period=5s", "portal.shutdown.after-grace=abandon")
            .run((context) -> {
                EventLoopLifecycle lifecycle = context.getBean(EventLoopLifecycle.class);
                assertThat(lifecycle.gracePeriod()).isEqualTo(Duration.ofSeconds(5));
                assertThat(lifecycle.afterGrace()).isEqualTo(CancelMode.ABANDON);
            });
    }

    @Test
    void customizersRunInOrderAfterTheProperties() {
        this.contextRunner.withPropertyValues("portal.loop.thread-name=from-properties")
            .withUserConfiguration(CustomizerConfiguration.class)
            .run((context) -> assertThat(context.getBean(EventLoop.class).name()).isEqualTo("second"));
    }

    @Test
    void limiterWhenUserDefinesOneByNameBacksOffAndTheLoopUsesTheirs() {
        this.contextRunner.withUserConfiguration(UserLimiterConfiguration.class).run((context) -> {
            assertThat(context.getBean(EventLoop.class).defaultThreadLimiter().name()).isEqualTo("mine");
            // portal.worker.max-threads does not govern the application's own limiter.
            assertThat(context).doesNotHaveBean(MaxThreadsRefreshListener.class);
        });
    }

    @Test
    void limiterWhenUserDefinesOneUnderAnotherNameStillExists() {
        this.contextRunner.withUserConfiguration(OtherLimiterConfiguration.class).run((context) -> {
            assertThat(context.getBeansOfType(CapacityLimiter.class)).containsOnlyKeys("reportsLimiter",
                    PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME);
            assertThat(context.getBean(EventLoop.class).defaultThreadLimiter().name()).isEqualTo("default");
        });
    }

    @Test
    void eventLoopWhenUserDefinesOneBacksOffAndThePortalUsesTheirs() {
        this.contextRunner.withUserConfiguration(UserLoopConfiguration.class).run((context) -> {
            assertThat(context).hasSingleBean(EventLoop.class).hasBean("userLoop");
            EventLoop loop = context.getBean(EventLoop.class);
            assertThat(loop.name()).isEqualTo("user-loop");
            assertThat(context.getBean(BlockingPortal.class).eventLoop()).isSameAs(loop);
            assertThat(context.getBean(EventLoopLifecycle.class).isRunning()).isTrue();
            assertThat(context).doesNotHaveBean(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME);
        });
    }

    @Test
    void blockingPortalWhenUserDefinesOneBacksOff() {
        this.contextRunner.withUserConfiguration(UserPortalConfiguration.class).run((context) -> {
            assertThat(context).hasSingleBean(BlockingPortal.class).hasBean("userPortal");
        });
    }

    @Test
    void portalProviderWhenUserDefinesOneBacksOff() {
        this.contextRunner.withUserConfiguration(UserProviderConfiguration.class).run((context) -> {
            assertThat(context).hasSingleBean(BlockingPortalProvider.class).hasBean("userProvider");
        });
    }

    @Test
    void lifecycleWhenUserDefinesOneBacksOff() {
        this.contextRunner.withUserConfiguration(UserLifecycleConfiguration.class).run((context) -> {
            assertThat(context).hasSingleBean(EventLoopLifecycle.class).hasBean("userLifecycle");
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class CustomizerConfiguration {

        @Bean
        @Order(2)
        EventLoopBuilderCustomizer secondCustomizer() {
            return (builder) -> builder.name("second");
        }

        @Bean
        @Order(1)
        EventLoopBuilderCustomizer firstCustomizer() {
            return (builder) -> builder.name("first");
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserLimiterConfiguration {

        @Bean(PortalAutoConfiguration.THREAD_LIMITER_BEAN_NAME)
        CapacityLimiter myLimiter() {
            return new CapacityLimiter("mine", 3);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class OtherLimiterConfiguration {

        @Bean
        CapacityLimiter reportsLimiter() {
            return new CapacityLimiter("reports", 2);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserLoopConfiguration {

        @Bean
        EventLoop userLoop() {
            return EventLoop.builder().name("user-loop").start();
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserPortalConfiguration {

        @Bean
        BlockingPortal userPortal(EventLoop loop) {
            return BlockingPortal.openOn(loop);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserProviderConfiguration {

        @Bean
        BlockingPortalProvider userProvider(EventLoop loop) {
            return new BlockingPortalProvider(loop);
        }

    }

    @Configuration(proxyBeanMethods = false)
    static class UserLifecycleConfiguration {

        @Bean
        EventLoopLifecycle userLifecycle(EventLoop loop) {
            return new EventLoopLifecycle(loop, Duration.ZERO, CancelMode.INTERRUPT);
        }

    }

}
