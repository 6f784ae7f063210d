package dev.oppu.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Hyperparameters of a Llama-family decoder, as Hugging Face's {@code config.json} gives them: the shared shape plus
 * the {@link Rope} and the {@link Family} switches (Llama 3.x, Mistral, Qwen2/2.5, Qwen3).
 *
 * @param eosTokenIds one or more end-of-sequence ids (Llama 3 lists several); may be empty
 * @param padTokenId -1 when the config has none
 */
public record LlamaConfig(
    int vocabSize,
    int hiddenSize,
    int intermediateSize,
    int numLayers,
    int numHeads,
    int numKvHeads,
    int headDim,
    int maxPositions,
    double rmsNormEps,
    Rope rope,
    boolean tieWordEmbeddings,
    int bosTokenId,
    int[] eosTokenIds,
    int padTokenId,
    Family family) {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  public static final String FILE = "config.json";

  public LlamaConfig {
    if (numHeads <= 0 || numKvHeads <= 0 || numHeads % numKvHeads != 0) {
      throw new IllegalArgumentException(
          "num_attention_heads (" + numHeads + ") must be a positive multiple of num_key_value_heads (" + numKvHeads + ")");
    }
    if (headDim <= 0 || headDim % 2 != 0) {
      throw new IllegalArgumentException("head_dim must be positive and even, got " + headDim);
    }
    if (vocabSize <= 0 || hiddenSize <= 0 || intermediateSize <= 0 || numLayers <= 0) {
      throw new IllegalArgumentException("sizes must be positive: " + vocabSize + "/" + hiddenSize + "/"
          + intermediateSize + "/" + numLayers);
    }
    eosTokenIds = eosTokenIds == null ? new int[0] : eosTokenIds.clone();
    family = family == null ? Family.llama() : family;
    for (int layer : family.windowedLayers()) {
      if (layer >= numLayers) {
        throw new IllegalArgumentException("windowed layer " + layer + " of " + numLayers);
      }
    }
  }

  /** A Llama config (the form before families); {@code ropeScalingType} "default" or "linear". */
  public LlamaConfig(int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads, int numKvHeads,
      int headDim, int maxPositions, double rmsNormEps, double ropeTheta, String ropeScalingType,
      double ropeScalingFactor, boolean tieWordEmbeddings, int bosTokenId, int[] eosTokenIds, int padTokenId) {
    this(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim, maxPositions, rmsNormEps,
        new Rope(ropeScalingType, ropeTheta, ropeScalingFactor, 0, 0, 0), tieWordEmbeddings, bosTokenId, eosTokenIds,
        padTokenId, Family.llama());
  }

  /** This config with another family (e.g. {@code Family.qwen2()} for a Qwen2-shaped test model). */
  public LlamaConfig withFamily(Family f) {
    return new LlamaConfig(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
        maxPositions, rmsNormEps, rope, tieWordEmbeddings, bosTokenId, eosTokenIds, padTokenId, f);
  }

  /** This config with another rotary embedding. */
  public LlamaConfig withRope(Rope r) {
    return new LlamaConfig(vocabSize, hiddenSize, intermediateSize, numLayers, numHeads, numKvHeads, headDim,
        maxPositions, rmsNormEps, r, tieWordEmbeddings, bosTokenId, eosTokenIds, padTokenId, family);
  }

  public double ropeTheta() {
    return rope.theta();
  }

  /** "default", "linear" or "llama3". */
  public String ropeScalingType() {
    return rope.type();
  }

  public double ropeScalingFactor() {
    return rope.factor();
  }

  /** A plain config: no rope scaling, bos 1, eos 2, pad 0, head_dim = hidden / heads. */
  public static LlamaConfig of(int vocab, int hidden, int intermediate, int layers, int heads, int kvHeads,
      int maxPositions, double ropeTheta, boolean tied) {
    return new LlamaConfig(vocab, hidden, intermediate, layers, heads, kvHeads, hidden / heads, maxPositions, 1e-5,
        ropeTheta, "default", 1.0, tied, 1, new int[] {2}, 0);
  }

  /**
   * The project's default base model: small enough that a per-user LoRA update (~100 examples x 2 epochs of ~200
   * tokens) takes seconds on 2 CPU cores. About 3.9 M parameters, 1 M of them the tied embedding.
   */
  public static LlamaConfig defaultSmall() {
    return of(4096, 256, 688, 4, 8, 4, 1024, 10000.0, true);
  }

  /** The shape of HuggingFaceTB/SmolLM2-135M (weights are not shipped; used for benchmarks with random weights). */
  public static LlamaConfig smolLm2_135M() {
    return new LlamaConfig(49152, 576, 1536, 30, 9, 3, 64, 8192, 1e-5, 100000.0, "default", 1.0, true, 0,
        new int[] {0}, 0);
  }

  /**
   * The shape of Qwen/Qwen2.5-0.5B (qwen2: q/k/v biases, rope theta 1e6, tied embeddings, no sliding window; 494 M
   * parameters). Weights are not shipped: {@code oppu bench load} writes random ones of this shape.
   */
  public static LlamaConfig qwen25_05B() {
    return new LlamaConfig(151936, 896, 4864, 24, 14, 2, 64, 32768, 1e-6, Rope.plain(1e6), true, 151643,
        new int[] {151643}, -1, Family.qwen2());
  }

  public int kvDim() {
    return numKvHeads * headDim;
  }

  public int qDim() {
    return numHeads * headDim;
  }

  /** Input and output width of a projection module ("q_proj", ..., "down_proj"). */
  public int[] projectionShape(String module) {
    return switch (module) {
      case "q_proj" -> new int[] {hiddenSize, qDim()};
      case "k_proj", "v_proj" -> new int[] {hiddenSize, kvDim()};
      case "o_proj" -> new int[] {qDim(), hiddenSize};
      case "gate_proj", "up_proj" -> new int[] {hiddenSize, intermediateSize};
      case "down_proj" -> new int[] {intermediateSize, hiddenSize};
      default -> throw new IllegalArgumentException("unknown projection module '" + module + "'");
    };
  }

  /**
   * Every weight by Hugging Face name with its shape, in checkpoint order: what a checkpoint of this config holds
   * (the family adds biases and q/k norms to the shared layout).
   */
  public Map<String, long[]> weightShapes() {
    Map<String, long[]> s = new LinkedHashMap<>();
    long h = hiddenSize;
    s.put("model.embed_tokens.weight", new long[] {vocabSize, h});
    for (int l = 0; l < numLayers; l++) {
      String p = "model.layers." + l + ".";
      s.put(p + "input_layernorm.weight", new long[] {h});
      s.put(p + "post_attention_layernorm.weight", new long[] {h});
      for (String mod : LoraConfig.ALL_MODULES) {
        int[] io = projectionShape(mod);
        s.put(LoraConfig.modulePath(l, mod) + ".weight", new long[] {io[1], io[0]}); // [out, in]
        if (family.hasBias(mod)) {
          s.put(LoraConfig.modulePath(l, mod) + ".bias", new long[] {io[1]});
        }
      }
      if (family.qkNorm()) {
        s.put(p + "self_attn.q_norm.weight", new long[] {headDim});
        s.put(p + "self_attn.k_norm.weight", new long[] {headDim});
      }
    }
    s.put("model.norm.weight", new long[] {h});
    if (!tieWordEmbeddings) {
      s.put("lm_head.weight", new long[] {vocabSize, h});
    }
    return s;
  }

  /** Number of weights (embedding and untied head counted once each). */
  public long parameterCount() {
    return weightShapes().values().stream().mapToLong(d -> Arrays.stream(d).reduce(1, (a, b) -> a * b)).sum();
  }

  /** Reads {@code dir/config.json}; rope given as {@code rope_theta} + {@code rope_scaling} or {@code rope_parameters}. */
  public static LlamaConfig load(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "model config not found");
    }
    return fromJson(JSON.readTree(file.toFile()), file.toString());
  }

  /** Reads a config.json tree with transformers' defaults for its model_type; {@code where} names it in errors. */
  static LlamaConfig fromJson(JsonNode n, String where) {
    try {
      String type = n.path("model_type").asText("llama");
      if (!Family.SUPPORTED.contains(type)) { // before anything else: a GPT-2 config has no num_hidden_layers
        throw new IllegalArgumentException(Family.unsupported(type));
      }
      String act = n.path("hidden_act").asText("silu");
      if (!act.equals("silu")) {
        throw new IllegalArgumentException("unsupported hidden_act '" + act + "' (silu only)");
      }
      int layers = req(n, "num_hidden_layers");
      Family family = Family.fromJson(n, layers);
      int hidden = req(n, "hidden_size");
      int heads = req(n, "num_attention_heads");
      int kv = n.path("num_key_value_heads").isNumber() ? n.get("num_key_value_heads").asInt() : heads;
      // Qwen3Config defaults head_dim to 128; the others to hidden / heads
      int headDim = n.path("head_dim").isNumber() ? n.get("head_dim").asInt()
          : family.modelType().equals("qwen3") ? 128 : hidden / heads;
      return new LlamaConfig(req(n, "vocab_size"), hidden, req(n, "intermediate_size"), layers, heads, kv, headDim,
          n.path("max_position_embeddings").asInt(2048), n.path("rms_norm_eps").asDouble(1e-6), Rope.fromJson(n),
          // transformers' Llama, Mistral and Qwen configs default to an untied head
          n.path("tie_word_embeddings").asBoolean(false),
          n.path("bos_token_id").isNumber() ? n.get("bos_token_id").asInt() : -1, ids(n.path("eos_token_id")),
          n.path("pad_token_id").isNumber() ? n.get("pad_token_id").asInt() : -1, family);
    } catch (IllegalArgumentException ex) {
      throw new IllegalArgumentException(where + ": " + ex.getMessage(), ex);
    }
  }

  /** A token id or a list of them (Llama 3's eos_token_id); none when absent or null. */
  private static int[] ids(JsonNode e) {
    if (e.isArray()) {
      int[] out = new int[e.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = e.get(i).asInt();
      }
      return out;
    }
    return e.isNumber() ? new int[] {e.asInt()} : new int[0];
  }

  private static int req(JsonNode n, String field) {
    if (!n.path(field).isNumber()) {
      throw new IllegalArgumentException("missing or non-numeric '" + field + "'");
    }
    return n.get(field).asInt();
  }

  /** Writes {@code dir/config.json} in Hugging Face's form (transformers reads it as the family's ForCausalLM). */
  public void save(Path dir) throws IOException {
    ObjectNode n = JSON.createObjectNode();
    family.toJson(n, numLayers);
    n.put("attention_dropout", 0.0);
    if (bosTokenId >= 0) {
      n.put("bos_token_id", bosTokenId);
    }
    if (eosTokenIds.length == 1) {
      n.put("eos_token_id", eosTokenIds[0]);
    } else if (eosTokenIds.length > 1) {
      Arrays.stream(eosTokenIds).forEach(n.putArray("eos_token_id")::add);
    }
    n.put("head_dim", headDim);
    n.put("hidden_act", "silu");
    n.put("hidden_size", hiddenSize);
    n.put("initializer_range", 0.02);
    n.put("intermediate_size", intermediateSize);
    n.put("max_position_embeddings", maxPositions);
    n.put("num_attention_heads", numHeads);
    n.put("num_hidden_layers", numLayers);
    n.put("num_key_value_heads", numKvHeads);
    if (padTokenId >= 0) {
      n.put("pad_token_id", padTokenId);
    } else {
      n.putNull("pad_token_id");
    }
    n.put("rms_norm_eps", rmsNormEps);
    rope.toJson(n);
    n.put("tie_word_embeddings", tieWordEmbeddings);
    n.put("dtype", "float32");
    n.put("torch_dtype", "float32");
    n.put("use_cache", true);
    n.put("vocab_size", vocabSize);
    Files.createDirectories(dir);
    JSON.writeValue(dir.resolve(FILE).toFile(), n);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof LlamaConfig c && c.toString().equals(toString());
  }

  @Override
  public int hashCode() {
    return toString().hashCode();
  }

  @Override
  public String toString() {
    // Plain Llama configs print as they did before families (a model's fingerprint hashes this text).
    String fam = family.equals(Family.llama()) ? "" : ", family=" + family;
    return "LlamaConfig[vocab=" + vocabSize + ", hidden=" + hiddenSize + ", intermediate=" + intermediateSize
        + ", layers=" + numLayers + ", heads=" + numHeads + ", kvHeads=" + numKvHeads + ", headDim=" + headDim
        + ", maxPositions=" + maxPositions + ", eps=" + rmsNormEps + ", ropeTheta=" + rope.theta() + ", rope="
        + rope + ", tied=" + tieWordEmbeddings + ", bos=" + bosTokenId
        + ", eos=" + Arrays.toString(eosTokenIds) + ", pad=" + padTokenId + fam + "]";
  }
}
