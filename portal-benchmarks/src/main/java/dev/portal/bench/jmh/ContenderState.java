package dev.portal.bench.jmh;

import dev.portal.bench.Contender;
import dev.portal.bench.Contenders;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** One running contender per trial, shared by the benchmark's threads. */
@State(Scope.Benchmark)
public class ContenderState {

    @Param({"jdk", "portal", "portal-nomdc", "vertx", "reactor"})
    public String contender = "jdk";

    public Contender c;

    @Setup(Level.Trial)
    public void start() {
        c = Contenders.create(contender);
    }

    @TearDown(Level.Trial)
    public void stop() {
        c.close();
    }
}
