package dev.portal.sample.audit;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.List;

import dev.portal.EventLoop;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.springframework.stereotype.Component;

/**
 * The last 100 things the service did. Loop-confined: only code on the event loop touches it, so it
 * needs no lock. Async code calls it directly; a worker thread calls it through
 * {@code FromThread.runSync(...)}; a controller through {@code portal.callSync(...)}.
 */
@Component
public class AuditLog {

    private static final Logger log = LoggerFactory.getLogger(AuditLog.class);
    private static final int KEPT = 100;

    /** One entry: when, what, and the request that caused it. */
    public record Entry(Instant at, String what, @Nullable String requestId) {
    }

    private final ArrayDeque<Entry> entries = new ArrayDeque<>();

    /** Records an entry. Loop thread only. */
    public void record(String what) {
        requireLoop();
        Entry entry = new Entry(Instant.now(), what, MDC.get("requestId"));
        log.info("audit: {}", what);
        if (entries.size() == KEPT) {
            entries.removeFirst();
        }
        entries.addLast(entry);
    }

    /** The entries, oldest first. Loop thread only. */
    public List<Entry> recent() {
        requireLoop();
        return List.copyOf(entries);
    }

    private static void requireLoop() {
        if (EventLoop.current() == null) {
            throw new IllegalStateException("AuditLog is confined to the event loop (current thread: "
                    + Thread.currentThread().getName() + "): call it from async code, from a worker with "
                    + "FromThread.runSync, or from other threads with BlockingPortal.callSync");
        }
    }
}
