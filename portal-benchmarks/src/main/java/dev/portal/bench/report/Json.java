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
     * and its count: megabytes per benchmark), keeping the percentiles the report reads. Each
     * histogram is replaced by the mean of every iteration ({@code rawData}, as JMH writes for the
     * other modes), so the per-fork figures survive.
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
                compact((Map<String, Object>) b.get("primaryMetric"));
            }
            if (b.get("secondaryMetrics") instanceof Map) {
                for (Object metric : ((Map<String, Object>) b.get("secondaryMetrics")).values()) {
                    if (metric instanceof Map) {
                        compact((Map<String, Object>) metric);
                    }
                }
            }
        }
        return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
    }

    private static void compact(Map<String, Object> metric) {
        Object histogram = metric.remove("rawDataHistogram");
        if (histogram != null && !(metric.get("rawData") instanceof List)) {
            metric.put("rawData", iterationMeans(histogram));
        }
    }

    /**
     * The mean of each iteration of a sample-mode histogram: JMH writes it per fork, per iteration,
     * as a list of {@code [value, count]} pairs. Returns {@code [fork][iteration]} means.
     */
    @SuppressWarnings("unchecked")
    static List<List<Double>> iterationMeans(@Nullable Object histogram) {
        List<List<Double>> forks = new java.util.ArrayList<>();
        if (!(histogram instanceof List)) {
            return forks;
        }
        for (Object fork : (List<Object>) histogram) {
            List<Double> means = new java.util.ArrayList<>();
            for (Object iteration : (List<Object>) fork) {
                double sum = 0;
                double count = 0;
                for (Object pair : (List<Object>) iteration) {
                    List<Object> p = (List<Object>) pair;
                    double n = number(p.get(1));
                    sum += number(p.get(0)) * n;
                    count += n;
                }
                means.add(count > 0 ? sum / count : Double.NaN);
            }
            forks.add(means);
        }
        return forks;
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
