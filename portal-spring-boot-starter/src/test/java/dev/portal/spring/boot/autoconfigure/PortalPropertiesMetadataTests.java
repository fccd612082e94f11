package dev.portal.spring.boot.autoconfigure;

import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.core.io.ClassPathResource;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The IDE metadata the configuration processor writes for {@link PortalProperties}: every property
 * with its type, a description from the field's Javadoc, and its default.
 */
class PortalPropertiesMetadataTests {

    @Test
    void everyPropertyHasATypeADescriptionAndItsDefault() throws Exception {
        Map<String, JsonNode> properties = new HashMap<>();
        Map<String, JsonNode> endpoint = new HashMap<>();
        try (InputStream in = new ClassPathResource("META-INF/spring-configuration-metadata.json").getInputStream()) {
            for (JsonNode property : JsonMapper.builder().build().readTree(in).path("properties")) {
                String name = property.path("name").asString();
                (name.startsWith("portal.") ? properties : endpoint).put(name, property);
            }
        }
        assertThat(endpoint).containsKey("management.endpoint.portal.access");
        assertThat(properties).containsOnlyKeys("portal.worker.max-threads", "portal.worker.idle-timeout",
                "portal.worker.thread-name-prefix", "portal.worker.virtual", "portal.worker.cancel-mode",
                "portal.loop.thread-name", "portal.loop.blocked-threshold", "portal.shutdown.grace-period",
                "portal.shutdown.after-grace");
        assertThat(properties.values()).allSatisfy((property) -> {
            assertThat(property.path("type").asString()).isNotEmpty();
            assertThat(property.path("description").asString()).isNotBlank().endsWith(".");
            assertThat(property.path("sourceType").asString()).startsWith(PortalProperties.class.getName());
        });
        assertThat(properties.get("portal.worker.max-threads").path("defaultValue").asInt()).isEqualTo(40);
        assertThat(properties.get("portal.worker.idle-timeout").path("defaultValue").asString()).isEqualTo("10s");
        assertThat(properties.get("portal.worker.cancel-mode").path("defaultValue").asString()).isEqualTo("shield");
        assertThat(properties.get("portal.loop.thread-name").path("defaultValue").asString()).isEqualTo("portal-loop");
        assertThat(properties.get("portal.loop.blocked-threshold").path("defaultValue").asString()).isEqualTo("2s");
        assertThat(properties.get("portal.shutdown.grace-period").path("defaultValue").asString()).isEqualTo("30s");
        assertThat(properties.get("portal.shutdown.after-grace").path("defaultValue").asString()).isEqualTo("interrupt");
        assertThat(properties.get("portal.worker.virtual").path("description").asString())
            .contains("spring.threads.virtual.enabled");
    }

}
