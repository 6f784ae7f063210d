package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each family fixture (fixtures/families/, computed outside this project following transformers and PEFT): base,
 * LoRA and merged logits, loss, LoRA gradients and greedy ids within the tolerances of fixtures/README.md, and
 * {@link ModelCheck} (what {@code oppu model check} runs) meeting them.
 */
class FamilyFixtureTest {

  static final Path FAMILIES = Paths.get(System.getProperty("oppu.fixtures", "../fixtures"), "families");

  static final double LOGITS_ABS = 1e-4;
  static final double LOSS_REL = 1e-5;
  static final double GRAD_REL = 1e-3;

  static float maxAbs(NDArray a, NDArray b) {
    assertEquals(b.getShape(), a.getShape());
    return a.sub(b).abs().max().getFloat();
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama3", "qwen2", "qwen3", "mistral"})
  void matchesReference(String family) throws IOException {
    Path dir = FAMILIES.resolve(family);
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel model = LlamaModel.load(dir.resolve("base"), m);
      LoraAdapter adapter = LoraAdapter.loadPeft(dir.resolve("adapter"), model.config(), m);
      Map<String, NDArray> ref = Safetensors.read(dir.resolve("reference.safetensors"), m);
      NDArray ids = ref.get("input_ids");

      float base = maxAbs(model.forward(ids), ref.get("base_logits"));
      float lora;
      try (LoraBatch lb = LoraBatch.of(adapter)) {
        lora = maxAbs(model.forward(ids, null, null, lb, null, false, false), ref.get("lora_logits"));
      }
      assertTrue(maxAbs(ref.get("lora_logits"), ref.get("base_logits")) > 1e-2, "the adapter must matter");

      Map<String, float[]> before = new HashMap<>();
      model.weights().forEach((k, v) -> before.put(k, v.toFloatArray()));
      model.merge(adapter);
      float merged;
      try {
        merged = maxAbs(model.forward(ids), ref.get("merged_logits"));
        // merging changes the weights of the adapted projections, never a bias
        model.weights().forEach((k, v) -> {
          if (k.endsWith(".bias")) {
            assertArrayEquals(before.get(k), v.toFloatArray(), k);
          }
        });
      } finally {
        model.unmerge(adapter);
      }

      double lossErr;
      double gradErr = 0;
      try (CausalLm.LossAndGradients lg = CausalLm.lossAndGradients(model, adapter, ids, null, ref.get("labels"),
          false, m)) {
        double want = ref.get("loss").getFloat();
        lossErr = Math.abs(lg.loss() - want) / Math.abs(want);
        assertEquals(adapter.modulePaths().size() * 2, lg.gradients().size());
        for (Map.Entry<String, NDArray> e : lg.gradients().entrySet()) {
          String key = e.getKey().replace("base_model.model.", "").replace(".weight", ".default.weight.grad");
          NDArray g = ref.get(key);
          assertTrue(g != null, "reference lacks " + key);
          gradErr = Math.max(gradErr, maxAbs(e.getValue(), g) / g.abs().max().getFloat());
        }
      }

      long[] greedy = ref.get("greedy_ids").toLongArray();
      int rows = (int) ids.getShape().get(0);
      int len = (int) ref.get("greedy_ids").getShape().get(1);
      List<int[]> prompts = new ArrayList<>();
      for (int r = 0; r < rows; r++) {
        int[] p = new int[6];
        for (int j = 0; j < 6; j++) {
          p[j] = (int) greedy[r * len + j];
        }
        prompts.add(p);
      }
      List<int[]> out = new Generator(model).generate(prompts, null,
          Generator.Options.greedy(len - 6).withoutEosStop());
      for (int r = 0; r < rows; r++) {
        for (int j = 0; j < len - 6; j++) {
          assertEquals(greedy[r * len + 6 + j], out.get(r)[j], family + " greedy row " + r + " token " + j);
        }
      }

      System.out.printf("%s: base %.2e lora %.2e merged %.2e loss %.2e grad %.2e%n", family, base, lora, merged,
          lossErr, gradErr);
      assertTrue(base < LOGITS_ABS, family + " base max abs err " + base);
      assertTrue(lora < LOGITS_ABS, family + " lora max abs err " + lora);
      assertTrue(merged < LOGITS_ABS, family + " merged max abs err " + merged);
      assertTrue(lossErr < LOSS_REL, family + " loss rel err " + lossErr);
      assertTrue(gradErr < GRAD_REL, family + " grad rel err " + gradErr);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama3", "qwen2", "qwen3", "mistral"})
  void modelCheckMeetsTolerances(String family) throws IOException {
    Path dir = FAMILIES.resolve(family);
    Map<String, Object> r = ModelCheck.run(dir.resolve("base"), dir.resolve("adapter"),
        dir.resolve("reference.safetensors"), 0);
    assertTrue((Double) r.get("base_max_abs_err") < LOGITS_ABS, r.toString());
    assertTrue((Double) r.get("lora_max_abs_err") < LOGITS_ABS, r.toString());
    assertTrue((Double) r.get("merged_max_abs_err") < LOGITS_ABS, r.toString());
    assertTrue((Double) r.get("loss_rel_err") < LOSS_REL, r.toString());
    assertTrue((Double) r.get("grad_max_rel_err") < GRAD_REL, r.toString());
    assertEquals(true, r.get("greedy_match"), r.toString());
    assertEquals(List.of(), r.get("reference_lacks"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama3", "qwen2", "qwen3", "mistral"})
  void configsReadAsTransformersDoes(String family) throws IOException {
    LlamaConfig c = LlamaConfig.load(FAMILIES.resolve(family).resolve("base"));
    switch (family) {
      case "llama3" -> {
        assertEquals(Rope.llama3(500000.0, 8, 1, 4, 64), c.rope());
        assertEquals(Family.llama(), c.family());
        assertTrue(c.tieWordEmbeddings());
      }
      case "qwen2" -> {
        assertEquals(Set.of("q_proj", "k_proj", "v_proj"), c.family().biasedModules());
        assertEquals(0, c.family().slidingWindow()); // use_sliding_window false
        assertTrue(c.tieWordEmbeddings());
      }
      case "qwen3" -> {
        assertTrue(c.family().qkNorm());
        assertEquals(24, c.headDim());
        assertEquals(1e-6, c.rmsNormEps());
      }
      default -> {
        assertEquals(20, c.headDim());
        assertEquals(0, c.family().slidingWindow()); // sliding_window null
        assertTrue(!c.tieWordEmbeddings());
        try (NDManager m = NDManager.newBaseManager()) {
          LoraAdapter a = LoraAdapter.loadPeft(FAMILIES.resolve(family).resolve("adapter"), c, m);
          assertTrue(a.config().useRslora());
          assertEquals(16 / Math.sqrt(8), a.scaling(), 1e-12); // rsLoRA: alpha / sqrt(r), not alpha / r = 2
        }
      }
    }
    assertEquals(family.equals("llama3") ? "llama" : family, c.family().modelType());
  }
}
