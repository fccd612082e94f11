package dev.portal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

class SmokeTest {

    @Test
    void basics() throws Exception {
        String name = EventLoop.run(() -> ToThread.runSync(() -> Thread.currentThread().getName()));
        assertThat(name).contains("worker");
        String slept = EventLoop.run(() -> Async.sleep(Duration.ofMillis(20)).thenApply(v -> "slept"));
        assertThat(slept).isEqualTo("slept");
        AtomicInteger polls = new AtomicInteger();
        Object r = EventLoop.run(() -> CancelScope.moveOnAfter(Duration.ofMillis(200), () ->
                ToThread.runSync(() -> {
                    while (true) {
                        FromThread.checkCancelled();
                        polls.incrementAndGet();
                        Thread.sleep(20);
                    }
                })));
        assertThat(r).isNull();
        assertThat(polls.get()).isBetween(3, 20);
        Integer seven = EventLoop.run(() -> ToThread.runSync(() -> FromThread.run(() -> Async.sleep(Duration.ofMillis(10)).thenApply(v -> 7))));
        assertThat(seven).isEqualTo(7);
        Event ev = new Event();
        EventLoop.run(() -> ToThread.runSync(() -> { FromThread.runSync(() -> { ev.set(); return null; }); return null; }).thenCompose(x -> ev.await()));
        assertThat(ev.isSet()).isTrue();
    }
}
