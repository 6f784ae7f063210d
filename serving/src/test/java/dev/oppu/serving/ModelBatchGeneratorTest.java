package dev.oppu.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.oppu.lamp.Task;
import dev.oppu.model.CausalLm;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.TextTokenizer;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.serving.BatchGenerator.LoadedAdapter;
import dev.oppu.serving.BatchGenerator.Row;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real generator on a tiny random model (saved and reloaded) with the fixture tokenizer. */
class ModelBatchGeneratorTest {
  private static final Path FIX = Path.of(System.getProperty("oppu.fixtures", "../fixtures"),
      "hf-llama-mha");
  static NDManager manager;
  static LlamaModel model;
  static TextTokenizer tokenizer;
  static ModelBatchGenerator gen;

  @BeforeAll
  static void setUp(@TempDir Path dir) throws IOException {
    manager = NDManager.newBaseManager();
    LlamaConfig c = LlamaConfig.of(512, 64, 172, 2, 4, 2, 96, 10000.0, false);
    try (LlamaModel random = LlamaModel.random(c, 7, manager)) {
      random.save(dir);
    }
    model = LlamaModel.load(dir, manager);
    tokenizer = TextTokenizer.load(FIX.resolve("tokenizer.json"), model.config());
    gen = new ModelBatchGenerator(Map.of(Task.MOVIE_TAGGING, new ModelBatchGenerator.TaskModel(model, "base",
        "task")), tokenizer, ModelBatchGenerator.Options.greedy());
  }

  @AfterAll
  static void tearDown() {
    tokenizer.close();
    model.close();
    manager.close();
  }

  /** A user adapter with non-zero B, so that it changes the output, published as the trainer would. */
  static AdapterVersion publish(String user, long seed) throws IOException {
    try (LoraAdapter a = LoraAdapter.create(model.config(), LoraConfig.oppuUser(), seed, manager)) {
      for (String p : a.modulePaths()) {
        NDArray b = a.b(p);
        b.addi(manager.randomNormal(0, 2f, b.getShape(), DataType.FLOAT32));
      }
      byte[] weights = a.weightsBytes();
      return AdapterVersion.newBuilder(Fixtures.adapter(user, Task.MOVIE_TAGGING, "plain", seed, "base", "task"))
          .setAdapterConfig(new String(a.configJson(), StandardCharsets.UTF_8))
          .setWeights(ByteBuffer.wrap(weights)).setWeightsSha256(ModelBatchGenerator.sha256(weights)).build();
    }
  }

  private static Row row(String prompt, LoadedAdapter a, int n) {
    return new Row(Task.MOVIE_TAGGING, prompt, a, n, null);
  }

  @Test
  void mixedBatchEqualsEachRowAlone() throws Exception {
    try (LoadedAdapter a = gen.load(publish("a", 1)); LoadedAdapter b = gen.load(publish("b", 2))) {
      List<Row> rows = List.of(row("description: robots in space tag:", a, 8),
          row("a much longer prompt about a film with a twist ending and robots tag:", null, 8),
          row("description: love tag:", b, 8),
          row("description: robots in space tag:", null, 8));
      List<String> batched = gen.generate(rows);
      List<String> alone = new ArrayList<>();
      for (Row r : rows) {
        alone.add(gen.generate(List.of(r)).get(0));
      }
      assertEquals(alone, batched);
      assertNotEquals(batched.get(0), batched.get(3), "the adapter changes the answer to the same prompt");
      assertTrue(a.sizeBytes() > 0);
    }
  }

  @Test
  void referencedWeightsLoadAndChecksumIsVerified(@TempDir Path dir) throws Exception {
    AdapterVersion inline = publish("c", 3);
    byte[] weights = new byte[inline.getWeights().remaining()];
    inline.getWeights().duplicate().get(weights);
    Path store = dir.resolve("adapter-store");
    String file = dev.oppu.model.lora.AdapterPayload.encode(inline.getAdapterConfig(), weights, 0, store)
        .weightsPath();
    AdapterVersion byRef = AdapterVersion.newBuilder(inline).setWeights(null).setWeightsPath(file).build();
    ModelBatchGenerator withStore = new ModelBatchGenerator(t -> t == Task.MOVIE_TAGGING
        ? new ModelBatchGenerator.TaskModel(model, "base", "task") : null, tokenizer,
        ModelBatchGenerator.Options.greedy(), store);
    try (LoadedAdapter x = gen.load(inline); LoadedAdapter y = withStore.load(byRef)) {
      assertEquals(gen.generate(List.of(row("description: x tag:", x, 6))),
          gen.generate(List.of(row("description: x tag:", y, 6))));
    }
    // a generator without the store (or with another) never opens the file
    assertThrows(dev.oppu.model.lora.AdapterPayload.RefusedPathException.class, () -> gen.load(byRef));
    assertThrows(dev.oppu.model.lora.AdapterPayload.RefusedPathException.class, () -> new ModelBatchGenerator(
        t -> new ModelBatchGenerator.TaskModel(model, "base", "task"), tokenizer,
        ModelBatchGenerator.Options.greedy(), dir.resolve("elsewhere")).load(byRef));
    AdapterVersion corrupt = AdapterVersion.newBuilder(inline).setWeightsSha256("00").build();
    Exception e = assertThrows(Exception.class, () -> gen.load(corrupt));
    assertTrue(e.getMessage().contains("SHA-256"));
    assertNull(gen.fingerprint(Task.NEWS_HEADLINE));
  }

