package dev.portal.sample.customers;

import java.util.List;
import java.util.concurrent.CompletionStage;

import dev.portal.RunSyncOptions;
import dev.portal.ToThread;
import dev.portal.sample.audit.AuditLog;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;

/**
 * Async code: every method runs on the event loop (a controller reaches it through the
 * {@code BlockingPortal}) and offloads the blocking JDBC call to a worker thread. The loop is never
 * blocked; at most {@code portal.worker.max-threads} queries run at once, the rest wait for a token.
 */
@Service
public class CustomerService {

    private static final Logger log = LoggerFactory.getLogger(CustomerService.class);

    private final CustomerRepository repository;
    private final AuditLog audit;

    public CustomerService(CustomerRepository repository, AuditLog audit) {
        this.repository = repository;
        this.audit = audit;
    }

    /** The customer, or a {@link CustomerNotFoundException}. Loop thread. */
    public CompletionStage<Customer> find(long id) {
        log.info("finding customer {}", id);
        return ToThread.runSync(() -> repository.findById(id).orElseThrow(() -> new CustomerNotFoundException(id)),
                RunSyncOptions.defaults().withName("customers.find"));
    }

    /** Every customer, by id. Loop thread. */
    public CompletionStage<List<Customer>> findAll() {
        log.info("listing customers");
        return ToThread.runSync(repository::findAll, RunSyncOptions.defaults().withName("customers.list"));
    }

    /** Inserts a customer and records it in the audit log. Loop thread. */
    public CompletionStage<Customer> create(NewCustomer customer) {
        log.info("creating customer {}", customer.email());
        return ToThread.runSync(() -> repository.insert(customer), RunSyncOptions.defaults().withName("customers.insert"))
                .thenApply(created -> {
                    audit.record("customer " + created.id() + " created");
                    return created;
                });
    }
}
