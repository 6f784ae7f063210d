package dev.oppu.cli;

import static dev.oppu.cli.SystemHarness.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.model.Family;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.Rope;
import dev.oppu.model.Safetensors;
import dev.oppu.model.TextTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole system on each family issue 12 added (README's model section): a tiny random checkpoint of the family,
 * written here with the fixture tokenizer, goes {@code run streams} + {@code run trainer} -> {@code publish} ->
 * {@code ask} -> {@code user export}, through the real commands ({@link SystemHarness}). The answer must name the
 * user's adapter version (not a cold start), and the adapter {@code user export} writes must hold exactly the tensor
 * names (and shapes) PEFT wrote for the family's fixture adapter, {@code fixtures/families/<f>/adapter/}: the user
 * adapter is trained with that adapter's target modules, r, lora_alpha and use_rslora through the trainer's options,
 * and the test model has the fixture base's sizes (2 layers, hidden 64, vocab 512, its head_dim and intermediate).
 */
@ExtendWith(KafkaExtension.class)
class FamilyPathTest {
  private static final Path FAMILIES = SystemHarness.FIXTURES.resolve("families");
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  /** The test model of a family: the sizes of its fixture base, the family's own parts switched on. */
  static LlamaConfig config(String family) {
    return switch (family) {
      // Llama 3.x: llama3 rope scaling over a 64-position original context (prompts are longer), GQA, tied.
      case "llama3" -> LlamaConfig.of(512, 64, 160, 2, 4, 2, 256, 500000.0, true)
          .withRope(Rope.llama3(500000.0, 8.0, 1.0, 4.0, 64));
      // Qwen2: q/k/v biases (given noise by the harness), tied.
      case "qwen2" -> LlamaConfig.of(512, 64, 176, 2, 4, 2, 256, 1000000.0, true).withFamily(Family.qwen2());
      // Qwen3: per-head q/k RMSNorm, head_dim 24 != 64 / 4.
      case "qwen3" -> new LlamaConfig(512, 64, 128, 2, 4, 2, 24, 256, 1e-6, Rope.plain(1000000.0), true, 1,
          new int[] {2}, 0, Family.qwen3());
      // Mistral: head_dim 20, untied, and a sliding window of 32 on both layers (the prompts are longer than that;
      // the fixture's window is null).
      case "mistral" -> new LlamaConfig(512, 64, 160, 2, 4, 2, 20, 256, 1e-5, Rope.plain(1000000.0), false, 1,
          new int[] {2}, 0, Family.mistral(32, 2));
      default -> throw new IllegalArgumentException(family);
    };
  }

  /** The trainer options that make the user adapter the fixture adapter's kind: targets, r, alpha, rsLoRA. */
  static String[] loraOptions(JsonNode fixtureConfig) {
    List<String> targets = new ArrayList<>();
    fixtureConfig.get("target_modules").forEach(t -> targets.add(t.asText()));
    return new String[] {"--targets", String.join(",", targets), "--r", fixtureConfig.get("r").asText(), "--alpha",
        fixtureConfig.get("lora_alpha").asText(), fixtureConfig.get("use_rslora").asBoolean() ? "--rslora"
        : "--no-rslora"};
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"llama3", "qwen2", "qwen3", "mistral"})
  void publishTrainAskAndExportOnEachFamily(String family, SharedKafka kafka) throws Exception {
    Path fixtureAdapter = FAMILIES.resolve(family).resolve("adapter");
    JsonNode fixtureConfig = JSON.readTree(fixtureAdapter.resolve("adapter_config.json").toFile());
    String[] cluster = SystemHarness.cluster(kafka, "family-" + family, dir);
    Path model = dir.resolve("model-" + family);
    LlamaConfig config = config(family);
    SystemHarness.writeModel(model, config, 7);
    assertEquals(config.family().modelType(), LlamaConfig.load(model).family().modelType());
    String input = Task.MOVIE_TAGGING.lampInput("a film about friends and their comedy story", List.of());
    if (config.family().slidingWindow() > 0) {
      try (TextTokenizer tok = TextTokenizer.load(model, config)) {
        assertTrue(tok.encode(input).length > config.family().slidingWindow(), "the window must matter");
      }
    }

    String appId;
    try (SystemHarness.Services services =
        new SystemHarness.Services(cluster, "family-" + family, model, loraOptions(fixtureConfig))) {
      appId = services.applicationId;
      Path behaviors = SystemHarness.movieBehaviors(dir.resolve("behaviors.jsonl"), "ann", 14);
      SystemHarness.Run published =
          SystemHarness.run(new PublishCommand(), concat(cluster, "--file", behaviors.toString()));
      assertEquals(0, published.code(), published.err());

      SystemHarness.Answer answer = services.askUntilAdapter("ann", input);
      assertTrue(answer.printed().contains("adapter: v" + answer.response().getAdapterVersion()
          + " | mode: OPPU+RAG | "), answer.printed());
      assertFalse(answer.printed().contains("cold start"), answer.printed());
    }

    Path out = dir.resolve("export");
    SystemHarness.Run export = SystemHarness.run(new UserCommand(), concat(new String[] {"export", "--user", "ann",
        "--out", out.toString(), "--application-id", appId}, cluster));
    assertEquals(0, export.code(), export.out() + export.err());
    Path exported = out.resolve("adapters").resolve(Task.MOVIE_TAGGING.id()).resolve("rag");

    Map<String, Shape> ours = shapes(exported.resolve("adapter_model.safetensors"));
    Map<String, Shape> peft = shapes(fixtureAdapter.resolve("adapter_model.safetensors"));
    assertEquals(peft.keySet(), ours.keySet(), family + ": tensor names of the exported adapter vs PEFT's");
    assertEquals(peft, ours, family + ": tensor shapes of the exported adapter vs PEFT's");

    JsonNode ourConfig = JSON.readTree(exported.resolve("adapter_config.json").toFile());
    for (String field : List.of("r", "target_modules", "use_rslora", "peft_type", "task_type")) {
      assertEquals(fixtureConfig.get(field), ourConfig.get(field), family + ": adapter_config " + field);
    }
    assertEquals(fixtureConfig.get("lora_alpha").asDouble(), ourConfig.get("lora_alpha").asDouble(), 0.0,
        family + ": lora_alpha");
  }

  private static Map<String, Shape> shapes(Path file) throws IOException {
    Map<String, Shape> shapes = new TreeMap<>();
    try (NDManager m = NDManager.newBaseManager()) {
      for (Map.Entry<String, NDArray> e : Safetensors.read(file, m).entrySet()) {
        shapes.put(e.getKey(), e.getValue().getShape());
      }
    }
    return shapes;
  }
}
