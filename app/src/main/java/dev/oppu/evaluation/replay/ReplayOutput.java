package dev.oppu.evaluation.replay;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Writes a replay's files: {@code predictions/<mode>/<task>_outputs.json} in LaMP's outputs format, {@code
 * results.json} = {mode: {task: {metric: value}}} (scored pairs only), and {@code replay.json} with the counts,
 * coverage, adaptation lag and timing behind them.
 */
public final class ReplayOutput {

  public static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private ReplayOutput() {}

  public static void write(ReplayResult r, Path out) {
    try {
      Files.createDirectories(out);
      for (var byMode : r.predictions().entrySet()) {
        Path dir = out.resolve("predictions").resolve(byMode.getKey());
        Files.createDirectories(dir);
        for (var byTask : byMode.getValue().entrySet()) {
          writePredictions(dir.resolve(byTask.getKey() + "_outputs.json"), byTask.getKey(), byTask.getValue());
        }
      }
      JSON.writeValue(out.resolve("results.json").toFile(), r.metrics());
      JSON.writeValue(out.resolve("replay.json").toFile(), details(r));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the replay's results to " + out + ": " + e.getMessage(), e);
    }
  }

  /** LaMP's outputs format: {"task": "LaMP_k", "golds": [{"id", "output"}]}. */
  public static void writePredictions(Path file, String task, Map<String, String> outputs) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("task", task);
    ArrayNode golds = root.putArray("golds");
    for (var e : outputs.entrySet()) {
      golds.addObject().put("id", e.getKey()).put("output", e.getValue());
    }
    JSON.writeValue(file.toFile(), root);
  }

  static ObjectNode details(ReplayResult r) {
    ObjectNode root = JSON.createObjectNode();
    root.set("requests", JSON.valueToTree(r.stats()));
    if (r.coverage() != null) {
      root.set("adapters", JSON.valueToTree(r.coverage()));
    }
    root.set("adaptationLagMillis", JSON.valueToTree(r.lags()));
    root.set("timing", JSON.valueToTree(r.timing()));
    return root;
  }
}
