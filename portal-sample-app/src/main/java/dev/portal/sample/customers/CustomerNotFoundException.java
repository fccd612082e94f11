package dev.portal.sample.customers;

/** No customer has this id. */
public final class CustomerNotFoundException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    CustomerNotFoundException(long id) {
        super("no customer has id " + id);
    }
}
