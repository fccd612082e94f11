package dev.portal.sample.web;

import java.io.Writer;
import java.net.URI;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import jakarta.servlet.http.HttpServletResponse;

import dev.portal.BlockingPortal;
import dev.portal.sample.customers.Customer;
import dev.portal.sample.customers.CustomerExport;
import dev.portal.sample.customers.CustomerService;
import dev.portal.sample.customers.NewCustomer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * Customers over HTTP. Each handler runs on a servlet thread and reaches the async
 * {@link CustomerService} on the event loop through the {@link BlockingPortal}, which the starter
 * provides: {@code portal.call} blocks this servlet thread (never the loop) until the service's stage
 * completes, and rethrows its exception as it was thrown.
 */
@RestController
@RequestMapping("/api/customers")
public class CustomerController {

    private static final Logger log = LoggerFactory.getLogger(CustomerController.class);

    private final BlockingPortal portal;
    private final CustomerService customers;
    private final CustomerExport export;

    public CustomerController(BlockingPortal portal, CustomerService customers, CustomerExport export) {
        this.portal = portal;
        this.customers = customers;
        this.export = export;
    }

    @GetMapping("/{id}")
    public Customer find(@PathVariable long id) throws Exception {
        log.info("GET customer {}", id);
        if (id <= 0) {
            throw new BadRequestException("id must be a positive number (was " + id + ")");
        }
        return portal.call(() -> customers.find(id));
    }

    /** The whole list, served asynchronously: the servlet thread is freed while the loop works. */
    @GetMapping
    public CompletableFuture<List<Customer>> list() {
        log.info("GET customers");
        return portal.startTaskSoon("list-customers", customers::findAll);
    }

    @PostMapping
    public ResponseEntity<Customer> create(@RequestBody NewCustomer body) throws Exception {
        log.info("POST customer {}", body.email());
        List<String> problems = body.problems();
        if (!problems.isEmpty()) {
            throw new BadRequestException(String.join("; ", problems));
        }
        Customer created = portal.call(() -> customers.create(body));
        return ResponseEntity.created(URI.create("/api/customers/" + created.id())).body(created);
    }

    /**
     * Every customer as CSV, read from one read-only snapshot: the snapshot is an async resource
     * opened and closed on the loop (its JDBC on workers), the rows are written here on the servlet
     * thread.
     */
    @GetMapping(value = "/export", produces = "text/csv")
    public void exportCsv(HttpServletResponse response) throws Exception {
        log.info("GET customers export");
        response.setContentType("text/csv");
        portal.withAsyncResource(export.snapshot(), connection -> {
            try (PreparedStatement query = connection.prepareStatement(
                    "SELECT id, name, email, region FROM customer ORDER BY id");
                    ResultSet rows = query.executeQuery()) {
                Writer out = response.getWriter();
                out.write("id,name,email,region\n");
                int count = 0;
                while (rows.next()) {
                    out.write(rows.getLong(1) + "," + csv(rows.getString(2)) + "," + csv(rows.getString(3)) + ","
                            + rows.getString(4) + "\n");
                    count++;
                }
                log.info("exported {} customers", count);
                return count;
            }
        });
    }

    private static String csv(String value) {
        return value.contains(",") || value.contains("\"") ? "\"" + value.replace("\"", "\"\"") + "\"" : value;
    }
}
