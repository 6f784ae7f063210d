package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Our model against what transformers 5.17 and PEFT 0.21 computed on fixtures/hf-llama-mha. */
class HfFixtureTest {

  static final Path FIX = Paths.get(System.getProperty("oppu.fixtures", "../fixtures"), "hf-llama-mha");
  static NDManager manager;
  static LlamaModel model;
  static LoraAdapter adapter;
  static Map<String, NDArray> ref;
  static Map<String, NDArray> padded;

  @BeforeAll
  static void load() throws IOException {
    manager = NDManager.newBaseManager();
    model = LlamaModel.load(FIX.resolve("base"), manager);
    adapter = LoraAdapter.loadPeft(FIX.resolve("adapter"), model.config(), manager);
    ref = Safetensors.read(FIX.resolve("reference.safetensors"), manager);
    padded = Safetensors.read(FIX.resolve("padded_reference.safetensors"), manager);
  }

  @AfterAll
  static void close() {
    manager.close();
  }

  static float maxAbs(NDArray a, NDArray b) {
    assertEquals(b.getShape(), a.getShape());
    return a.sub(b).abs().max().getFloat();
  }

  @Test
  void configReadsRopeParameters() {
    LlamaConfig c = model.config();
    assertEquals(10000.0, c.ropeTheta());
    assertEquals(16, c.headDim());
    assertEquals(false, c.tieWordEmbeddings());
    assertEquals(1e-6, c.rmsNormEps());
  }

  @Test
  void baseLogitsMatch() {
    NDArray logits = model.forward(ref.get("input_ids"));
    assertTrue(maxAbs(logits, ref.get("base_logits")) < 1e-4, "base max abs err " + maxAbs(logits, ref.get("base_logits")));
  }

  @Test
  void loraLogitsMatch() {
    try (LoraBatch lora = LoraBatch.of(adapter)) {
      NDArray logits = model.forward(ref.get("input_ids"), null, null, lora, null, false, false);
      float err = maxAbs(logits, ref.get("lora_logits"));
      assertTrue(err < 1e-4, "lora max abs err " + err);
      // the adapter must matter, or the comparison proves nothing
      assertTrue(maxAbs(ref.get("lora_logits"), ref.get("base_logits")) > 1e-2);
    }
  }

  @Test
  synchronized void mergedLogitsMatchAndUnmergeRestores() {
    Map<String, float[]> before = new HashMap<>();
    model.weights().forEach((k, v) -> before.put(k, v.toFloatArray()));
    String fp = model.fingerprint();
    model.merge(adapter);
    try {
      NDArray logits = model.forward(ref.get("input_ids"));
      float err = maxAbs(logits, ref.get("merged_logits"));
      assertTrue(err < 1e-4, "merged max abs err " + err);
      assertTrue(!fp.equals(model.fingerprint()));
      assertThrows(IllegalStateException.class, () -> model.merge(adapter));
    } finally {
      model.unmerge(adapter);
    }
    model.weights().forEach((k, v) -> {
      float[] a = before.get(k);
      float[] b = v.toFloatArray();
      for (int i = 0; i < a.length; i++) {
        assertEquals(a[i], b[i], 1e-6, k);
      }
    });
  }

  @Test
  void lossAndGradientsMatch() {
    try (CausalLm.LossAndGradients lg = CausalLm.lossAndGradients(model, adapter, ref.get("input_ids"), null,
        ref.get("labels"), false, manager)) {
      float want = ref.get("loss").getFloat();
      assertEquals(want, lg.loss(), Math.abs(want) * 1e-5, "loss");
      assertEquals(8, lg.gradients().size());
      for (Map.Entry<String, NDArray> e : lg.gradients().entrySet()) {
        String refKey = e.getKey().replace("base_model.model.", "").replace(".weight", ".default.weight.grad");
        NDArray want2 = ref.get(refKey);
        float scale = want2.abs().max().getFloat();
        float err = maxAbs(e.getValue(), want2) / scale;
        assertTrue(err < 1e-3, refKey + " rel err " + err);
      }
    }
    // The plain loss function agrees with the gradient path.
    try (LoraBatch lora = LoraBatch.of(adapter)) {
      NDArray logits = model.forward(ref.get("input_ids"), null, null, lora, null, false, false);
      assertEquals(ref.get("loss").getFloat(), CausalLm.loss(logits, ref.get("labels")).getFloat(), 1e-5);
    }
    // The training path (logits at the counted positions only, as the trainer computes them) agrees with HF too.
    long[] ids = ref.get("input_ids").toLongArray();
    long[] labels = ref.get("labels").toLongArray();
    long t = ref.get("input_ids").getShape().get(1);
    List<int[]> prompts = new ArrayList<>();
    List<int[]> answers = new ArrayList<>();
    for (int r = 0; r < ids.length / t; r++) {
      int p = 0;
      while (p < t && labels[(int) (r * t + p)] == CausalLm.IGNORE) {
        p++;
      }
      int[] row = java.util.Arrays.stream(ids, (int) (r * t), (int) ((r + 1) * t)).mapToInt(x -> (int) x).toArray();
      for (int j = p; j < t; j++) {
        assertTrue(labels[(int) (r * t + j)] != CausalLm.IGNORE, "labels are a prompt, then counted tokens");
      }
      prompts.add(java.util.Arrays.copyOf(row, p));
      answers.add(java.util.Arrays.copyOfRange(row, p, (int) t));
    }
    try (CausalLm.Batch b = CausalLm.promptAnswerBatch(manager, prompts, answers, 0); LoraBatch lora = LoraBatch.of(adapter)) {
      NDArray logitsAt = model.forwardAt(b.inputIds(), lora, false, b.positions());
      float want = ref.get("loss").getFloat();
      assertEquals(want, CausalLm.lossAt(logitsAt, b).getFloat(), Math.abs(want) * 1e-5, "loss at counted positions");
    }
  }

