package dev.oppu.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code bench shift} on the committed model, two users: the curve's shape, not its values (those are measured). */
class ShiftBenchTest {

  @Test
  void frozenEqualsContinuousBeforeTheShiftAndTheLastLineIsOneJsonObject() throws Exception {
    Path model = TestModels.defaultModel();
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int exit;
    try (PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
      System.setOut(out);
      exit = new CommandLine(new ShiftBench()).execute("--base-model", model.toString(), "--users", "2",
          "--queries", "3", "--steps", "0,5");
    } finally {
      System.setOut(original);
    }
    assertEquals(0, exit);
    List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
    JsonNode r = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    assertEquals("shift", r.get("bench").asText());
    assertEquals(6, r.get("queries").asInt());
    JsonNode points = r.get("points");
    assertEquals(2, points.size());
    assertEquals(0, points.get(0).get("events").asInt());
    assertEquals(5, points.get(1).get("events").asInt());
    // at 0 events the frozen adapter is a copy of the continuous one: same answers
    assertEquals(points.get(0).get("continuous").asDouble(), points.get(0).get("frozen").asDouble(), 0.0);
    // pre-shift: a first version and at least one more; each step: at least one update per user
    assertTrue(r.get("updates").asInt() >= 2 * 3, r.toString());
    double pre = r.get("pre_shift_level").asDouble();
    assertTrue(pre >= 0 && pre <= 1, r.toString());
    assertTrue(r.has("ratio"));
  }

  @Test
  void aGenerationTaskIsRefusedWithAClearError() {
    PrintStream originalErr = System.err;
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit;
    try (PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      System.setErr(e);
      exit = new CommandLine(new ShiftBench()).execute("--task", "LaMP_7");
    } finally {
      System.setErr(originalErr);
    }
    assertEquals(2, exit);
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("classification task"), err.toString());
  }
}
