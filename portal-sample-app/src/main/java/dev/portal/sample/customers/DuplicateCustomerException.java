package dev.portal.sample.customers;

/** A customer with this e-mail address exists already. */
public final class DuplicateCustomerException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    DuplicateCustomerException(String email) {
        super("a customer with email " + email + " exists already");
    }
}
