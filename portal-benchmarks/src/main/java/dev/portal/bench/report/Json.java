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

    /**
     * JMH's results without the raw histograms of its sample-mode benchmarks (every distinct time
     * and its count: megabytes per benchmark), keeping the percentiles the report reads.
     */
    @SuppressWarnings("unchecked")
    static String withoutHistograms(String jmhJson) {
        Object root = parse(jmhJson);
        if (!(root instanceof List)) {
            throw new IllegalArgumentException("JMH results must be a JSON array");
        }
        for (Object entry : (List<Object>) root) {
            if (!(entry instanceof Map)) {
                continue;
            }
            Map<String, Object> b = (Map<String, Object>) entry;
            if (b.get("primaryMetric") instanceof Map) {
                ((Map<String, Object>) b.get("primaryMetric")).remove("rawDataHistogram");
            }
            if (b.get("secondaryMetrics") instanceof Map) {
                for (Object metric : ((Map<String, Object>) b.get("secondaryMetrics")).values()) {
                    if (metric instanceof Map) {
                        ((Map<String, Object>) metric).remove("rawDataHistogram");
                    }
                }
            }
        }
        return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
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
