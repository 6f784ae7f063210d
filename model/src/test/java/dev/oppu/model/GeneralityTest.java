package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A config unlike the fixture's (grouped-query attention, tied embeddings, head_dim != hidden / heads, another rope
 * theta, LoRA on all seven projections), saved in HF layout and reloaded; checks the model against itself.
 */
class GeneralityTest {

  static final LlamaConfig CONFIG = new LlamaConfig(300, 48, 80, 3, 6, 2, 12, 256, 1e-5, 500000.0, "default", 1.0,
      true, 1, new int[] {2}, 0);
  static NDManager manager;
  static LlamaModel model;
  static LoraAdapter all7;
  static LoraAdapter qv;
  @TempDir
  static Path dir;

  @BeforeAll
  static void setUp() throws IOException {
    manager = NDManager.newBaseManager();
    try (LlamaModel random = LlamaModel.random(CONFIG, 42, manager)) {
      random.save(dir.resolve("m"));
      model = LlamaModel.load(dir.resolve("m"), manager);
      assertEquals(random.fingerprint(), model.fingerprint());
    }
    assertEquals(CONFIG, model.config());
    assertTrue(!Files.exists(dir.resolve("m/lm_head.weight")));
    all7 = nonTrivial(new LoraConfig(4, 8, 0.0, LoraConfig.ALL_MODULES, false), 1);
    qv = nonTrivial(new LoraConfig(8, 16, 0.1, List.of("q_proj", "v_proj"), true), 2);
  }

  /** A fresh adapter has B = 0 (identity); give B values so the adapter changes the output. */
  static LoraAdapter nonTrivial(LoraConfig c, long seed) {
    return nonTrivial(CONFIG, c, seed, 0.05, manager);
  }

  /** An adapter of {@code model} whose B entries are seeded Gaussians of standard deviation {@code std}. */
  static LoraAdapter nonTrivial(LlamaConfig model, LoraConfig c, long seed, double std, NDManager m) {
    LoraAdapter a = LoraAdapter.create(model, c, seed, m);
    Random r = new Random(seed);
    for (String p : a.modulePaths()) {
      NDArray b = a.b(p);
      float[] v = new float[(int) b.size()];
      for (int i = 0; i < v.length; i++) {
        v[i] = (float) (r.nextGaussian() * std);
      }
      b.set(v);
    }
    return a;
  }

  @AfterAll
  static void tearDown() {
    manager.close();
  }

  static NDArray ids(int[]... rows) {
    long[] flat = new long[rows.length * rows[0].length];
    for (int i = 0; i < rows.length; i++) {
      for (int j = 0; j < rows[i].length; j++) {
        flat[i * rows[0].length + j] = rows[i][j];
      }
    }
    return manager.create(flat, new Shape(rows.length, rows[0].length));
  }

  static int[] seq(int seed, int n) {
    Random r = new Random(seed);
    int[] s = new int[n];
    for (int i = 0; i < n; i++) {
      s[i] = 3 + r.nextInt(CONFIG.vocabSize() - 3);
    }
    return s;
  }

  static float maxAbs(NDArray a, NDArray b) {
    return a.sub(b).abs().max().getFloat();
  }

  @Test
  void freshAdapterIsIdentityAndAdaptersMatter() {
    NDArray x = ids(seq(1, 10), seq(2, 10));
    NDArray base = model.forward(x);
    try (LoraAdapter fresh = LoraAdapter.create(CONFIG, LoraConfig.oppuUser(), 7, manager);
        LoraBatch lb = LoraBatch.of(fresh); LoraBatch l7 = LoraBatch.of(all7)) {
      assertEquals(0f, maxAbs(base, model.forward(x, null, null, lb, null, false, false)), 1e-6);
      assertTrue(maxAbs(base, model.forward(x, null, null, l7, null, false, false)) > 1e-3);
    }
  }

  @Test
  synchronized void mergedEqualsUnmerged() {
    NDArray x = ids(seq(3, 12), seq(4, 12));
    for (LoraAdapter a : List.of(all7, qv)) {
      NDArray unmerged;
      try (LoraBatch lb = LoraBatch.of(a)) {
        unmerged = model.forward(x, null, null, lb, null, false, false);
      }
      model.merge(a);
      NDArray merged;
      try {
        merged = model.forward(x);
      } finally {
        model.unmerge(a);
      }
      assertTrue(maxAbs(merged, unmerged) < 1e-4, "merged vs unmerged " + maxAbs(merged, unmerged));
    }
  }

