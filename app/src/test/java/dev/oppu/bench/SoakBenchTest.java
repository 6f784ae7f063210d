package dev.oppu.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * A small soak through the real services (streams + trainer in their own JVM, the default model, an embedded broker):
 * every behavior reaches the history exactly once and every request is answered exactly once. Memory growth and
 * durations are the full benchmark's business ({@code oppu bench soak}), not asserted here.
 */
class SoakBenchTest {

  @Test
  void smallSoakLosesAndDuplicatesNothing() throws Exception {
    Path model = TestModels.defaultModel();
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int exit;
    try (PrintStream tee = new PrintStream(new Tee(original, captured), true, StandardCharsets.UTF_8)) {
      System.setOut(tee);
      exit = new CommandLine(new SoakBench()).execute("--events", "20000", "--requests", "300", "--users", "200",
          "--model", model.toString(), "--max-new-tokens", "4", "--epochs", "1", "--rss-interval-s", "1");
    } finally {
      System.setOut(original);
    }
    List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("{")).toList();
    assertTrue(!lines.isEmpty(), "the bench printed no JSON line");
    JsonNode r = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    assertEquals(20000, r.get("events").asInt());
    assertEquals(300, r.get("requests").asInt());
    assertEquals(300, r.get("requests_answered").asInt());
    assertEquals(0, r.get("lost").asLong(), "lost behaviors or requests: " + r);
    assertEquals(0, r.get("duplicated").asLong(), "duplicated behaviors or answers: " + r);
    assertEquals(0, r.get("dead_letters").asLong());
    assertTrue(r.get("complete").asBoolean());
    assertTrue(r.get("max_rss_mb").asDouble() > 0, "RSS was sampled");
    assertNotNull(r.get("ratio"));
    assertEquals(0, exit);
  }

  /** models/default of the repository (tests run in the module folder). */
  static final class Tee extends OutputStream {
    private final OutputStream a;
    private final OutputStream b;

    Tee(OutputStream a, OutputStream b) {
      this.a = a;
      this.b = b;
    }

    @Override
    public void write(int x) throws java.io.IOException {
      a.write(x);
      b.write(x);
    }

    @Override
    public void write(byte[] buf, int off, int len) throws java.io.IOException {
      a.write(buf, off, len);
      b.write(buf, off, len);
    }

    @Override
    public void flush() throws java.io.IOException {
      a.flush();
      b.flush();
    }
  }
}
