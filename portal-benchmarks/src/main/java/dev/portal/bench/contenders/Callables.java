package dev.portal.bench.contenders;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
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

    /**
     * Waits for futures with {@code CompletableFuture.allOf(...).join()}, then sums their values
     * (all done by then, so the sum reads them without waiting).
     */
    @SuppressWarnings("unchecked")
    static long allOfSum(Object[] handles) {
        CompletableFuture<?>[] futures = new CompletableFuture<?>[handles.length];
        for (int i = 0; i < handles.length; i++) {
            futures[i] = (CompletableFuture<?>) handles[i];
        }
        CompletableFuture.allOf(futures).join();
        long sum = 0;
        for (CompletableFuture<?> f : futures) {
            sum += ((CompletableFuture<Integer>) f).join();
        }
        return sum;
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
