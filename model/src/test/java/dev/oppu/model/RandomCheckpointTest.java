package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link RandomCheckpoint}'s layout is save_pretrained's; the Qwen2.5-0.5B shape has that model's size. */
class RandomCheckpointTest {

  static final LlamaConfig TINY = new LlamaConfig(96, 32, 64, 2, 4, 2, 8, 128, 1e-6, Rope.plain(1e6), true, 1,
      new int[] {2}, -1, Family.qwen2());

  @Test
  void shardsIndexAndHeadersAsTransformersWritesThem(@TempDir Path dir) throws IOException {
    long max = 4096; // the embedding (96 x 32 x 2 = 6144 bytes) is larger: it gets a shard of its own
    List<Long> progress = new ArrayList<>();
    RandomCheckpoint.Written w = RandomCheckpoint.writeBf16(TINY, dir, max, progress::add);
    assertEquals(TINY.parameterCount(), w.parameters());
    assertEquals(TINY.parameterCount() * 2, w.bytes());
    assertEquals(w.bytes(), progress.get(progress.size() - 1));
    assertTrue(w.shards().size() >= 3, w.shards().toString());

    ObjectMapper json = new ObjectMapper();
    JsonNode index = json.readTree(dir.resolve("model.safetensors.index.json").toFile());
    assertEquals(w.bytes(), index.get("metadata").get("total_size").asLong());
    List<String> keys = new ArrayList<>();
    index.get("weight_map").fieldNames().forEachRemaining(keys::add);
    List<String> sorted = new ArrayList<>(keys);
    sorted.sort(null);
    assertEquals(sorted, keys);
    assertEquals(new java.util.TreeSet<>(TINY.weightShapes().keySet()), new java.util.TreeSet<>(keys));
    assertTrue(!keys.contains("lm_head.weight"));
    assertTrue(keys.contains("model.layers.0.self_attn.q_proj.bias"));

    long sum = 0;
    for (int s = 0; s < w.shards().size(); s++) {
      Path shard = w.shards().get(s);
      assertEquals(String.format("model-%05d-of-%05d.safetensors", s + 1, w.shards().size()),
          shard.getFileName().toString());
      byte[] bytes = Files.readAllBytes(shard);
      long headerLen = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
      assertEquals(0, headerLen % 8);
      JsonNode header = json.readTree(new String(bytes, 8, (int) headerLen, java.nio.charset.StandardCharsets.UTF_8));
      assertEquals("pt", header.get("__metadata__").get("format").asText());
      long data = bytes.length - 8 - headerLen;
      List<String> names = new ArrayList<>();
      header.fieldNames().forEachRemaining(n -> {
        if (!n.equals("__metadata__")) {
          names.add(n);
        }
      });
      List<String> byName = new ArrayList<>(names);
      byName.sort(null);
      assertEquals(byName, names);
      for (String n : names) {
        assertEquals("BF16", header.get(n).get("dtype").asText());
        assertEquals(shard.getFileName().toString(), index.get("weight_map").get(n).asText());
      }
      assertTrue(data <= max || names.size() == 1, shard + " holds " + data + " bytes");
      sum += data;
    }
    assertEquals(w.bytes(), sum);

    JsonNode config = json.readTree(dir.resolve("config.json").toFile());
    assertEquals("bfloat16", config.get("torch_dtype").asText());
    assertEquals("qwen2", config.get("model_type").asText());
    assertEquals(TINY, LlamaConfig.load(dir));
    assertEquals(2, json.readTree(dir.resolve("generation_config.json").toFile()).get("eos_token_id").asInt());

    // a second, differently split write leaves no stale shard behind, and loads with the exact bf16 values
    RandomCheckpoint.writeBf16(TINY, dir, 1L << 20, null);
    try (var files = Files.list(dir)) {
      assertEquals(List.of(dir.resolve("model.safetensors")),
          files.filter(f -> f.toString().endsWith(".safetensors")).toList());
    }
    assertTrue(!Files.exists(dir.resolve("model.safetensors.index.json")));
    try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager();
        LlamaModel model = LlamaModel.load(dir, m)) {
      for (Map.Entry<String, ai.djl.ndarray.NDArray> e : model.weights().entrySet()) {
        float[] got = e.getValue().toFloatArray();
        var rnd = RandomCheckpoint.values(e.getKey());
        for (int i = 0; i < got.length; i++) {
          assertEquals(RandomCheckpoint.bf16ToFloat(RandomCheckpoint.nextBf16(rnd)), got[i], 0f, e.getKey());
        }
      }
    }
  }

  @Test
  void qwen25HalfBillionShape() {
    LlamaConfig c = LlamaConfig.qwen25_05B();
    assertEquals(494_032_768L, c.parameterCount()); // Qwen/Qwen2.5-0.5B's count
    assertEquals(64, c.headDim());
    assertTrue(c.family().hasBias("q_proj") && !c.family().hasBias("o_proj"));
    assertTrue(c.tieWordEmbeddings());
    assertEquals(1e6, c.ropeTheta());
  }
}
