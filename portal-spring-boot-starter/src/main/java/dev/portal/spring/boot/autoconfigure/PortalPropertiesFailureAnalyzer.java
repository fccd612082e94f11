package dev.portal.spring.boot.autoconfigure;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

import org.jspecify.annotations.Nullable;

import org.springframework.beans.BeanWrapperImpl;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.bind.DataObjectPropertyName;
import org.springframework.boot.context.properties.bind.validation.BindValidationException;
import org.springframework.boot.context.properties.bind.validation.ValidationErrors;
import org.springframework.boot.context.properties.source.ConfigurationProperty;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;
import org.springframework.boot.origin.Origin;
import org.springframework.core.annotation.Order;
import org.springframework.validation.FieldError;

/**
 * Explains a {@code portal.*} value that could not be bound or is out of range: the property, the
 * value, where it was set, what is allowed, and how to fix it. Ordered before Spring Boot's own
 * binding analyzers, which would report the same failure in general terms.
 */
@Order(0)
class PortalPropertiesFailureAnalyzer extends AbstractFailureAnalyzer<BindException> {

    private static final String PREFIX = "portal";

    @Override
    protected @Nullable FailureAnalysis analyze(Throwable rootFailure, BindException cause) {
        BindValidationException validation = findCause(rootFailure, BindValidationException.class);
        if (validation != null && PortalProperties.class.equals(cause.getTarget().getType().resolve())) {
            ValidationErrors errors = validation.getValidationErrors();
            List<Problem> problems = errors.getAllErrors()
                .stream()
                .filter(FieldError.class::isInstance)
                .map((error) -> problem((FieldError) error, errors.getBoundProperties()))
                .toList();
            return problems.isEmpty() ? null : analysis(problems, cause);
        }
        String name = cause.getName().toString();
        if (validation == null && (name.equals(PREFIX) || name.startsWith(PREFIX + "."))) {
            ConfigurationProperty property = cause.getProperty();
            Object value = (property != null) ? property.getValue() : null;
            Origin origin = (property != null) ? property.getOrigin() : null;
            Class<?> type = cause.getTarget().getType().resolve(Object.class);
            return analysis(List.of(new Problem(name, value, origin, allowedFor(type))), cause);
        }
        return null;
    }

    /** The problem as the user wrote it: the value and origin from the property source, not the bound object. */
    private static Problem problem(FieldError error, Set<ConfigurationProperty> bound) {
        String property = PREFIX + "." + DataObjectPropertyName.toDashedForm(error.getField());
        String allowed = (error.getDefaultMessage() != null) ? error.getDefaultMessage() : "see the documentation";
        ConfigurationPropertyName name = ConfigurationPropertyName.of(property);
        for (ConfigurationProperty source : bound) {
            if (source.getName().equals(name)) {
                return new Problem(property, source.getValue(), source.getOrigin(), allowed);
            }
        }
        return new Problem(property, error.getRejectedValue(), Origin.from(error), allowed);
    }

    private static FailureAnalysis analysis(List<Problem> problems, Throwable cause) {
        StringBuilder description = new StringBuilder("Portal's configuration is invalid:\n");
        StringBuilder action = new StringBuilder();
        for (Problem problem : problems) {
            description.append("\n    Property: ").append(problem.property());
            description.append("\n    Value: \"").append(problem.value()).append('"');
            if (problem.origin() != null) {
                description.append("\n    Origin: ").append(problem.origin());
            }
            description.append("\n    Allowed: ").append(problem.allowed()).append('\n');
            action.append(action.isEmpty() ? "" : "\n")
                .append("Set ")
                .append(problem.property())
                .append(" to ")
                .append(problem.allowed())
                .append(", or remove it to use the default")
                .append(defaultOf(problem.property()))
                .append('.');
        }
        return new FailureAnalysis(description.toString(), action.toString(), cause);
    }

    private static String allowedFor(Class<?> type) {
        if (type.isEnum()) {
            return "one of " + Arrays.stream(type.getEnumConstants())
                .map((constant) -> ((Enum<?>) constant).name().toLowerCase(Locale.ROOT))
                .collect(Collectors.joining(", "));
        }
        if (Duration.class.equals(type)) {
            return "a duration such as 30s, 500ms or PT1M";
        }
        if (Integer.class.equals(type) || int.class.equals(type)) {
            return "a whole number";
        }
        if (Boolean.class.equals(type) || boolean.class.equals(type)) {
            return "true or false";
        }
        return "a value of type " + type.getSimpleName();
    }

    /** The default of a {@code portal.*} property as " (40)", or "" when it has none. */
    private static String defaultOf(String property) {
        String path = property.substring(PREFIX.length() + 1);
        String[] parts = path.split("\\.");
        StringBuilder camel = new StringBuilder();
        for (String part : parts) {
            camel.append(camel.isEmpty() ? "" : ".").append(toCamelCase(part));
        }
        try {
            Object value = new BeanWrapperImpl(new PortalProperties()).getPropertyValue(camel.toString());
            return (value != null) ? " (" + format(value) + ")" : "";
        }
        catch (RuntimeException notAProperty) {
            return "";
        }
    }

    private static String toCamelCase(String dashed) {
        StringBuilder out = new StringBuilder();
        boolean upper = false;
        for (char c : dashed.toCharArray()) {
            if (c == '-') {
                upper = true;
            }
            else {
                out.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return out.toString();
    }

    private static String format(Object value) {
        if (value instanceof Duration duration) {
            if (duration.toMillis() % 1000 == 0) {
                return duration.toSeconds() + "s";
            }
            return duration.toMillis() + "ms";
        }
        if (value instanceof Enum<?> constant) {
            return constant.name().toLowerCase(Locale.ROOT);
        }
        return String.valueOf(value);
    }

    private record Problem(String property, @Nullable Object value, @Nullable Origin origin, String allowed) {
    }

}
