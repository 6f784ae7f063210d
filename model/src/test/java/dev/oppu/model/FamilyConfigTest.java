package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What the family fixtures do not cover, each against values computed outside this project: a sliding window
 * (fixtures/families/windowed, written by tools/family_reference.py in float64 numpy), llama3 rope written as
 * {@code rope_parameters} and an eos list (against the llama3 fixture's own numbers), and the refusals.
 */
class FamilyConfigTest {

  static final Path FAMILIES = FamilyFixtureTest.FAMILIES;
  static final ObjectMapper JSON = new ObjectMapper();

  /** A copy of a fixture's base checkpoint whose config.json {@code edit} changes (the weights stay). */
  static Path edited(String family, Path tmp, Consumer<ObjectNode> edit) throws IOException {
    Path src = FAMILIES.resolve(family).resolve("base");
    Path dst = tmp.resolve(family + "-edited");
    Files.createDirectories(dst);
    Files.copy(src.resolve("model.safetensors"), dst.resolve("model.safetensors"));
    ObjectNode cfg = (ObjectNode) JSON.readTree(src.resolve("config.json").toFile());
    edit.accept(cfg);
    JSON.writeValue(dst.resolve("config.json").toFile(), cfg);
    return dst;
  }

  static List<int[]> prefixes(long[] ids, int rows, int width, int n) {
    List<int[]> out = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      int[] p = new int[n];
      for (int j = 0; j < n; j++) {
        p[j] = (int) ids[r * width + j];
      }
      out.add(p);
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"mistral", "qwen2"})
  void slidingWindowMatchesNumpy(String family, @TempDir Path tmp) throws IOException {
    Path dir = edited(family, tmp, c -> {
      if (family.equals("mistral")) {
        c.put("sliding_window", 4);
      } else {
        c.put("use_sliding_window", true);
        c.put("sliding_window", 4);
        c.put("max_window_layers", 1);
      }
    });
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel model = LlamaModel.load(dir, m);
      // Mistral: every layer; Qwen2: layers from max_window_layers (1) on, so layer 0 keeps full attention
      assertEquals(4, model.config().family().slidingWindow());
      assertEquals(family.equals("mistral") ? List.of(0, 1) : List.of(1), model.config().family().windowedLayers());
      Map<String, NDArray> ref = Safetensors.read(FAMILIES.resolve("windowed/reference.safetensors"), m);
      NDArray ids = ref.get(family + "_input_ids"); // [3, 20]: 5 times the window
      float err = FamilyFixtureTest.maxAbs(model.forward(ids), ref.get(family + "_base_logits"));
      System.out.printf("%s window 4: base logits max abs err %.2e%n", family, err);
      assertTrue(err < 1e-4, family + " windowed logits err " + err);
      // also through training's path (logits at chosen positions) and the KV-cache generation path
      NDArray at = model.forwardAt(ids, null, false, m.arange(0, 60, 7, ai.djl.ndarray.types.DataType.INT64));
      NDArray want = ref.get(family + "_base_logits").reshape(60, -1).get(m.arange(0, 60, 7,
          ai.djl.ndarray.types.DataType.INT64));
      assertTrue(FamilyFixtureTest.maxAbs(at, want) < 1e-4);
      long[] greedy = ref.get(family + "_greedy_ids").toLongArray(); // [3, 20]: 6 prompt + 14 new
      List<int[]> out = new Generator(model).generate(prefixes(greedy, 3, 20, 6), null,
          Generator.Options.greedy(14).withoutEosStop());
      for (int r = 0; r < 3; r++) {
        for (int j = 0; j < 14; j++) {
          assertEquals(greedy[r * 20 + 6 + j], out.get(r)[j], family + " row " + r + " token " + j);
        }
      }
      // the same rows left-padded behind a longer one: the window counts real tokens, not pads
      List<int[]> mixed = new ArrayList<>(prefixes(greedy, 3, 20, 6));
      mixed.set(1, java.util.Arrays.copyOf(mixed.get(1), 3));
      List<int[]> padded = new Generator(model).generate(mixed, null, Generator.Options.greedy(14).withoutEosStop());
      List<int[]> alone = new Generator(model).generate(List.of(mixed.get(1)), null,
          Generator.Options.greedy(14).withoutEosStop());
      assertArrayEquals(out.get(0), padded.get(0));
      assertArrayEquals(alone.get(0), padded.get(1));
    }
  }

  @Test
  void qwenWindowNeedsUseSlidingWindow(@TempDir Path tmp) throws IOException {
    // Qwen2.5 ships sliding_window 32768 with use_sliding_window false: no window anywhere
    LlamaConfig c = LlamaConfig.load(edited("qwen2", tmp, n -> {
      n.put("sliding_window", 4);
      n.put("max_window_layers", 0);
    }));
    assertEquals(0, c.family().slidingWindow());
    // layer_types, when written, names the layers itself
    Path dir = tmp.resolve("types");
    Files.createDirectories(dir);
    ObjectNode n = (ObjectNode) JSON.readTree(FAMILIES.resolve("qwen3/base/config.json").toFile());
    n.put("use_sliding_window", true);
    n.put("sliding_window", 7);
    n.putArray("layer_types").add("sliding_attention").add("full_attention");
    JSON.writeValue(dir.resolve("config.json").toFile(), n);
    assertEquals(List.of(0), LlamaConfig.load(dir).family().windowedLayers());
    // Mistral without the key: transformers' default window, 4096
    n = (ObjectNode) JSON.readTree(FAMILIES.resolve("mistral/base/config.json").toFile());
    n.remove("sliding_window");
    JSON.writeValue(dir.resolve("config.json").toFile(), n);
    assertEquals(4096, LlamaConfig.load(dir).family().slidingWindow());
  }

  @Test
  void llama3RopeAsRopeParameters(@TempDir Path tmp) throws IOException {
    Path dir = edited("llama3", tmp, c -> {
      ObjectNode rope = ((ObjectNode) c.remove("rope_scaling")).deepCopy();
      rope.put("rope_theta", c.remove("rope_theta").asDouble());
      c.set("rope_parameters", rope); // transformers 5's form: theta inside, no top-level rope_theta
    });
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel model = LlamaModel.load(dir, m);
      assertEquals(Rope.llama3(500000.0, 8, 1, 4, 64), model.config().rope());
      Map<String, NDArray> ref = Safetensors.read(FAMILIES.resolve("llama3/reference.safetensors"), m);
      float err = FamilyFixtureTest.maxAbs(model.forward(ref.get("input_ids")), ref.get("base_logits"));
      assertTrue(err < 1e-4, "llama3 via rope_parameters err " + err);
      // without the llama3 scaling the logits are elsewhere: the test sees the rope type
      LlamaModel plain = LlamaModel.load(edited("llama3", tmp.resolve("plain"), c -> c.remove("rope_scaling")), m);
      assertTrue(FamilyFixtureTest.maxAbs(plain.forward(ref.get("input_ids")), ref.get("base_logits")) > 1e-2);
      // what we write reads back the same
      model.save(tmp.resolve("saved"));
      assertEquals(model.config(), LlamaConfig.load(tmp.resolve("saved")));
    }
  }

  @Test
  void eosListStopsAtAnyOfItsIds(@TempDir Path tmp) throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> ref = Safetensors.read(FAMILIES.resolve("llama3/reference.safetensors"), m);
      long[] g = ref.get("greedy_ids").toLongArray(); // [3, 14]: 6 prompt + 8 new, computed outside
      int first = (int) g[6 + 2];        // row 0 stops before its 3rd new token
      int second = (int) g[2 * 14 + 6 + 5]; // row 2 before its 6th, unless the first id comes earlier
      Path dir = edited("llama3", tmp, c -> c.putArray("eos_token_id").add(first).add(second));
      LlamaModel model = LlamaModel.load(dir, m);
      assertArrayEquals(new int[] {first, second}, model.config().eosTokenIds());
      List<int[]> out = new Generator(model).generate(prefixes(g, 3, 14, 6), null, Generator.Options.greedy(8));
      for (int r = 0; r < 3; r++) {
        List<Integer> want = new ArrayList<>();
        for (int j = 6; j < 14 && g[r * 14 + j] != first && g[r * 14 + j] != second; j++) {
          want.add((int) g[r * 14 + j]);
        }
        assertArrayEquals(want.stream().mapToInt(Integer::intValue).toArray(), out.get(r), "row " + r);
      }
      assertTrue(out.get(0).length <= 2 && out.get(2).length <= 5);
      model.save(tmp.resolve("saved"));
      assertArrayEquals(new int[] {first, second}, LlamaConfig.load(tmp.resolve("saved")).eosTokenIds());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"gemma", "phi3", "mixtral", "qwen2_moe", "llama4"})
  void otherFamiliesAreRefusedByName(String type, @TempDir Path tmp) throws IOException {
    Path dir = edited("qwen2", tmp, c -> c.put("model_type", type));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> LlamaModel.load(dir, NDManager.newBaseManager()));
    assertTrue(e.getMessage().contains("model_type '" + type + "'"), e.getMessage());
    assertTrue(e.getMessage().contains("supported: llama, mistral, qwen2, qwen3"), e.getMessage());
  }

  @Test
  void tensorsTheConfigDoesNotUseAreRefused(@TempDir Path tmp) throws IOException {
    // Qwen2's biases under a config that calls it llama: running without them would be silently wrong
    Path dir = edited("qwen2", tmp, c -> {
      c.put("model_type", "llama");
      c.putArray("architectures").add("LlamaForCausalLM");
    });
    try (NDManager m = NDManager.newBaseManager()) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaModel.load(dir, m));
      assertTrue(e.getMessage().contains("self_attn.q_proj.bias"), e.getMessage());
      Path wrongClass = edited("qwen3", tmp, c -> c.putArray("architectures").add("Qwen3MoeForCausalLM"));
      e = assertThrows(IllegalArgumentException.class, () -> LlamaModel.load(wrongClass, m));
      assertTrue(e.getMessage().contains("Qwen3ForCausalLM"), e.getMessage());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama3", "qwen2", "qwen3", "mistral"})
  void randomCheckpointOfEachFamilyRoundTrips(String family, @TempDir Path tmp) throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaConfig fixture = LlamaConfig.load(FAMILIES.resolve(family).resolve("base"));
      LlamaConfig c = family.equals("mistral")
          ? fixture.withFamily(Family.mistral(3, fixture.numLayers())) : fixture;
      LlamaModel model = LlamaModel.random(c, 7, m);
      model.save(tmp);
      try (LlamaModel back = LlamaModel.load(tmp, m)) {
        assertEquals(c, back.config());
        assertEquals(model.fingerprint(), back.fingerprint());
        assertEquals(c.parameterCount(), back.weights().values().stream().mapToLong(NDArray::size).sum());
      }
    }
  }
}
