package dev.portal.sample.customers;

/** A customer row. */
public record Customer(long id, String name, String email, String region) {
}
