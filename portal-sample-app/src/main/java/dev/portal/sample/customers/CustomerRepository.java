package dev.portal.sample.customers;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.jdbc.support.GeneratedKeyHolder;
import org.springframework.stereotype.Repository;

/**
 * Blocking JDBC: every method runs on a Portal worker thread, never on the event loop
 * ({@link CustomerService} offloads each call with {@code ToThread.runSync}).
 */
@Repository
public class CustomerRepository {

    private static final Logger log = LoggerFactory.getLogger(CustomerRepository.class);

    private final JdbcClient jdbc;
    private final Duration latency;

    /**
     * @param latency added to every lookup, as a database across a network would (0 by default):
     *        with it the limiter's queue shows in the meters under a burst of requests
     */
    public CustomerRepository(JdbcClient jdbc, @Value("${sample.customers.lookup-latency:0ms}") Duration latency) {
        this.jdbc = jdbc;
        this.latency = latency;
    }

    public Optional<Customer> findById(long id) throws InterruptedException {
        log.info("loading customer {}", id);
        if (!latency.isZero()) {
            Thread.sleep(latency.toMillis());
        }
        return jdbc.sql("SELECT id, name, email, region FROM customer WHERE id = :id")
                .param("id", id)
                .query(Customer.class)
                .optional();
    }

    public List<Customer> findAll() {
        log.info("loading all customers");
        return jdbc.sql("SELECT id, name, email, region FROM customer ORDER BY id").query(Customer.class).list();
    }

    public Customer insert(NewCustomer customer) {
        log.info("inserting customer {}", customer.email());
        GeneratedKeyHolder keys = new GeneratedKeyHolder();
        try {
            jdbc.sql("INSERT INTO customer (name, email, region) VALUES (:name, :email, :region)")
                    .param("name", customer.name())
                    .param("email", customer.email())
                    .param("region", customer.region())
                    .update(keys, "id");
        } catch (DuplicateKeyException e) {
            throw new DuplicateCustomerException(customer.email());
        }
        Number id = keys.getKey();
        return new Customer(id.longValue(), customer.name(), customer.email(), customer.region());
    }
}
