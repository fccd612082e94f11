package dev.portal.sample.customers;

import java.util.List;
import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
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

    public CustomerRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public Optional<Customer> findById(long id) {
        log.info("loading customer {}", id);
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
