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

/**
 * Hyperparameters of a Llama-family decoder, as Hugging Face's {@code config.json} gives them.
 *
 * @param ropeScalingType "default" (none) or "linear" (positions divided by {@code ropeScalingFactor})
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
    double ropeTheta,
    String ropeScalingType,
    double ropeScalingFactor,
    boolean tieWordEmbeddings,
    int bosTokenId,
    int[] eosTokenIds,
    int padTokenId) {

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
    if (!ropeScalingType.equals("default") && !ropeScalingType.equals("linear")) {
      throw new IllegalArgumentException("unsupported rope type '" + ropeScalingType + "' (default, linear)");
    }
    eosTokenIds = eosTokenIds == null ? new int[0] : eosTokenIds.clone();
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

  /** Number of weights (embedding and untied head counted once each). */
  public long parameterCount() {
    long perLayer = 2L * hiddenSize
        + (long) hiddenSize * qDim() * 2 + (long) hiddenSize * kvDim() * 2
        + 3L * hiddenSize * intermediateSize;
    return (long) vocabSize * hiddenSize * (tieWordEmbeddings ? 1 : 2) + numLayers * perLayer + hiddenSize;
  }

  /** Reads {@code dir/config.json}; rope given as {@code rope_theta} or as {@code rope_parameters}. */
  public static LlamaConfig load(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "model config not found");
    }
    return fromJson(JSON.readTree(file.toFile()), file.toString());
  }

  static LlamaConfig fromJson(JsonNode n, String where) {
    String type = n.path("model_type").asText("llama");
    JsonNode arch = n.path("architectures");
    boolean archOk = arch.isMissingNode() || arch.isNull() || arch.size() == 0
        || "LlamaForCausalLM".equals(arch.get(0).asText());
    if (!type.equals("llama") || !archOk) {
      throw new IllegalArgumentException(where + ": unsupported architecture (model_type '" + type
          + "', architectures " + arch + "); only LlamaForCausalLM is supported");
    }
    if (n.path("attention_bias").asBoolean(false) || n.path("mlp_bias").asBoolean(false)) {
      throw new IllegalArgumentException(where + ": attention_bias / mlp_bias are not supported");
    }
    String act = n.path("hidden_act").asText("silu");
    if (!act.equals("silu")) {
      throw new IllegalArgumentException(where + ": unsupported hidden_act '" + act + "' (silu only)");
    }
    int hidden = req(n, "hidden_size", where);
    int heads = req(n, "num_attention_heads", where);
    int kv = n.path("num_key_value_heads").isNumber() ? n.get("num_key_value_heads").asInt() : heads;
    int headDim = n.path("head_dim").isNumber() ? n.get("head_dim").asInt() : hidden / heads;
    JsonNode ropeParams = n.path("rope_parameters");
    JsonNode scaling = n.path("rope_scaling");
    double theta = n.path("rope_theta").asDouble(10000.0);
    String ropeType = "default";
    double factor = 1.0;
    if (ropeParams.isObject()) {
      theta = ropeParams.path("rope_theta").asDouble(theta);
      ropeType = ropeParams.path("rope_type").asText("default");
      factor = ropeParams.path("factor").asDouble(1.0);
    } else if (scaling.isObject()) {
      ropeType = scaling.path("rope_type").asText(scaling.path("type").asText("default"));
      factor = scaling.path("factor").asDouble(1.0);
    }
    int[] eos;
    JsonNode e = n.path("eos_token_id");
    if (e.isArray()) {
      eos = new int[e.size()];
      for (int i = 0; i < eos.length; i++) {
        eos[i] = e.get(i).asInt();
      }
    } else {
      eos = e.isNumber() ? new int[] {e.asInt()} : new int[0];
    }
    try {
      return new LlamaConfig(req(n, "vocab_size", where), hidden, req(n, "intermediate_size", where),
          req(n, "num_hidden_layers", where), heads, kv, headDim, n.path("max_position_embeddings").asInt(2048),
          n.path("rms_norm_eps").asDouble(1e-6), theta, ropeType, factor,
          n.path("tie_word_embeddings").asBoolean(true),
          n.path("bos_token_id").isNumber() ? n.get("bos_token_id").asInt() : -1, eos,
          n.path("pad_token_id").isNumber() ? n.get("pad_token_id").asInt() : -1);
    } catch (IllegalArgumentException ex) {
      throw new IllegalArgumentException(where + ": " + ex.getMessage(), ex);
    }
  }

  private static int req(JsonNode n, String field, String where) {
    if (!n.path(field).isNumber()) {
      throw new IllegalArgumentException(where + ": missing or non-numeric '" + field + "'");
    }
    return n.get(field).asInt();
  }

  /** Writes {@code dir/config.json} in Hugging Face's form (transformers reads it as a LlamaForCausalLM). */
  public void save(Path dir) throws IOException {
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add("LlamaForCausalLM");
    n.put("attention_bias", false);
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
    n.put("mlp_bias", false);
    n.put("model_type", "llama");
    n.put("num_attention_heads", numHeads);
    n.put("num_hidden_layers", numLayers);
    n.put("num_key_value_heads", numKvHeads);
    if (padTokenId >= 0) {
      n.put("pad_token_id", padTokenId);
    } else {
      n.putNull("pad_token_id");
    }
    n.put("rms_norm_eps", rmsNormEps);
    ObjectNode rope = n.putObject("rope_parameters");
    rope.put("rope_theta", ropeTheta);
    rope.put("rope_type", ropeScalingType);
    if (ropeScalingType.equals("linear")) {
      rope.put("factor", ropeScalingFactor);
    }
    n.put("rope_theta", ropeTheta); // older transformers read this one
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
    return "LlamaConfig[vocab=" + vocabSize + ", hidden=" + hiddenSize + ", intermediate=" + intermediateSize
        + ", layers=" + numLayers + ", heads=" + numHeads + ", kvHeads=" + numKvHeads + ", headDim=" + headDim
        + ", maxPositions=" + maxPositions + ", eps=" + rmsNormEps + ", ropeTheta=" + ropeTheta + ", rope="
        + ropeScalingType + "x" + ropeScalingFactor + ", tied=" + tieWordEmbeddings + ", bos=" + bosTokenId
        + ", eos=" + Arrays.toString(eosTokenIds) + ", pad=" + padTokenId + "]";
  }
}