  @Test
  void mixedBatchEqualsSingleRows() {
    int[][] prompts = {seq(5, 9), seq(6, 4), seq(7, 7), seq(8, 2)};
    List<LoraAdapter> adapters = new ArrayList<>();
    adapters.add(all7);
    adapters.add(null);
    adapters.add(qv);
    adapters.add(all7);
    // logits at real positions: left-padded mixed batch vs each row alone with its adapter
    int len = 9;
    int[][] rows = new int[4][len];
    long[] mask = new long[4 * len];
    for (int i = 0; i < 4; i++) {
      int off = len - prompts[i].length;
      for (int j = 0; j < prompts[i].length; j++) {
        rows[i][off + j] = prompts[i][j];
        mask[i * len + off + j] = 1;
      }
    }
    NDArray batch;
    try (LoraBatch lb = LoraBatch.perRow(adapters, manager)) {
      batch = model.forward(ids(rows), manager.create(mask, new Shape(4, len)), null, lb, null, false, false);
    }
    for (int i = 0; i < 4; i++) {
      NDArray alone;
      try (LoraBatch lb = adapters.get(i) == null ? null : LoraBatch.of(adapters.get(i))) {
        alone = model.forward(ids(prompts[i]), null, null, lb, null, false, false);
      }
      int off = len - prompts[i].length;
      NDArray part = batch.get(i + ":" + (i + 1) + ", " + off + ":, :");
      assertTrue(maxAbs(part, alone) < 1e-4, "row " + i + " err " + maxAbs(part, alone));
    }
    // generation: the mixed batch gives each row what it gets alone
    Generator gen = new Generator(model);
    Generator.Options o = Generator.Options.greedy(6).withoutEosStop();
    List<int[]> together = gen.generate(List.of(prompts), adapters, o);
    for (int i = 0; i < 4; i++) {
      List<LoraAdapter> one = new ArrayList<>();
      one.add(adapters.get(i));
      assertArrayEquals(gen.generate(List.of(prompts[i]), one, o).get(0), together.get(i), "row " + i);
    }
    // log-probabilities of continuations, per row adapters
    List<int[]> conts = List.of(seq(9, 3), seq(10, 1), seq(11, 2), seq(12, 4));
    float[] lp = CausalLm.continuationLogProbs(model, List.of(prompts), conts, adapters);
    for (int i = 0; i < 4; i++) {
      List<LoraAdapter> one = new ArrayList<>();
      one.add(adapters.get(i));
      float alone = CausalLm.continuationLogProbs(model, List.of(prompts[i]), List.of(conts.get(i)), one)[0];
      assertEquals(alone, lp[i], 1e-4);
    }
    float[] cands = CausalLm.candidateLogProbs(model, prompts[0], List.of(conts.get(0), conts.get(3)), all7);
    assertEquals(lp[0], cands[0], 1e-4);
    assertEquals(CausalLm.continuationLogProbs(model, List.of(prompts[0]), List.of(conts.get(3)),
        List.of(all7))[0], cands[1], 1e-4);
    // shared-prefix scoring: prompts of different lengths, each row its own adapter, candidates of 1-4 tokens
    List<List<int[]>> perRow = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      perRow.add(List.of(conts.get(i), conts.get((i + 1) % 4), seq(30 + i, 1)));
    }
    float[][] shared = CausalLm.sharedPrefixLogProbs(model, List.of(prompts), perRow, adapters);
    for (int i = 0; i < 4; i++) {
      for (int k = 0; k < 3; k++) {
        List<LoraAdapter> one = new ArrayList<>();
        one.add(adapters.get(i));
        float pair = CausalLm.continuationLogProbs(model, List.of(prompts[i]), List.of(perRow.get(i).get(k)), one)[0];
        assertEquals(pair, shared[i][k], 1e-4, "row " + i + " candidate " + k);
      }
    }
  }

  @Test
  void kvCacheGenerationEqualsFullRecomputation() {
    int[] prompt = seq(13, 5);
    int steps = 8;
    for (LoraAdapter a : new LoraAdapter[] {null, all7}) {
      List<Integer> full = new ArrayList<>();
      for (int t : prompt) {
        full.add(t);
      }
      for (int s = 0; s < steps; s++) {
        int[] cur = full.stream().mapToInt(Integer::intValue).toArray();
        try (LoraBatch lb = a == null ? null : LoraBatch.of(a)) {
          NDArray logits = model.forward(ids(cur), null, null, lb, null, false, false);
          full.add((int) logits.get(":, -1, :").argMax(-1).getLong());
        }
      }
      List<LoraAdapter> one = new ArrayList<>();
      one.add(a);
      int[] cached = new Generator(model).generate(List.of(prompt), one,
          Generator.Options.greedy(steps).withoutEosStop()).get(0);
      int[] want = full.subList(prompt.length, full.size()).stream().mapToInt(Integer::intValue).toArray();
      assertArrayEquals(want, cached);
    }
  }

  @Test
  void samplingIsSeededAndStopsAtEos() {
    Generator gen = new Generator(model, 0, new int[] {2});
    List<int[]> p = List.of(seq(14, 4), seq(15, 6));
    Generator.Options o = new Generator.Options(10, 0.8, 20, 0.9, 99, true);
    List<int[]> a = gen.generate(p, null, o);
    List<int[]> b = gen.generate(p, null, o);
    for (int i = 0; i < 2; i++) {
      assertArrayEquals(a.get(i), b.get(i));
      for (int t : a.get(i)) {
        assertTrue(t != 2);
      }
    }
    // a temperature near zero samples the greedy tokens
    List<int[]> cold = gen.generate(p, null, new Generator.Options(5, 1e-4, 0, 1, 1, false));
    List<int[]> greedy = gen.generate(p, null, Generator.Options.greedy(5).withoutEosStop());
    assertArrayEquals(greedy.get(0), cold.get(0));
  }

  @Test
  void gradientStepsReduceTheLoss() {
    try (LoraAdapter a = LoraAdapter.create(CONFIG, new LoraConfig(4, 8, 0.0, List.of("q_proj", "v_proj",
        "down_proj"), false), 3, manager)) {
      NDArray x = ids(seq(16, 16), seq(17, 16));
      long[] lab = x.toLongArray();
      for (int i = 0; i < 4; i++) {
        lab[i] = CausalLm.IGNORE;
      }
      NDArray labels = manager.create(lab, new Shape(2, 16));
      float first = Float.NaN;
      float last = Float.NaN;
      for (int step = 0; step < 15; step++) {
        try (CausalLm.LossAndGradients lg = CausalLm.lossAndGradients(model, a, x, null, labels, true, manager)) {
          if (step == 0) {
            first = lg.loss();
            // B starts at zero, so only B receives a gradient on the first step
            assertTrue(lg.gradients().get("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight")
                .abs().max().getFloat() > 0);
          }
          last = lg.loss();
          Map<String, NDArray> params = a.parameters();
          lg.gradients().forEach((k, g) -> params.get(k).subi(g.mul(0.5f)));
        }
      }
      assertTrue(last < first - 0.05, first + " -> " + last);
    }
  }

  @Test
  void shardedBf16AndF16CheckpointsLoad(@TempDir Path out) throws IOException {
    // Re-encode the weights as two shards, one bf16 and one f16, with an index, as HF writes large models.
    Map<String, NDArray> w = model.weights();
    List<String> names = new ArrayList<>(w.keySet());
    Map<String, NDArray> first = new LinkedHashMap<>();
    Map<String, NDArray> second = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      (i % 2 == 0 ? first : second).put(names.get(i), w.get(names.get(i)));
    }
    Files.write(out.resolve("model-00001-of-00002.safetensors"), halfFile(first, true));
    Files.write(out.resolve("model-00002-of-00002.safetensors"), halfFile(second, false));
    ObjectMapper json = new ObjectMapper();
    ObjectNode index = json.createObjectNode();
    index.putObject("metadata").put("total_size", 0);
    ObjectNode map = index.putObject("weight_map");
    first.keySet().forEach(k -> map.put(k, "model-00001-of-00002.safetensors"));
    second.keySet().forEach(k -> map.put(k, "model-00002-of-00002.safetensors"));
    json.writeValue(out.resolve("model.safetensors.index.json").toFile(), index);
    CONFIG.save(out);
    try (LlamaModel half = LlamaModel.load(out, manager)) {
      for (String k : names) {
        float tol = first.containsKey(k) ? 1f / 128 : 1f / 1024; // bf16 keeps 8 bits of mantissa, f16 11
        NDArray a = w.get(k);
        NDArray b = half.weights().get(k);
        assertTrue(maxAbs(a, b) <= tol * a.abs().max().getFloat(), k);
      }
    }
  }

  /** A safetensors file with bf16 or f16 values (truncating / rounding from float32). */
  static byte[] halfFile(Map<String, NDArray> tensors, boolean bf16) throws IOException {
    ObjectNode header = new ObjectMapper().createObjectNode();
    ByteArrayOutputStream data = new ByteArrayOutputStream();
    for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
      float[] v = e.getValue().toFloatArray();
      ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
      for (float f : v) {
        b.putShort(bf16 ? (short) (Float.floatToIntBits(f) >>> 16) : floatToHalf(f));
      }
      ObjectNode info = header.putObject(e.getKey());
      info.put("dtype", bf16 ? "BF16" : "F16");
      var shape = info.putArray("shape");
      for (long d : e.getValue().getShape().getShape()) {
        shape.add(d);
      }
      info.putArray("data_offsets").add(data.size()).add(data.size() + v.length * 2);
      data.write(b.array());
    }
    byte[] h = new ObjectMapper().writeValueAsBytes(header);
    ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.size()).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(h.length).put(h).put(data.toByteArray());
    return out.array();
  }

  static short floatToHalf(float f) {
    // normal range only (our weights are small but not subnormal in half)
    int bits = Float.floatToIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exp = ((bits >>> 23) & 0xff) - 127 + 15;
    int mant = bits & 0x7fffff;
    if (exp <= 0) {
      return (short) sign;
    }
    int rounded = (exp << 10 | mant >>> 13) + ((mant >>> 12) & 1);
    return (short) (sign | rounded);
  }

  @Test
  void repeatedStepsLeaveNoArraysBehind() {
    List<LoraAdapter> rows = new ArrayList<>();
    rows.add(all7);
    rows.add(null);
    Generator gen = new Generator(model);
    Runnable work = () -> {
      gen.generate(List.of(seq(20, 5), seq(21, 3)), rows, Generator.Options.greedy(4));
      CausalLm.continuationLogProbs(model, List.of(seq(22, 4), seq(23, 4)), List.of(seq(24, 2), seq(25, 1)), rows);
      try (CausalLm.Batch b = CausalLm.promptAnswerBatch(manager, List.of(seq(26, 5), seq(27, 3)),
              List.of(seq(28, 2), seq(29, 4)), 0);
          CausalLm.LossAndGradients lg = CausalLm.lossAndGradients(model, qv, b.inputIds(), b.attentionMask(),
              b.labels(), true, manager)) {
        assertTrue(Float.isFinite(lg.loss()));
        assertEquals(2 + 4, lg.tokens());
      }
    };
    work.run(); // first use may cache things
    int before = manager.getManagedArrays().size();
    for (int i = 0; i < 5; i++) {
      work.run();
    }
    assertEquals(before, manager.getManagedArrays().size());
  }

  @Test
  void shardedSaveRoundTrips(@TempDir Path out) throws IOException {
    model.save(out, 200_000);
    assertTrue(Files.exists(out.resolve("model.safetensors.index.json")));
    assertTrue(!Files.exists(out.resolve("model.safetensors")));
    try (var files = Files.list(out)) {
      assertTrue(files.filter(f -> f.getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors"))
          .count() >= 2);
    }
    try (LlamaModel back = LlamaModel.load(out, manager)) {
      assertEquals(model.fingerprint(), back.fingerprint());
    }
  }

  @Test
  void clearErrors(@TempDir Path out) throws IOException {
    Files.writeString(out.resolve("config.json"), "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"]}");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaModel.load(out, manager));
    assertTrue(e.getMessage().contains("unsupported architecture"), e.getMessage());
    // a config that disagrees with the weights' shapes
    LlamaConfig wider = new LlamaConfig(300, 48, 96, 3, 6, 2, 12, 256, 1e-5, 500000.0, "default", 1.0, true, 1,
        new int[] {2}, 0);
    Files.copy(dir.resolve("m/model.safetensors"), out.resolve("model.safetensors"));
    wider.save(out);
    e = assertThrows(IllegalArgumentException.class, () -> LlamaModel.load(out, manager));
    assertTrue(e.getMessage().contains("shape mismatch"), e.getMessage());
    Files.delete(out.resolve("model.safetensors"));
    assertThrows(java.nio.file.NoSuchFileException.class, () -> LlamaModel.load(out, manager));
    assertThrows(IllegalArgumentException.class,
        () -> new LoraConfig(8, 8, 0, List.of("lm_head"), false));
    e = assertThrows(IllegalArgumentException.class, () -> model.forward(ids(new int[] {5, 300})));
    assertTrue(e.getMessage().contains("vocabulary"), e.getMessage());
  }
}
