package dev.portal.bench.footprint;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class QueuedOffloadFootprintTest {

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "portal", "vertx", "reactor"})
    void queuedOffloadsRetainHeapAndAllCompleteOnceReleased(String contender) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        QueuedOffloadFootprint.Result r = QueuedOffloadFootprint.measure(contender, 5000,
                new PrintStream(log, true, StandardCharsets.UTF_8));
        assertThat(r.contender()).isEqualTo(contender);
        assertThat(r.queued()).isEqualTo(5000);
        assertThat(r.bytesPerOffload()).isBetween(16.0, 4096.0);
        assertThat(log.toString(StandardCharsets.UTF_8)).startsWith(contender + "\t");
    }

    @Test
    void histogramShowsWhereTheBytesOfAQueuedOffloadGo() throws Exception {
        var before = QueuedOffloadFootprint.classHistogram();
        java.util.List<int[]> held = new java.util.ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            held.add(new int[4]);
        }
        String growth = QueuedOffloadFootprint.growth(before, QueuedOffloadFootprint.classHistogram(), 1000);
        assertThat(held).hasSize(1000);
        assertThat(growth).startsWith("  per queued offload: instances  bytes  class")
                .containsPattern("1\\.0\\d +\\d+\\.\\d  \\[I");
    }

    @Test
    void mainWritesOneLinePerContender(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("footprint.tsv");
        QueuedOffloadFootprint.main(new String[] {"--contenders", "jdk", "--queued", "1000", "--out", out.toString()});
        assertThat(Files.readAllLines(out)).singleElement().asString().matches("jdk\t\\d+\\.\\d\t1000");
    }
}