  @Test
  void greedyMatches() {
    long[] g = ref.get("greedy_ids").toLongArray();
    long[] in = ref.get("input_ids").toLongArray();
    List<int[]> prompts = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      int[] p = new int[6];
      for (int j = 0; j < 6; j++) {
        p[j] = (int) in[i * 24 + j];
      }
      prompts.add(p);
    }
    List<int[]> out = new Generator(model).generate(prompts, null, Generator.Options.greedy(8).withoutEosStop());
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 8; j++) {
        assertEquals(g[i * 14 + 6 + j], out.get(i)[j], "row " + i + " token " + j);
      }
    }
  }

  @Test
  void leftPaddedBatchMatches() {
    NDArray ids = padded.get("input_ids");
    NDArray mask = padded.get("attention_mask");
    NDArray logits = model.forward(ids, mask, padded.get("position_ids"), null, null, false, false);
    NDArray logitsAutoPos = model.forward(ids, mask, null, null, null, false, false);
    long[] m = mask.toLongArray();
    float[] got = logits.toFloatArray();
    float[] got2 = logitsAutoPos.toFloatArray();
    float[] want = padded.get("logits").toFloatArray();
    int v = 512;
    float err = 0;
    for (int r = 0; r < m.length; r++) {
      if (m[r] == 1) {
        for (int j = 0; j < v; j++) {
          err = Math.max(err, Math.abs(got[r * v + j] - want[r * v + j]));
          err = Math.max(err, Math.abs(got2[r * v + j] - want[r * v + j]));
        }
      }
    }
    assertTrue(err < 1e-4, "padded logits err " + err);

    List<int[]> prompts = new ArrayList<>();
    long[] idArr = ids.toLongArray();
    for (int i = 0; i < 3; i++) {
      List<Integer> p = new ArrayList<>();
      for (int j = 0; j < 9; j++) {
        if (m[i * 9 + j] == 1) {
          p.add((int) idArr[i * 9 + j]);
        }
      }
      prompts.add(p.stream().mapToInt(Integer::intValue).toArray());
    }
    Generator gen = new Generator(model);
    Generator.Options o = Generator.Options.greedy(10).withoutEosStop();
    checkGreedy(gen.generate(prompts, null, o), padded.get("greedy_ids").toLongArray());
    checkGreedy(gen.generate(prompts, List.of(adapter, adapter, adapter), o),
        padded.get("lora_greedy_ids").toLongArray());
    // a mixed batch: row 1 without the adapter, rows 0 and 2 with it
    long[] base = padded.get("greedy_ids").toLongArray();
    long[] lora = padded.get("lora_greedy_ids").toLongArray();
    List<LoraAdapter> mixed = new ArrayList<>();
    mixed.add(adapter);
    mixed.add(null);
    mixed.add(adapter);
    List<int[]> out = gen.generate(prompts, mixed, o);
    for (int j = 0; j < 10; j++) {
      assertEquals(lora[9 + j], out.get(0)[j]);
      assertEquals(base[19 + 9 + j], out.get(1)[j]);
      assertEquals(lora[2 * 19 + 9 + j], out.get(2)[j]);
    }
  }

  private static void checkGreedy(List<int[]> out, long[] want) {
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 10; j++) {
        assertEquals(want[i * 19 + 9 + j], out.get(i)[j], "row " + i + " token " + j);
      }
    }
  }

  @Test
  void tokenizerMatches() throws IOException {
    JsonNode cases = new ObjectMapper().readTree(FIX.resolve("tokenizer_reference.json").toFile());
    assertTrue(cases.size() >= 4, "reference cases in the fixture: " + cases.size());
    try (TextTokenizer tok = TextTokenizer.load(FIX.resolve("tokenizer.json"), model.config())) {
      for (JsonNode c : cases) {
        int[] want = new int[c.get("ids").size()];
        for (int i = 0; i < want.length; i++) {
          want[i] = c.get("ids").get(i).asInt();
        }
        assertArrayEquals(want, tok.encode(c.get("text").asText()), c.get("text").asText());
      }
      assertEquals(2, tok.eosId());
      assertEquals(0, tok.padId());
      String s = "tag: comedy";
      assertEquals(s, tok.decode(tok.encode(s)).strip());
    }
  }

  @Test
  void peftRoundTrip(@TempDir Path dir) throws IOException {
    adapter.savePeft(dir);
    // same files, keys, shapes, dtypes, header metadata and config fields as PEFT wrote
    assertEquals(new TreeSet<>(List.of(LoraAdapter.CONFIG_FILE, LoraAdapter.WEIGHTS_FILE)),
        new TreeSet<>(Files.list(dir).map(p -> p.getFileName().toString()).toList()));
    assertEquals(header(FIX.resolve("adapter/adapter_model.safetensors")),
        header(dir.resolve(LoraAdapter.WEIGHTS_FILE)));
    ObjectMapper json = new ObjectMapper();
    JsonNode want = json.readTree(FIX.resolve("adapter/adapter_config.json").toFile());
    JsonNode got = json.readTree(dir.resolve(LoraAdapter.CONFIG_FILE).toFile());
    assertEquals(fieldNames(want), fieldNames(got));
    for (String f : List.of("r", "lora_alpha", "lora_dropout", "target_modules", "peft_type", "task_type",
        "use_rslora", "bias", "fan_in_fan_out", "use_dora")) {
      assertEquals(want.get(f), got.get(f), f);
    }
    // bytes identical to PEFT's file (same header, same float32 data)
    assertArrayEquals(Files.readAllBytes(FIX.resolve("adapter/adapter_model.safetensors")),
        Files.readAllBytes(dir.resolve(LoraAdapter.WEIGHTS_FILE)));
    try (LoraAdapter back = LoraAdapter.loadPeft(dir, model.config(), manager);
        LoraAdapter fromBytes = LoraAdapter.fromBytes(adapter.toBytes(), model.config(), manager)) {
      assertEquals(adapter.config(), back.config());
      assertEquals(adapter.config(), fromBytes.config());
      assertArrayEquals(adapter.rawBytes(), back.rawBytes());
      assertArrayEquals(adapter.rawBytes(), fromBytes.rawBytes());
    }
  }

  @Test
  void adapterThatDoesNotFitIsRejected(@TempDir Path dir) throws IOException {
    LlamaConfig other = LlamaConfig.of(512, 32, 64, 2, 4, 4, 128, 10000, false);
    IOException e = assertThrows(IOException.class, () -> LoraAdapter.loadPeft(FIX.resolve("adapter"), other, manager));
    assertTrue(e.getMessage().contains("do not fit"), e.getMessage());
    assertThrows(java.nio.file.NoSuchFileException.class, () -> LoraAdapter.loadPeft(dir, null, manager));
    assertThrows(java.nio.file.NoSuchFileException.class, () -> LlamaModel.load(dir, manager));
  }

  static String header(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    return new String(b, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8);
  }

  static TreeSet<String> fieldNames(JsonNode n) {
    TreeSet<String> s = new TreeSet<>();
    for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
      s.add(it.next());
    }
    return s;
  }

  @Test
  void continuationLogProbsMatchLoss() {
    // log p(tokens 10..23 | prefix) summed == -loss * count for row 0 alone
    long[] in = ref.get("input_ids").toLongArray();
    int[] prompt = new int[10];
    int[] cont = new int[14];
    for (int j = 0; j < 24; j++) {
      if (j < 10) {
        prompt[j] = (int) in[j];
      } else {
        cont[j - 10] = (int) in[j];
      }
    }
    float[] lp = CausalLm.continuationLogProbs(model, List.of(prompt, new int[] {5, 6}), List.of(cont, new int[] {7}),
        null);
    NDArray row = ref.get("input_ids").get("0:1");
    NDArray labels = ref.get("labels").get("0:1");
    float loss = CausalLm.loss(model.forward(row), labels).getFloat();
    assertEquals(-loss * 14, lp[0], 1e-3);
    assertTrue(lp[1] < 0);
  }
}
