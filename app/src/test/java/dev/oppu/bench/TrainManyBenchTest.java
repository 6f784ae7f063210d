package dev.oppu.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code bench train-many} on the committed model, a few small users: it runs and its last line is the JSON object. */
class TrainManyBenchTest {

  @Test
  void runsBothPathsAndTheLastLineIsOneJsonObject() throws Exception {
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int exit;
    try (PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
      System.setOut(out);
      exit = new CommandLine(new TrainManyBench()).execute("--base-model", TestModels.defaultModel().toString(),
          "--users", "3", "--items", "4", "--batch-users", "2");
    } finally {
      System.setOut(original);
    }
    assertEquals(0, exit, captured.toString(StandardCharsets.UTF_8));
    List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
    JsonNode r = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    assertEquals("train-many", r.get("bench").asText());
    assertEquals(3, r.get("users").asInt());
    assertTrue(r.get("batched_users_per_s").asDouble() > 0, r.toString());
    assertTrue(r.get("single_users_per_s").asDouble() > 0, r.toString());
    assertTrue(r.has("ratio"), r.toString());
    // no held-out items under 10 new ones: every finite update is accepted, on both paths
    assertEquals(r.get("single_accepted").asInt(), r.get("batched_accepted").asInt(), r.toString());
  }
}
