package dev.oppu.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What one model family changes in the shared decoder ({@link LlamaModel}): a bias here, a norm there, a window.
 * Everything else (RMSNorm, rotary embedding, grouped-query attention, SwiGLU MLP, weight names) is common to the
 * four families. Read from config.json as transformers' configuration classes read it.
 *
 * @param modelType llama, mistral, qwen2 or qwen3
 * @param biasedModules projections with a bias: Qwen2 q/k/v; Llama's attention_bias q/k/v/o, mlp_bias gate/up/down
 * @param qkNorm Qwen3: RMSNorm over each head's query and key (head_dim wide) before the rotary embedding
 * @param slidingWindow keys a query sees in a windowed layer, itself included; 0 for none
 * @param windowedLayers the layers the window applies to (Mistral: all; Qwen2/3: {@code layer_types})
 */
public record Family(String modelType, Set<String> biasedModules, boolean qkNorm, int slidingWindow,
    List<Integer> windowedLayers) {

  /** model_type values this decoder runs, with the class transformers loads for each. */
  public static final List<String> SUPPORTED = List.of("llama", "mistral", "qwen2", "qwen3");
  private static final List<String> CLASSES =
      List.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM");
  private static final List<String> QKV = List.of("q_proj", "k_proj", "v_proj");
  private static final List<String> ATTENTION = List.of("q_proj", "k_proj", "v_proj", "o_proj");
  private static final List<String> MLP = List.of("gate_proj", "up_proj", "down_proj");

  public Family {
    if (!SUPPORTED.contains(modelType)) {
      throw new IllegalArgumentException(unsupported(modelType));
    }
    biasedModules = Set.copyOf(new TreeSet<>(biasedModules));
    windowedLayers = List.copyOf(new TreeSet<>(windowedLayers));
    if (slidingWindow < 0 || (slidingWindow == 0) != windowedLayers.isEmpty()) {
      throw new IllegalArgumentException("a sliding window (" + slidingWindow + ") needs windowed layers and back");
    }
  }

  public static Family llama() {
    return new Family("llama", Set.of(), false, 0, List.of());
  }

  public static Family qwen2() {
    return new Family("qwen2", Set.copyOf(QKV), false, 0, List.of());
  }

  public static Family qwen3() {
    return new Family("qwen3", Set.of(), true, 0, List.of());
  }

  /** Mistral with its window over every layer (0: none, as Mistral 7B v0.2 on). */
  public static Family mistral(int slidingWindow, int numLayers) {
    return new Family("mistral", Set.of(), false, slidingWindow, slidingWindow == 0 ? List.of() : range(0, numLayers));
  }

  /** This family with a window over the given layers (e.g. Qwen2's layers from max_window_layers on). */
  public Family withWindow(int window, List<Integer> layers) {
    return new Family(modelType, biasedModules, qkNorm, window, window == 0 ? List.of() : layers);
  }

  /** The window of a layer, 0 when it attends to everything before it. */
  public int window(int layer) {
    return windowedLayers.contains(layer) ? slidingWindow : 0;
  }

  public boolean hasBias(String module) {
    return biasedModules.contains(module);
  }

  static String unsupported(String modelType) {
    return "unsupported architecture: model_type '" + modelType + "' (supported: " + String.join(", ", SUPPORTED)
        + "; mixture-of-experts, Gemma, Phi and other families are not)";
  }

  /** The family of a config.json; refuses what the decoder would compute differently from transformers. */
  static Family fromJson(JsonNode n, int numLayers) {
    String type = n.path("model_type").asText("llama");
    if (!SUPPORTED.contains(type)) {
      throw new IllegalArgumentException(unsupported(type));
    }
    JsonNode arch = n.path("architectures");
    String expected = CLASSES.get(SUPPORTED.indexOf(type));
    if (arch.isArray() && arch.size() > 0 && !expected.equals(arch.get(0).asText())) {
      throw new IllegalArgumentException("unsupported architecture " + arch + " for model_type '" + type
          + "' (only " + expected + ")");
    }
    Set<String> biased = new TreeSet<>();
    boolean attentionBias = n.path("attention_bias").asBoolean(false);
    switch (type) {
      case "qwen2" -> biased.addAll(QKV); // fixed in Qwen2Attention, whatever attention_bias says
      case "llama", "qwen3" -> {
        if (attentionBias) {
          biased.addAll(ATTENTION);
        }
      }
      default -> { } // Mistral's projections have no bias
    }
    if (type.equals("llama") && n.path("mlp_bias").asBoolean(false)) {
      biased.addAll(MLP);
    }
    int window = 0;
    List<Integer> layers = List.of();
    JsonNode sw = n.path("sliding_window");
    if (type.equals("mistral")) {
      // MistralConfig: a missing sliding_window means 4096, null means none; every layer is windowed
      if (sw.isNumber() || sw.isMissingNode()) {
        window = sw.isNumber() ? sw.asInt() : 4096;
        layers = range(0, numLayers);
      }
    } else if (type.startsWith("qwen") && n.path("use_sliding_window").asBoolean(false)) {
      // Qwen2Config: sliding_window (default 4096) counts only with use_sliding_window; layer_types, or else every
      // layer from max_window_layers (default 28) on, says where
      window = sw.isNumber() ? sw.asInt() : 4096;
      JsonNode types = n.path("layer_types");
      List<Integer> l = new ArrayList<>();
      if (types.isArray()) {
        for (int i = 0; i < types.size(); i++) {
          String t = types.get(i).asText();
          if (t.equals("sliding_attention")) {
            l.add(i);
          } else if (!t.equals("full_attention")) {
            throw new IllegalArgumentException("unsupported layer type '" + t + "'");
          }
        }
      } else {
        l = range(n.path("max_window_layers").asInt(28), numLayers);
      }
      layers = l;
    }
    if (window != 0 && layers.isEmpty()) {
      window = 0; // a window that names no layer changes nothing
    }
    if (window < 0) {
      throw new IllegalArgumentException("sliding_window must be positive, got " + window);
    }
    return new Family(type, biased, type.equals("qwen3"), window, layers);
  }

  /** Writes the fields transformers reads for this family (architectures, model_type, biases, window). */
  void toJson(ObjectNode n, int numLayers) {
    n.putArray("architectures").add(CLASSES.get(SUPPORTED.indexOf(modelType)));
    n.put("model_type", modelType);
    if (!modelType.equals("qwen2") && !modelType.equals("mistral")) {
      n.put("attention_bias", biasedModules.contains("q_proj"));
    }
    if (modelType.equals("llama")) {
      n.put("mlp_bias", biasedModules.contains("gate_proj"));
    }
    if (modelType.equals("mistral")) {
      if (slidingWindow == 0) {
        n.putNull("sliding_window");
      } else {
        n.put("sliding_window", slidingWindow);
      }
    } else if (modelType.startsWith("qwen")) {
      n.put("use_sliding_window", slidingWindow != 0);
      if (slidingWindow == 0) {
        n.putNull("sliding_window");
      } else {
        n.put("sliding_window", slidingWindow);
      }
      n.put("max_window_layers", windowedLayers.isEmpty() ? numLayers : windowedLayers.get(0));
      var types = n.putArray("layer_types");
      for (int i = 0; i < numLayers; i++) {
        types.add(windowedLayers.contains(i) ? "sliding_attention" : "full_attention");
      }
    }
  }

  private static List<Integer> range(int from, int to) {
    List<Integer> l = new ArrayList<>();
    for (int i = from; i < to; i++) {
      l.add(i);
    }
    return l;
  }

  @Override
  public String toString() {
    return modelType + (biasedModules.isEmpty() ? "" : ", bias=" + new TreeSet<>(biasedModules))
        + (qkNorm ? ", qkNorm" : "") + (slidingWindow == 0 ? "" : ", window=" + slidingWindow + " on "
        + windowedLayers);
  }
}
