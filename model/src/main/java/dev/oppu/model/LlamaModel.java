package dev.oppu.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A Llama-family causal decoder (RMSNorm, rotary embeddings, SwiGLU MLP, grouped-query attention, optional tied
 * embeddings) written functionally over NDArrays on DJL's PyTorch engine, with Hugging Face's weight names. The
 * config's {@link Family} switches the few places the families differ: projection biases ({@code proj}), Qwen3's
 * per-head q/k norm and the sliding window ({@code attention}, {@code attentionBias}). LoRA is applied per forward
 * pass ({@link LoraBatch}) or merged into the weights ({@link #merge}).
 *
 * <p>Every forward pass runs inside its own {@link NDScope}: intermediates are freed when it returns, the result is
 * handed to the caller's scope (if any).
 */
public final class LlamaModel implements AutoCloseable {

  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final float MASKED = -1e9f;

  private final LlamaConfig config;
  private final NDManager manager;
  private final Map<String, NDArray> weights;
  private final NDArray invFreq; // [headDim / 2]
  private final List<LoraAdapter> merged = new ArrayList<>();

  private LlamaModel(LlamaConfig config, NDManager manager, Map<String, NDArray> weights) {
    this.config = config;
    this.manager = manager;
    this.weights = weights;
    // As transformers computes it, in float32: 1 / theta^(arange(0, d, 2) / d), then the rope type's scaling.
    int d = config.headDim();
    try (NDManager tmp = manager.newSubManager()) {
      NDArray exponent = tmp.arange(0, d, 2, DataType.INT64).toType(DataType.FLOAT32, false).div((float) d);
      NDArray pow = tmp.create((float) config.ropeTheta()).pow(exponent);
      float[] inv = tmp.ones(pow.getShape()).div(pow).toFloatArray();
      this.invFreq = manager.create(config.rope().scale(inv)); // [D/2]
    }
  }

  // ------------------------------------------------------------------ construction and I/O

  /** Loads a Hugging Face checkpoint directory (config.json + model.safetensors or a sharded index). */
  public static LlamaModel load(Path dir, NDManager parent) throws IOException {
    MallocCheck.once();
    if (!Files.isDirectory(dir)) {
      throw new java.nio.file.NoSuchFileException(dir.toString(), null, "model directory not found");
    }
    LlamaConfig config = LlamaConfig.load(dir);
    Map<String, long[]> expected = config.weightShapes();
    List<String> unused = Safetensors.tensorNames(dir).stream()
        .filter(k -> !expected.containsKey(k) && !k.equals("lm_head.weight") && !k.endsWith("rotary_emb.inv_freq"))
        .toList();
    if (!unused.isEmpty()) {
      // e.g. biases or q/k norms under a config that does not name them: running without them would be wrong
      throw new IllegalArgumentException(dir + ": the checkpoint holds tensors its config.json does not use ("
          + config.family().modelType() + "): " + (unused.size() > 5 ? unused.subList(0, 5) + "..." : unused));
    }
    NDManager m = parent.newSubManager();
    try {
      // only the tensors the config uses (a tied lm_head copy is never read), one at a time, converted to float32
      return fromWeights(config, Safetensors.readCheckpoint(dir, m, expected::containsKey), m);
    } catch (IOException | RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /** Wraps weights by Hugging Face name; checks every name and shape the config implies. */
  static LlamaModel fromWeights(LlamaConfig c, Map<String, NDArray> tensors, NDManager m) {
    Map<String, long[]> expected = c.weightShapes();
    Map<String, NDArray> w = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      NDArray a = tensors.get(e.getKey());
      if (a == null) {
        throw new IllegalArgumentException("checkpoint lacks tensor " + e.getKey());
      }
      if (!Arrays.equals(a.getShape().getShape(), e.getValue())) {
        throw new IllegalArgumentException("shape mismatch for " + e.getKey() + ": checkpoint " + a.getShape()
            + ", config implies " + new Shape(e.getValue()));
      }
      if (a.getDataType() != DataType.FLOAT32) {
        throw new IllegalArgumentException(e.getKey() + " is " + a.getDataType() + ", expected a float tensor");
      }
      w.put(e.getKey(), a);
    }
    tensors.forEach((k, a) -> {
      if (!w.containsKey(k)) {
        a.close(); // e.g. a tied lm_head.weight copy, rotary inv_freq buffers
      }
    });
    return new LlamaModel(c, m, w);
  }

  /** Random weights as transformers initializes them (normal(0, 0.02), norms 1, biases 0); deterministic by seed. */
  public static LlamaModel random(LlamaConfig c, long seed, NDManager parent) {
    NDManager m = parent.newSubManager();
    SplittableRandom rnd = new SplittableRandom(seed);
    Map<String, NDArray> w = new LinkedHashMap<>();
    c.weightShapes().forEach((name, shape) -> {
      Shape s = new Shape(shape);
      if (name.endsWith("norm.weight")) {
        w.put(name, m.ones(s));
      } else if (name.endsWith(".bias")) {
        w.put(name, m.zeros(s));
      } else {
        float[] v = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < v.length; i++) {
          v[i] = (float) (rnd.nextGaussian() * 0.02);
        }
        w.put(name, m.create(v, s));
      }
    });
    return new LlamaModel(c, m, w);
  }

  /** Hugging Face's default shard size limit. */
  public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

  /**
   * Writes config.json, generation_config.json and the float32 weights in Hugging Face's layout: model.safetensors,
   * or shards with model.safetensors.index.json beyond 5 GB.
   */
  public void save(Path dir) throws IOException {
    save(dir, DEFAULT_MAX_SHARD_BYTES);
  }

  /** As {@link #save(Path)}, sharding when the weights exceed {@code maxShardBytes}. */
  public void save(Path dir, long maxShardBytes) throws IOException {
    Files.createDirectories(dir);
    config.save(dir);
    writeGenerationConfig(dir, config);
    Safetensors.writeCheckpoint(dir, weights, maxShardBytes);
  }

  /** {@code generation_config.json} as {@code save_pretrained} writes it: bos, eos (one id or a list) and pad. */
  static void writeGenerationConfig(Path dir, LlamaConfig config) throws IOException {
    ObjectNode gen = JSON.createObjectNode();
    if (config.bosTokenId() >= 0) {
      gen.put("bos_token_id", config.bosTokenId());
    }
    if (config.eosTokenIds().length == 1) {
      gen.put("eos_token_id", config.eosTokenIds()[0]);
    } else if (config.eosTokenIds().length > 1) {
      Arrays.stream(config.eosTokenIds()).forEach(gen.putArray("eos_token_id")::add);
    }
    if (config.padTokenId() >= 0) {
      gen.put("pad_token_id", config.padTokenId());
    }
    JSON.writeValue(dir.resolve("generation_config.json").toFile(), gen);
  }

  public LlamaConfig config() {
    return config;
  }

  /** The manager owning the weights; adapters and caches may hang sub-managers off it. */
  public NDManager manager() {
    return manager;
  }

  /** Weights by Hugging Face name (live arrays: do not close). */
  public Map<String, NDArray> weights() {
    return Collections.unmodifiableMap(weights);
  }

  /**
   * SHA-256 (hex) over the config and every weight (name, shape, little-endian float32 bytes, in name order):
   * an adapter records the fingerprint of the base it was trained on. Merging an adapter changes it.
   */
  public String fingerprint() {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(config.toString().getBytes(StandardCharsets.UTF_8));
      for (Map.Entry<String, NDArray> e : new TreeMap<>(weights).entrySet()) {
        md.update(e.getKey().getBytes(StandardCharsets.UTF_8));
        md.update(e.getValue().getShape().toString().getBytes(StandardCharsets.UTF_8));
        ByteBuffer b = e.getValue().toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        md.update(b);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ merge / unmerge

  /** W += scaling * B A for every module of the adapter (PEFT's merge). */
  public synchronized void merge(LoraAdapter adapter) {
    if (merged.contains(adapter)) {
      throw new IllegalStateException("adapter already merged");
    }
    applyDelta(adapter, 1f);
    merged.add(adapter);
  }

  /** Undoes {@link #merge} (W -= scaling * B A); exact up to float32 rounding. */
  public synchronized void unmerge(LoraAdapter adapter) {
    if (!merged.remove(adapter)) {
      throw new IllegalStateException("adapter is not merged into this model");
    }
    applyDelta(adapter, -1f);
  }

  /** Adapters currently merged into the weights. */
  public synchronized List<LoraAdapter> mergedAdapters() {
    return List.copyOf(merged);
  }

  private void applyDelta(LoraAdapter adapter, float sign) {
    for (String p : adapter.modulePaths()) {
      NDArray w = weights.get(p + ".weight");
      if (w == null || !Arrays.equals(w.getShape().getShape(),
          new long[] {adapter.b(p).getShape().get(0), adapter.a(p).getShape().get(1)})) {
        throw new IllegalArgumentException("adapter module " + p + " does not fit this model");
      }
    }
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      for (String p : adapter.modulePaths()) {
        // In float64, rounded to float32 once: W + s B A rounded twice moved the logits of the Qwen2 fixture
        // (all seven projections, scaling 4) past 1e-4. The bias, if any, stays as it is (PEFT merges weights only).
        NDArray w = weights.get(p + ".weight");
        NDArray delta = adapter.b(p).toType(DataType.FLOAT64, false)
            .matMul(adapter.a(p).toType(DataType.FLOAT64, false)).mul(adapter.scaling() * sign); // [out, in]
        w.toType(DataType.FLOAT64, false).add(delta).toType(DataType.FLOAT32, false).copyTo(w);
      }
    }
  }

  // ------------------------------------------------------------------ forward

  /**
   * Logits of a batch.
   *
   * @param inputIds [B, T] int64, the new tokens (after the cached ones, if any)
   * @param attentionMask [B, S] int64/float/bool with 1 for real tokens, 0 for padding, S = cached + T; null: all real
   * @param positionIds [B, T] int64; null: counted from the mask (cumsum - 1, as generate does) or from the cache
   * @param lora adapters of this pass, or null
   * @param cache filled with this pass's keys and values when not null
   * @param lastOnly compute logits of the last position only ([B, 1, V]), as generation needs
   * @param training enables LoRA dropout
   * @return logits [B, T, V] float32 (or [B, 1, V])
   */
  public NDArray forward(NDArray inputIds, NDArray attentionMask, NDArray positionIds, LoraBatch lora,
      KvCache cache, boolean lastOnly, boolean training) {
    NDArray logits;
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      logits = forwardInScope(inputIds, attentionMask, positionIds, lora, cache, lastOnly, training);
      NDScope.unregister(logits);
    }
    NDScope.register(logits); // belongs to the caller's scope, if any
    return logits;
  }

  /** Logits [B, T, V] with no mask, cache or adapter. */
  public NDArray forward(NDArray inputIds) {
    return forward(inputIds, null, null, null, null, false, false);
  }

  /**
   * Logits at some positions only, without cache or mask (right-padded batches): {@code positions} are flat indices
   * {@code b * T + t} into the [B, T] input. A training loss counts the answer tokens only, and the LM head with its
   * softmax over every other position would be about a quarter of the work.
   *
   * @return logits [K, V] float32, row k for position {@code positions[k]}
   */
  public NDArray forwardAt(NDArray inputIds, LoraBatch lora, boolean training, NDArray positions) {
    NDArray logits;
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray h = hidden(inputIds, null, null, lora, null, training);                 // [B, T, H]
      long hs = h.getShape().get(2);
      NDArray idx = positions.toType(DataType.INT64, false).expandDims(1).repeat(1, hs); // [K, H]
      logits = head(h.reshape(-1, hs).gather(idx, 0));                                   // [K, V]
      NDScope.unregister(logits);
    }
    NDScope.register(logits);
    return logits;
  }

  /**
   * Logits of new tokens whose attention is given key by key instead of causal: query t of row b sees key s iff
   * {@code visible[b, t, s]}, keys being the cached ones followed by the new ones (S = cached + T). Lets several
   * continuations of one cached prompt run as one row (a token tree), each token seeing the prompt and its own
   * ancestors only. No LoRA dropout.
   *
   * @param visible         [B, T, S] boolean (or 0/1 integers)
   * @param visibleWindowed the same for the sliding-window layers (the window applied on true positions); required
   *                        when the family has a window, ignored otherwise
   * @param positionIds     [B, T] int64, the true position of each new token
   * @return logits [B, T, V] float32
   */
  NDArray forwardVisible(NDArray inputIds, NDArray visible, NDArray visibleWindowed, NDArray positionIds,
      LoraBatch lora, KvCache cache) {
    long b = inputIds.getShape().get(0);
    long t = inputIds.getShape().get(1);
    long s = (cache == null ? 0 : cache.length()) + t;
    for (NDArray v : new NDArray[] {visible, visibleWindowed}) {
      if (v != null && !v.getShape().equals(new Shape(b, t, s))) {
        throw new IllegalArgumentException("visibility " + v.getShape() + " is not [" + b + ", " + t + ", " + s + "]");
      }
    }
    if (config.family().slidingWindow() != 0 && visibleWindowed == null) {
      throw new IllegalArgumentException("a sliding-window model needs the windowed visibility too");
    }
    NDArray logits;
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray full = additive(visible.toType(DataType.BOOLEAN, false));
      NDArray windowed = config.family().slidingWindow() == 0 ? null
          : additive(visibleWindowed.toType(DataType.BOOLEAN, false));
      logits = head(layers(inputIds, positionIds, full, windowed, lora, cache, false));
      NDScope.unregister(logits);
    }
    NDScope.register(logits);
    return logits;
  }

  private NDArray forwardInScope(NDArray ids, NDArray mask, NDArray pos, LoraBatch lora, KvCache cache,
      boolean lastOnly, boolean training) {
    NDArray h = hidden(ids, mask, pos, lora, cache, training);
    if (lastOnly) {
      h = h.get(":, -1:, :");
    }
    return head(h);
  }

  /** Final norm and LM head: [..., H] -> [..., V]. */
  private NDArray head(NDArray h) {
    NDArray normed = rmsNorm(h, weights.get("model.norm.weight"));
    NDArray head = config.tieWordEmbeddings() ? weights.get("model.embed_tokens.weight") : weights.get("lm_head.weight");
    return Linear.linear(normed, head).singletonOrThrow();
  }

  /** The decoder layers: hidden states [B, T, H] before the final norm. */
  private NDArray hidden(NDArray ids, NDArray mask, NDArray pos, LoraBatch lora, KvCache cache, boolean training) {
    NDManager m = ids.getManager();
    long b = ids.getShape().get(0);
    long t = ids.getShape().get(1);
    long past = cache == null ? 0 : cache.length();
    long s = past + t;
    if (mask != null && (mask.getShape().get(0) != b || mask.getShape().get(1) != s)) {
      throw new IllegalArgumentException("attention mask " + mask.getShape() + " does not cover [" + b + ", " + s + "]");
    }
    NDArray maskBool = mask == null ? null : mask.toType(DataType.BOOLEAN, false); // [B, S]
    if (pos == null) {
      if (maskBool != null) {
        NDArray counted = maskBool.toType(DataType.INT64, false).cumSum(1).sub(1); // [B, S]
        pos = counted.get(":, " + past + ":").maximum(0);
      } else {
        pos = m.arange(past, s, 1, DataType.INT64).expandDims(0).repeat(0, b);
      }
    }

    // Additive masks [B or 1, 1, T, S]: key j visible to query i iff j <= past + i and j is a real token; in a
    // windowed layer also j > past + i - window (transformers' sliding_window_overlay, on cache indices). The cache
    // keeps every key, so cached generation honours the window through this mask too.
    NDArray full = attentionBias(m, maskBool, past, s, 0);
    NDArray windowed = config.family().slidingWindow() == 0 ? null
        : attentionBias(m, maskBool, past, s, config.family().slidingWindow());
    return layers(ids, pos, full, windowed, lora, cache, training);
  }

  /** Embedding and decoder layers with the given additive attention biases [B|1, 1, T, S]. */
  private NDArray layers(NDArray ids, NDArray pos, NDArray full, NDArray windowed, LoraBatch lora, KvCache cache,
      boolean training) {
    long b = ids.getShape().get(0);
    long t = ids.getShape().get(1);
    if (ids.max().toType(DataType.INT64, false).getLong() >= config.vocabSize() || ids.min().toType(DataType.INT64, false).getLong() < 0) {
      throw new IllegalArgumentException("token ids outside the vocabulary [0, " + config.vocabSize() + ")");
    }
    // Rotary tables: cos, sin [B, 1, T, D]
    NDArray freqs = pos.toType(DataType.FLOAT32, false).expandDims(-1).mul(invFreq); // [B, T, D/2]
    NDArray emb = NDArrays.concat(new NDList(freqs, freqs), -1);                      // [B, T, D]
    NDArray cos = emb.cos().expandDims(1);
    NDArray sin = emb.sin().expandDims(1);

    NDArray embed = weights.get("model.embed_tokens.weight");
    NDArray h = ids.getNDArrayInternal().embedding(ids, embed, SparseFormat.DENSE).singletonOrThrow(); // [B, T, H]
    for (int l = 0; l < config.numLayers(); l++) {
      String p = "model.layers." + l + ".";
      NDArray x = rmsNorm(h, weights.get(p + "input_layernorm.weight"));
      NDArray bias = config.family().window(l) == 0 ? full : windowed;
      NDArray attn = attention(l, x, cos, sin, bias, lora, cache, training, b, t);
      h = h.add(attn);
      x = rmsNorm(h, weights.get(p + "post_attention_layernorm.weight"));
      NDArray gate = proj(l, "gate_proj", x, lora, training);
      NDArray up = proj(l, "up_proj", x, lora, training);
      NDArray act = gate.mul(Activation.sigmoid(gate)).mul(up); // SwiGLU: silu(gate) * up
      h = h.add(proj(l, "down_proj", act, lora, training));
    }
    return h;
  }

  /** Additive attention mask [B|1, 1, T, S]: 0 where a query sees a key, MASKED elsewhere. */
  private static NDArray attentionBias(NDManager m, NDArray maskBool, long past, long s, int window) {
    NDArray qpos = m.arange(past, s, 1, DataType.INT64).expandDims(1);  // [T, 1]
    NDArray kpos = m.arange(0, s, 1, DataType.INT64).expandDims(0);     // [1, S]
    NDArray keep = kpos.lte(qpos);                                      // [T, S]
    if (window > 0) {
      keep = keep.logicalAnd(kpos.gt(qpos.sub(window)));                // the window keys, the query's own included
    }
    keep = keep.expandDims(0);                                          // [1, T, S]
    if (maskBool != null) {
      keep = keep.logicalAnd(maskBool.expandDims(1));                   // [B, T, S]
    }
    return additive(keep);
  }

  /** Boolean visibility [B|1, T, S] to the additive mask [B|1, 1, T, S]. */
  private static NDArray additive(NDArray keep) {
    return keep.toType(DataType.FLOAT32, false).sub(1f).mul(-MASKED).expandDims(1);
  }

  private NDArray attention(int l, NDArray x, NDArray cos, NDArray sin, NDArray bias, LoraBatch lora,
      KvCache cache, boolean training, long b, long t) {
    int nh = config.numHeads();
    int nkv = config.numKvHeads();
    int d = config.headDim();
    NDArray q = proj(l, "q_proj", x, lora, training).reshape(b, t, nh, d);   // [B, T, H, D]
    NDArray k = proj(l, "k_proj", x, lora, training).reshape(b, t, nkv, d);  // [B, T, KV, D]
    NDArray v = proj(l, "v_proj", x, lora, training).reshape(b, t, nkv, d);
    if (config.family().qkNorm()) {
      // Qwen3: each head's query and key normalized over head_dim, before the rotary embedding
      String p = "model.layers." + l + ".self_attn.";
      q = rmsNorm(q, weights.get(p + "q_norm.weight"));
      k = rmsNorm(k, weights.get(p + "k_norm.weight"));
    }
    q = q.transpose(0, 2, 1, 3); // [B, H, T, D]
    k = k.transpose(0, 2, 1, 3); // [B, KV, T, D]
    v = v.transpose(0, 2, 1, 3);
    q = rope(q, cos, sin);
    k = rope(k, cos, sin);
    if (cache != null) {
      NDArray[] kv = cache.append(l, k, v);
      k = kv[0];
      v = kv[1];
    }
    long s = k.getShape().get(2);
    // Grouped-query attention without copying keys and values: query head h uses KV head h / rep (HF's repeat_kv),
    // so the rep query heads of one KV head are stacked along the query axis.
    int rep = nh / nkv;
    // The 1/sqrt(d) scale goes on the queries: T x D values instead of T x S.
    // (Scalars, not q.mul(float): autograd keeps the operand, see Scalars)
    NDArray qg = q.mul(Scalars.of(q, 1.0 / Math.sqrt(d))).reshape(b, nkv, rep * t, d);      // [B, KV, rep*T, D]
    NDArray scores = qg.matMul(k.transpose(0, 1, 3, 2))                                      // [B, KV, rep*T, S]
        .reshape(b, nkv, rep, t, s).add(bias.expandDims(1));                                 // [B, KV, rep, T, S]
    NDArray probs = scores.softmax(-1).reshape(b, nkv, rep * t, s);
    NDArray out = probs.matMul(v).reshape(b, nh, t, d);                                      // [B, H, T, D]
    out = out.transpose(0, 2, 1, 3).reshape(b, t, (long) nh * d);
    return proj(l, "o_proj", out, lora, training);
  }

  private NDArray proj(int layer, String module, NDArray x, LoraBatch lora, boolean training) {
    String path = LoraConfig.modulePath(layer, module);
    // x W^T (+ b); LoRA adds to the biased output, as PEFT's LoraLayer does (merging changes W, never b)
    NDArray y = Linear.linear(x, weights.get(path + ".weight"), weights.get(path + ".bias")).singletonOrThrow();
    if (lora != null) {
      NDArray delta = lora.delta(path, x, training);
      if (delta != null) {
        y = y.add(delta);
      }
    }
    return y;
  }

  private static NDArray rope(NDArray x, NDArray cos, NDArray sin) {
    NDList halves = x.split(2, x.getShape().dimension() - 1);
    NDArray rotated = NDArrays.concat(new NDList(halves.get(1).neg(), halves.get(0)), -1); // rotate_half
    return x.mul(cos).add(rotated.mul(sin));
  }

  private NDArray rmsNorm(NDArray x, NDArray w) {
    NDArray variance = x.square().mean(new int[] {-1}, true);
    return x.div(variance.add(Scalars.of(variance, config.rmsNormEps())).sqrt()).mul(w);
  }

  @Override
  public void close() {
    manager.close();
  }
}
