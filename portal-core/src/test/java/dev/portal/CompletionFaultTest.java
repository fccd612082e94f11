package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import io.micrometer.context.ContextRegistry;
import io.micrometer.context.ThreadLocalAccessor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A completion that fails on its way (here: the task's ThreadLocal context cannot be applied,
 * because an accessor throws) fails the stage it was completing, so the code awaiting it sees the
 * error; it never leaves that stage pending forever with the error lost in a callback.
 */
class CompletionFaultTest {

    private static final ThreadLocal<String> TENANT = new ThreadLocal<>();

    @AfterEach
    void clean() {
        TENANT.remove();
    }

    /** An accessor that throws once when armed, on the loop thread. */
    private static final class Refusing implements ThreadLocalAccessor<String> {
        final AtomicBoolean armed = new AtomicBoolean();
        final IllegalStateException refusal = new IllegalStateException("accessor refused to apply the context");

        @Override
        public Object key() {
            return "portal.test.refusing";
        }

        @Override
        public String getValue() {
            return TENANT.get();
        }

        @Override
        public void setValue(String value) {
            if (Thread.currentThread().getName().startsWith("portal-loop") && armed.compareAndSet(true, false)) {
                throw refusal;
            }
            TENANT.set(value);
        }

        @Override
        public void setValue() {
            TENANT.remove();
        }
    }

    @Test
    void aContextThatCannotBeAppliedFailsTheAwaitedStageInsteadOfLeavingItPending() throws Exception {
        Refusing accessor = new Refusing();
        ContextRegistry registry = new ContextRegistry().registerThreadLocalAccessor(accessor);
        List<Throwable> uncaught = new CopyOnWriteArrayList<>();
        TENANT.set("tenant-a");
        try (BlockingPortal portal = BlockingPortal.start(EventLoop.builder().daemon(true).contextRegistry(registry)
                .listener(new EventLoopListener() {
                    @Override
                    public void onUncaughtException(EventLoop loop, Throwable error) {
                        uncaught.add(error);
                    }
                }))) {
            CompletableFuture<String> task = portal.startTaskSoon(() -> CancelScope.create().run(() -> {
                accessor.armed.set(true);
                // The sleep completes from a timer, which enters this task's context to complete it.
                return Async.sleep(Duration.ofMillis(1)).thenApply(v -> "slept");
            }));

            Throwable failure = catchThrowable(() -> task.get(20, TimeUnit.SECONDS));

            assertThat(failure).isInstanceOf(ExecutionException.class).cause().isSameAs(accessor.refusal);
            assertThat(uncaught).isEmpty();
            String after = portal.call(() -> Async.sleep(Duration.ofMillis(1)).thenApply(v -> "still serving"));
            assertThat(after).isEqualTo("still serving");
        }
    }
}
