package dev.portal.bench.report;

import java.util.List;
import java.util.Map;

import org.jspecify.annotations.Nullable;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * Reads JMH's result files with Jackson: objects become {@link Map}s, arrays {@link List}s, numbers
 * {@link Number}s. JMH writes {@code "NaN"} as a string where a score has no error bar; {@link #number}
 * reads both forms.
 */
final class Json {

    private static final JsonMapper MAPPER = JsonMapper.builder().build();

    private Json() {
    }

    static @Nullable Object parse(String text) {
        try {
            return MAPPER.readValue(text, Object.class);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** A number that JMH may have written as a number or as the string "NaN"/"Infinity". */
    static double number(@Nullable Object value) {
        if (value instanceof Number) {
            return ((Number) value).doubleValue();
        }
        if (value instanceof String) {
            return Double.parseDouble((String) value);
        }
        return Double.NaN;
    }
}
