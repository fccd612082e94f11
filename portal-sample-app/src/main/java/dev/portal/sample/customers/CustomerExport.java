package dev.portal.sample.customers;

import java.sql.Connection;
import java.util.concurrent.CompletionStage;

import javax.sql.DataSource;

import dev.portal.AsyncResource;
import dev.portal.RunSyncOptions;
import dev.portal.ToThread;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * A consistent, read-only view of the database for an export, as an async resource: entering it
 * opens a connection and a read-only transaction on a worker thread, exiting commits (or, after a
 * failure, rolls back) and closes it, on a worker too. A controller uses it through
 * {@code portal.withAsyncResource(export.snapshot(), connection -> ...)}: set-up and tear-down run
 * in one task on the loop, the body on the servlet thread.
 */
@Component
public class CustomerExport {

    private static final Logger log = LoggerFactory.getLogger(CustomerExport.class);

    private final DataSource dataSource;

    public CustomerExport(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    /** A new snapshot resource; enter it once. */
    public AsyncResource<Connection> snapshot() {
        return new AsyncResource<>() {
            private @Nullable Connection connection;

            @Override
            public CompletionStage<Connection> enter() {
                return ToThread.runSync(() -> {
                    Connection c = dataSource.getConnection();
                    c.setAutoCommit(false);
                    c.setReadOnly(true);
                    log.info("export snapshot opened");
                    connection = c;
                    return c;
                }, RunSyncOptions.defaults().withName("export.open"));
            }

            @Override
            public CompletionStage<Boolean> exit(@Nullable Throwable error) {
                Connection c = connection;
                return ToThread.runSync(() -> {
                    if (c != null) {
                        try (c) {
                            if (error == null) {
                                c.commit();
                            } else {
                                c.rollback();
                            }
                        }
                    }
                    log.info("export snapshot closed{}", error == null ? "" : " after " + error);
                    return false; // never swallow the body's failure
                }, RunSyncOptions.defaults().withName("export.close"));
            }
        };
    }
}