  @Test
  void constrainedRowsAnswerTheirMostLikelyCandidate() throws Exception {
    List<String> labels = Task.MOVIE_TAGGING.labels();
    try (LoadedAdapter a = gen.load(publish("d", 4))) {
      String prompt = "description: a story of robots tag:";
      List<Row> rows = List.of(new Row(Task.MOVIE_TAGGING, prompt, a, 4, labels),
          new Row(Task.MOVIE_TAGGING, prompt, null, 4, labels), row(prompt, null, 4));
      List<String> out = gen.generate(rows);
      LoraAdapter lora = ((ModelBatchGenerator.ModelAdapter) a).lora;
      for (int r = 0; r < 2; r++) {
        int[] p = tokenizer.encodeWithSpecialTokens(prompt);
        float best = Float.NEGATIVE_INFINITY;
        String arg = null;
        for (String label : labels) { // each candidate scored on its own, no batching
          int[] ids = tokenizer.encode(" " + label);
          int[] cont = java.util.Arrays.copyOf(ids, ids.length + 1);
          cont[ids.length] = tokenizer.eosId();
          float s = CausalLm.continuationLogProbs(model, List.of(p), List.of(cont),
              java.util.Arrays.asList(r == 0 ? lora : null))[0];
          if (s > best) {
            best = s;
            arg = label;
          }
        }
        assertEquals(arg, out.get(r), "row " + r);
      }
      assertTrue(labels.contains(out.get(0)));
    }
  }

  @Test
  void constrainedBatchOverSeveralPassesEqualsEachRowAlone() throws Exception {
    // 20 (row, candidate) pairs per pass: a row of 15 labels fills a pass, rows of 2-3 options share one
    ModelBatchGenerator small = new ModelBatchGenerator(Map.of(Task.MOVIE_TAGGING, new ModelBatchGenerator.TaskModel(
        model, "base", "task")), tokenizer, new ModelBatchGenerator.Options(0, 0, 1, 0, 20));
    List<String> labels = Task.MOVIE_TAGGING.labels();
    try (LoadedAdapter a = gen.load(publish("e", 5)); LoadedAdapter b = gen.load(publish("f", 6))) {
      List<String> options = List.of("robots in space", "robots in love", "a ghost story");
      List<Row> rows = List.of(new Row(Task.MOVIE_TAGGING, "description: robots in space tag:", a, 4, labels),
          new Row(Task.MOVIE_TAGGING, "which is it? robots", b, 4, options),
          new Row(Task.MOVIE_TAGGING, "a much longer prompt about a film with a twist ending tag:", null, 4, labels),
          new Row(Task.MOVIE_TAGGING, "which is it? ghosts", a, 4, options.subList(1, 3)),
          row("description: love tag:", b, 4),
          new Row(Task.MOVIE_TAGGING, "description: robots in space tag:", b, 4, labels),
          new Row(Task.MOVIE_TAGGING, "which is it? love", null, 4, options));
      List<String> alone = new ArrayList<>();
      for (Row r : rows) {
        alone.add(gen.generate(List.of(r)).get(0));
      }
      assertEquals(alone, small.generate(rows));
      assertEquals(alone, gen.generate(rows));
      for (int i = 0; i < rows.size(); i++) {
        if (rows.get(i).candidates() != null) {
          assertTrue(rows.get(i).candidates().contains(alone.get(i)), "row " + i);
        }
      }
    }
  }

  @Test
  void overlongPromptIsCutFromTheLeft() {
    String longPrompt = "word ".repeat(400) + "tag:";
    List<String> out = gen.generate(List.of(row(longPrompt, null, 8)));
    assertEquals(1, out.size());
    // same answer as the prompt's tail alone: the cut keeps the end where the answer cue is
    int[] ids = tokenizer.encodeWithSpecialTokens(longPrompt);
    assertTrue(ids.length > model.config().maxPositions());
  }
}
