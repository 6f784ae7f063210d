package dev.oppu.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Compares this model with a reference file of the form of {@code fixtures/hf-llama-mha/reference.safetensors}
 * (tensors computed by transformers and PEFT): logits, loss, LoRA gradients, greedy ids. What the reference lacks is
 * reported, not guessed.
 */
public final class ModelCheck {

  private static final Pattern GRAD = Pattern.compile("(?:base_model\\.model\\.)?(model\\.layers\\.\\d+\\.\\w+\\.\\w+)"
      + "\\.lora_([AB])(?:\\.\\w+)?\\.weight\\.grad");

  private ModelCheck() {
  }

  /**
   * Runs every comparison the reference and the inputs allow.
   *
   * @param adapterDir PEFT adapter, or null (then the LoRA, merged, loss and gradient checks are skipped)
   * @param promptLength prompt length of {@code greedy_ids}; 0 infers it as the longest prefix shared with input_ids
   * @return JSON-ready fields: base_max_abs_err, lora_max_abs_err, merged_max_abs_err, loss_rel_err,
   *     grad_max_rel_err, greedy_match (null when not computed), reference_lacks, skipped
   */
  public static Map<String, Object> run(Path modelDir, Path adapterDir, Path reference, int promptLength)
      throws IOException {
    return run(modelDir, adapterDir, reference, promptLength, null);
  }

  /** As {@link #run(Path, Path, Path, int)} on {@code device} (null: DJL's default device). */
  public static Map<String, Object> run(Path modelDir, Path adapterDir, Path reference, int promptLength,
      ai.djl.Device device) throws IOException {
    Map<String, Object> out = new LinkedHashMap<>();
    List<String> lacks = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    try (NDManager m = device == null ? NDManager.newBaseManager() : NDManager.newBaseManager(device)) {
      LlamaModel model = LlamaModel.load(modelDir, m);
      LoraAdapter adapter = adapterDir == null ? null : LoraAdapter.loadPeft(adapterDir, model.config(), m);
      Map<String, NDArray> ref = Safetensors.read(reference, m);
      NDArray ids = ref.get("input_ids");
      if (ids == null) {
        throw new IllegalArgumentException(reference + ": no input_ids tensor, nothing to compare");
      }
      if (ids.getShape().dimension() != 2) {
        throw new IllegalArgumentException(reference + ": input_ids must be [batch, length], got " + ids.getShape());
      }
      out.put("model_fingerprint", model.fingerprint());
      if (ref.containsKey("attention_mask")) {
        padded(model, adapter, ref, ids, out, lacks, skipped);
        out.put("reference_lacks", lacks);
        out.put("skipped", skipped);
        return out;
      }
      out.put("base_max_abs_err", logitsErr(ref, "base_logits", model.forward(ids), lacks));
      if (adapter == null) {
        skipped.addAll(List.of("lora_logits", "merged_logits", "loss", "gradients (no --adapter)"));
        out.put("lora_max_abs_err", null);
        out.put("merged_max_abs_err", null);
        out.put("loss_rel_err", null);
        out.put("grad_max_rel_err", null);
      } else {
        try (LoraBatch lb = LoraBatch.of(adapter)) {
          out.put("lora_max_abs_err", logitsErr(ref, "lora_logits",
              model.forward(ids, null, null, lb, null, false, false), lacks));
        }
        model.merge(adapter);
        try {
          out.put("merged_max_abs_err", logitsErr(ref, "merged_logits", model.forward(ids), lacks));
        } finally {
          model.unmerge(adapter);
        }
        lossAndGrads(model, adapter, ref, ids, out, lacks, m);
      }
      out.put("greedy_match", greedy(model, ref, ids, promptLength, lacks));
      out.put("reference_lacks", lacks);
      out.put("skipped", skipped);
    }
    return out;
  }

