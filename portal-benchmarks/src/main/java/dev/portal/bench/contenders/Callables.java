package dev.portal.bench.contenders;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/** Small adapters shared by the contenders. */
final class Callables {

    private Callables() {
    }

    /** A Supplier view of a Callable, for CompletableFuture.supplyAsync. */
    static <T> Supplier<T> supplier(Callable<T> fn) {
        return () -> {
            try {
                return fn.call();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        };
    }

    /** Daemon threads named {@code prefix1}, {@code prefix2}, ... */
    static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger ids = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + ids.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
