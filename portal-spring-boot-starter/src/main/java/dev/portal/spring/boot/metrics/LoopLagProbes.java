package dev.portal.spring.boot.metrics;

import java.util.List;

import dev.portal.EventLoop;
import io.micrometer.core.instrument.MeterRegistry;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.context.SmartLifecycle;

/**
 * Runs a {@link LoopLagProbe} on every {@link EventLoop} bean while the context runs. Its phase is
 * the default one, the last to start and the first to stop, so the probes stop before the web server
 * drains and long before the loops stop.
 */
final class LoopLagProbes implements SmartLifecycle {

    private final ObjectProvider<EventLoop> loops;
    private final ObjectProvider<MeterRegistry> registry;
    private volatile List<LoopLagProbe> probes = List.of();

    LoopLagProbes(ObjectProvider<EventLoop> loops, ObjectProvider<MeterRegistry> registry) {
        this.loops = loops;
        this.registry = registry;
    }

    @Override
    public void start() {
        MeterRegistry meters = this.registry.getObject();
        List<LoopLagProbe> started = this.loops.orderedStream().map((loop) -> new LoopLagProbe(loop, meters)).toList();
        started.forEach(LoopLagProbe::start);
        this.probes = started;
    }

    @Override
    public void stop() {
        List<LoopLagProbe> running = this.probes;
        this.probes = List.of();
        running.forEach(LoopLagProbe::stop);
    }

    @Override
    public boolean isRunning() {
        return !this.probes.isEmpty();
    }
}