  /**
   * A left-padded reference (padded_reference.safetensors): logits at real positions, greedy ids of the real tokens
   * with and without the adapter.
   */
  private static void padded(LlamaModel model, LoraAdapter adapter, Map<String, NDArray> ref, NDArray ids,
      Map<String, Object> out, List<String> lacks, List<String> skipped) {
    NDArray mask = ref.get("attention_mask");
    NDArray logits = model.forward(ids, mask, ref.get("position_ids"), null, null, false, false);
    NDArray want = ref.get("logits");
    if (want == null) {
      lacks.add("logits");
      out.put("base_max_abs_err", null);
    } else {
      NDArray real = mask.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).expandDims(-1); // [B, T, 1]
      out.put("base_max_abs_err", (double) logits.sub(want).abs().mul(real).max().getFloat());
    }
    int rows = (int) ids.getShape().get(0);
    int len = (int) ids.getShape().get(1);
    long[] iv = ids.toLongArray();
    long[] mv = mask.toLongArray();
    List<int[]> prompts = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      List<Integer> p = new ArrayList<>();
      for (int j = 0; j < len; j++) {
        if (mv[r * len + j] != 0) {
          p.add((int) iv[r * len + j]);
        }
      }
      prompts.add(p.stream().mapToInt(Integer::intValue).toArray());
    }
    out.put("greedy_match", paddedGreedy(model, prompts, null, ref.get("greedy_ids"), len, "greedy_ids", lacks));
    if (adapter == null) {
      skipped.add("lora_greedy_ids (no --adapter)");
    } else {
      out.put("lora_greedy_match", paddedGreedy(model, prompts, java.util.Collections.nCopies(rows, adapter),
          ref.get("lora_greedy_ids"), len, "lora_greedy_ids", lacks));
    }
  }

  private static Object paddedGreedy(LlamaModel model, List<int[]> prompts, List<LoraAdapter> adapters,
      NDArray want, int len, String key, List<String> lacks) {
    if (want == null) {
      lacks.add(key);
      return null;
    }
    int total = (int) want.getShape().get(1);
    long[] wv = want.toLongArray();
    List<int[]> gen = new Generator(model).generate(prompts, adapters,
        Generator.Options.greedy(total - len).withoutEosStop());
    for (int r = 0; r < prompts.size(); r++) {
      for (int j = 0; j < total - len; j++) {
        if (gen.get(r)[j] != wv[r * total + len + j]) {
          return false;
        }
      }
    }
    return true;
  }

  private static Object logitsErr(Map<String, NDArray> ref, String key, NDArray logits, List<String> lacks) {
    NDArray want = ref.get(key);
    if (want == null) {
      lacks.add(key);
      return null;
    }
    if (!want.getShape().equals(logits.getShape())) {
      throw new IllegalArgumentException(key + " has shape " + want.getShape() + ", the model gives "
          + logits.getShape());
    }
    return (double) logits.sub(want).abs().max().getFloat();
  }

  private static void lossAndGrads(LlamaModel model, LoraAdapter adapter, Map<String, NDArray> ref, NDArray ids,
      Map<String, Object> out, List<String> lacks, NDManager m) {
    NDArray labels = ref.get("labels");
    if (labels == null) {
      lacks.add("labels");
      out.put("loss_rel_err", null);
      out.put("grad_max_rel_err", null);
      return;
    }
    try (CausalLm.LossAndGradients lg = CausalLm.lossAndGradients(model, adapter, ids, null, labels, false, m)) {
      NDArray loss = ref.get("loss");
      if (loss == null) {
        lacks.add("loss");
        out.put("loss_rel_err", null);
      } else {
        double want = loss.getFloat();
        out.put("loss_rel_err", Math.abs(lg.loss() - want) / Math.abs(want));
      }
      Map<String, NDArray> refGrads = new LinkedHashMap<>();
      ref.forEach((k, v) -> {
        Matcher mt = GRAD.matcher(k);
        if (mt.matches()) {
          refGrads.put("base_model.model." + mt.group(1) + ".lora_" + mt.group(2) + ".weight", v);
        }
      });
      double worst = 0;
      int compared = 0;
      for (Map.Entry<String, NDArray> e : lg.gradients().entrySet()) {
        NDArray want = refGrads.get(e.getKey());
        if (want == null) {
          lacks.add(e.getKey() + ".grad");
          continue;
        }
        double scale = want.abs().max().getFloat();
        double err = e.getValue().sub(want).abs().max().getFloat();
        worst = Math.max(worst, scale == 0 ? err : err / scale);
        compared++;
      }
      out.put("grad_max_rel_err", compared == 0 ? null : worst);
      out.put("grad_tensors_compared", compared);
    }
  }

  private static Object greedy(LlamaModel model, Map<String, NDArray> ref, NDArray ids, int promptLength,
      List<String> lacks) {
    NDArray g = ref.get("greedy_ids");
    if (g == null) {
      lacks.add("greedy_ids");
      return null;
    }
    int rows = (int) g.getShape().get(0);
    int gl = (int) g.getShape().get(1);
    int il = (int) ids.getShape().get(1);
    long[] gv = g.toLongArray();
    long[] iv = ids.toLongArray();
    int p = promptLength;
    if (p <= 0) {
      p = 0;
      while (p < Math.min(gl - 1, il)) {
        boolean same = true;
        for (int r = 0; r < rows; r++) {
          same &= gv[r * gl + p] == iv[r * il + p];
        }
        if (!same) {
          break;
        }
        p++;
      }
    }
    if (p <= 0 || p >= gl) {
      throw new IllegalArgumentException("cannot tell the prompt length of greedy_ids; pass --prompt-length");
    }
    List<int[]> prompts = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      int[] pr = new int[p];
      for (int j = 0; j < p; j++) {
        pr[j] = (int) gv[r * gl + j];
      }
      prompts.add(pr);
    }
    List<int[]> gen = new Generator(model).generate(prompts, null, Generator.Options.greedy(gl - p).withoutEosStop());
    for (int r = 0; r < rows; r++) {
      for (int j = 0; j < gl - p; j++) {
        if (gen.get(r)[j] != gv[r * gl + p + j]) {
          return false;
        }
      }
    }
    return true;
  }
}
