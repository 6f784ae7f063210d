package dev.oppu.model;

import java.util.List;
import java.util.Set;

/**
 * A LoRA configuration in PEFT's terms.
 *
 * @param r rank
 * @param alpha lora_alpha
 * @param dropout lora_dropout, applied to the adapter's input during training only
 * @param targetModules a subset of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj
 * @param useRslora scale by alpha / sqrt(r) instead of alpha / r
 */
public record LoraConfig(int r, double alpha, double dropout, List<String> targetModules, boolean useRslora) {

  /** The seven projections of a Llama layer, in layer order. */
  public static final List<String> ALL_MODULES =
      List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
  private static final Set<String> ATTENTION = Set.of("q_proj", "k_proj", "v_proj", "o_proj");

  public LoraConfig {
    if (r <= 0) {
      throw new IllegalArgumentException("LoRA rank must be positive, got " + r);
    }
    if (dropout < 0 || dropout >= 1) {
      throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
    }
    if (targetModules == null || targetModules.isEmpty()) {
      throw new IllegalArgumentException("LoRA needs at least one target module");
    }
    for (String m : targetModules) {
      if (!ALL_MODULES.contains(m)) {
        throw new IllegalArgumentException("unsupported LoRA target module '" + m + "' (one of " + ALL_MODULES + ")");
      }
    }
    // Canonical order, so equal configs compare equal.
    targetModules = ALL_MODULES.stream().filter(targetModules::contains).toList();
  }

  /** OPPU's per-user recipe: r 8, alpha 8, dropout 0.05 on q_proj and v_proj. */
  public static LoraConfig oppuUser() {
    return new LoraConfig(8, 8, 0.05, List.of("q_proj", "v_proj"), false);
  }

  /** The factor applied to B A x: alpha / r, or alpha / sqrt(r) with rsLoRA. */
  public double scaling() {
    return useRslora ? alpha / Math.sqrt(r) : alpha / r;
  }

  /** The Hugging Face module path of a target in layer {@code layer}, e.g. model.layers.0.self_attn.q_proj. */
  public static String modulePath(int layer, String module) {
    return "model.layers." + layer + (ATTENTION.contains(module) ? ".self_attn." : ".mlp.") + module;
  }
}
