package dev.portal.bench;

import java.util.List;

import dev.portal.bench.contenders.JdkContender;
import dev.portal.bench.contenders.PortalContender;
import dev.portal.bench.contenders.ReactorContender;
import dev.portal.bench.contenders.VertxContender;

/** Creates contenders by name. */
public final class Contenders {

    /**
     * Every contender, the JDK floor first. {@code portal} carries a request's MDC on every hop (the
     * headline: what a Spring application runs); {@code portal-nomdc} propagates nothing, as the
     * JDK floor, Vert.x and Reactor propagate nothing by default.
     */
    public static final List<String> ALL = List.of("jdk", "portal", "portal-nomdc", "vertx", "reactor");

    private Contenders() {
    }

    /** Starts the named contender's loop and workers. */
    public static Contender create(String name) {
        switch (name) {
            case "jdk":
                return new JdkContender();
            case "portal":
                return new PortalContender(true);
            case "portal-nomdc":
                return new PortalContender(false);
            case "vertx":
                return new VertxContender();
            case "reactor":
                return new ReactorContender();
            default:
                throw new IllegalArgumentException("contender must be one of " + ALL + " (was \"" + name + "\")");
        }
    }
}
