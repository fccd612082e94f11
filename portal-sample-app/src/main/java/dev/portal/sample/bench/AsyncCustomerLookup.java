package dev.portal.sample.bench;

import java.util.concurrent.CompletableFuture;

import dev.portal.sample.customers.Customer;
import dev.portal.sample.customers.CustomerRepository;

import org.springframework.context.annotation.Profile;
import org.springframework.scheduling.annotation.Async;
import org.springframework.stereotype.Service;

/** The lookup as Spring's own idiom: an {@code @Async} method on Boot's {@code applicationTaskExecutor}. */
@Service
@Profile("bench")
public class AsyncCustomerLookup {

    private final CustomerRepository repository;

    public AsyncCustomerLookup(CustomerRepository repository) {
        this.repository = repository;
    }

    @Async
    public CompletableFuture<Customer> find(long id) throws InterruptedException {
        return CompletableFuture.completedFuture(repository.findById(id).orElseThrow());
    }
}
