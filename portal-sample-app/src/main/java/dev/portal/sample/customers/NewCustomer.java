package dev.portal.sample.customers;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.jspecify.annotations.Nullable;

/** The body of {@code POST /api/customers}. */
public record NewCustomer(@Nullable String name, @Nullable String email, @Nullable String region) {

    static final Set<String> REGIONS = Set.of("EU", "US", "APAC");

    /** What is wrong with this request, one line per field; empty when it is valid. */
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (name == null || name.isBlank() || name.length() > 100) {
            problems.add("name must be 1 to 100 characters (was " + quote(name) + ")");
        }
        if (email == null || !email.matches("[^@\\s]+@[^@\\s]+\\.[^@\\s]+") || email.length() > 200) {
            problems.add("email must be an address such as ada@example.com (was " + quote(email) + ")");
        }
        if (region == null || !REGIONS.contains(region)) {
            problems.add("region must be one of EU, US, APAC (was " + quote(region) + ")");
        }
        return problems;
    }

    private static String quote(@Nullable String value) {
        return value == null ? "missing" : "\"" + value + "\"";
    }
}
