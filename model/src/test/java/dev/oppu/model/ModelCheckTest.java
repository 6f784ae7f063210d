package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelCheckTest {

  static final Path FIX = HfFixtureTest.FIX;

  @Test
  void fixturePassesWithinTolerances() throws IOException {
    Map<String, Object> r = ModelCheck.run(FIX.resolve("base"), FIX.resolve("adapter"),
        FIX.resolve("reference.safetensors"), 0);
    assertTrue((Double) r.get("base_max_abs_err") < 1e-4, r.toString());
    assertTrue((Double) r.get("lora_max_abs_err") < 1e-4, r.toString());
    assertTrue((Double) r.get("merged_max_abs_err") < 1e-4, r.toString());
    assertTrue((Double) r.get("loss_rel_err") < 1e-5, r.toString());
    assertTrue((Double) r.get("grad_max_rel_err") < 1e-3, r.toString());
    assertEquals(8, r.get("grad_tensors_compared"));
    assertEquals(true, r.get("greedy_match"));
    assertEquals(List.of(), r.get("reference_lacks"));
  }

  @Test
  void reportsWhatTheReferenceLacks(@TempDir Path dir) throws IOException {
    Path partial = dir.resolve("partial.safetensors");
    try (NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> ref = Safetensors.read(FIX.resolve("reference.safetensors"), m);
      Map<String, NDArray> keep = new LinkedHashMap<>();
      ref.forEach((k, v) -> {
        if (!k.equals("greedy_ids") && !k.equals("merged_logits") && !k.contains("layers.1.self_attn.v_proj")) {
          keep.put(k, v);
        }
      });
      Safetensors.write(partial, keep, Map.of("format", "pt"));
    }
    Map<String, Object> r = ModelCheck.run(FIX.resolve("base"), FIX.resolve("adapter"), partial, 0);
    @SuppressWarnings("unchecked")
    List<String> lacks = (List<String>) r.get("reference_lacks");
    assertTrue(lacks.contains("greedy_ids") && lacks.contains("merged_logits"), lacks.toString());
    assertTrue(lacks.contains("base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight.grad"), lacks.toString());
    assertNull(r.get("greedy_match"));
    assertEquals(6, r.get("grad_tensors_compared"));
    // without an adapter only the base is compared
    Map<String, Object> base = ModelCheck.run(FIX.resolve("base"), null, FIX.resolve("reference.safetensors"), 6);
    assertTrue((Double) base.get("base_max_abs_err") < 1e-4);
    assertNull(base.get("lora_max_abs_err"));
    assertEquals(true, base.get("greedy_match"));
  }

  @Test
  void paddedReference() throws IOException {
    Map<String, Object> r = ModelCheck.run(FIX.resolve("base"), FIX.resolve("adapter"),
        FIX.resolve("padded_reference.safetensors"), 0);
    assertTrue((Double) r.get("base_max_abs_err") < 1e-4, r.toString());
    assertEquals(true, r.get("greedy_match"), r.toString());
    assertEquals(true, r.get("lora_greedy_match"), r.toString());
    assertEquals(List.of(), r.get("reference_lacks"));
  }

  @Test
  void halfPrecisionDecoding() {
    assertEquals(1f, Safetensors.halfToFloat((short) 0x3c00));
    assertEquals(-2f, Safetensors.halfToFloat((short) 0xc000));
    assertEquals(65504f, Safetensors.halfToFloat((short) 0x7bff));
    assertEquals((float) Math.pow(2, -24), Safetensors.halfToFloat((short) 0x0001));
    assertEquals(Float.POSITIVE_INFINITY, Safetensors.halfToFloat((short) 0x7c00));
    assertTrue(Float.isNaN(Safetensors.halfToFloat((short) 0x7e00)));
  }
}
