package dev.portal.sample.bench;

import java.lang.reflect.Method;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;

import dev.portal.BlockingPortal;
import dev.portal.sample.customers.Customer;
import dev.portal.sample.customers.CustomerRepository;
import dev.portal.sample.customers.CustomerService;

import org.jspecify.annotations.Nullable;
import org.springframework.context.annotation.Profile;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

/**
 * One lookup, three ways, each holding its servlet thread until the answer is there and each bounded
 * to the same 40 concurrent JDBC calls: {@code /bench/portal/{id}} through the portal and the loop,
 * {@code /bench/async/{id}} through an {@code @Async} method on Spring's task executor (40 threads in
 * the {@code bench} profile), {@code /bench/virtual/{id}} on a new virtual thread per call behind a
 * semaphore of 40 (JDK 21+; 501 on older JDKs).
 */
@RestController
@Profile("bench")
public class BenchController implements AutoCloseable {

    private static final int BOUND = 40;

    private final BlockingPortal portal;
    private final CustomerService customers;
    private final AsyncCustomerLookup async;
    private final CustomerRepository repository;
    private final @Nullable ExecutorService virtualThreads = newVirtualThreadPerTaskExecutor();
    private final Semaphore virtualBound = new Semaphore(BOUND, true);

    public BenchController(BlockingPortal portal, CustomerService customers, AsyncCustomerLookup async,
            CustomerRepository repository) {
        this.portal = portal;
        this.customers = customers;
        this.async = async;
        this.repository = repository;
    }

    @GetMapping("/bench/portal/{id}")
    public Customer portal(@PathVariable long id) throws Exception {
        return portal.call(() -> customers.find(id));
    }

    @GetMapping("/bench/async/{id}")
    public Customer async(@PathVariable long id) throws Exception {
        return async.find(id).get();
    }

    @GetMapping("/bench/virtual/{id}")
    public Customer virtual(@PathVariable long id) throws Exception {
        ExecutorService executor = virtualThreads;
        if (executor == null) {
            throw new ResponseStatusException(HttpStatus.NOT_IMPLEMENTED, "virtual threads need JDK 21 or newer");
        }
        virtualBound.acquire();
        try {
            Future<Customer> found = executor.submit(() -> repository.findById(id).orElseThrow());
            return found.get();
        } finally {
            virtualBound.release();
        }
    }

    @Override
    public void close() {
        if (virtualThreads != null) {
            virtualThreads.shutdownNow();
        }
    }

    /** {@code Executors.newVirtualThreadPerTaskExecutor()} when the JDK has it (21+), by reflection: this compiles for 17. */
    private static @Nullable ExecutorService newVirtualThreadPerTaskExecutor() {
        try {
            Method factory = java.util.concurrent.Executors.class.getMethod("newVirtualThreadPerTaskExecutor");
            return (ExecutorService) factory.invoke(null);
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }
}
