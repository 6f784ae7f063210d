package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sharded bf16 checkpoint, as real ones ship, written here: it loads as float32 with exactly the bf16 values, and
 * loading never holds two copies of the weights (peak resident memory while loading, measured by the kernel, stays
 * within 1.3 x the float32 size of the weights; a mapped or fully staged file would add half again).
 */
class ShardedLoadTest {

  // Qwen2-shaped (biases), untied head: ~38 M parameters, 150 MB as float32, 75 MB of bf16 in 3 shards
  static final LlamaConfig CONFIG = new LlamaConfig(8192, 512, 1408, 10, 8, 2, 64, 2048, 1e-6, Rope.plain(1e6),
      false, 1, new int[] {2}, -1, Family.qwen2());
  static final long SHARD_BYTES = 30L << 20;

  /** Writes {@code CONFIG}'s weights as bf16 shards with an index, value i of tensor t from seed t's stream. */
  static void writeBf16Checkpoint(Path dir) throws IOException {
    CONFIG.save(dir);
    Map<String, long[]> shapes = CONFIG.weightShapes();
    List<List<String>> shards = new ArrayList<>();
    List<String> current = new ArrayList<>();
    long bytes = 0;
    for (Map.Entry<String, long[]> e : shapes.entrySet()) {
      long size = count(e.getValue()) * 2;
      if (!current.isEmpty() && bytes + size > SHARD_BYTES) {
        shards.add(current);
        current = new ArrayList<>();
        bytes = 0;
      }
      current.add(e.getKey());
      bytes += size;
    }
    shards.add(current);
    ObjectMapper json = new ObjectMapper();
    ObjectNode index = json.createObjectNode();
    ObjectNode map = index.putObject("weight_map");
    for (int s = 0; s < shards.size(); s++) {
      String file = String.format("model-%05d-of-%05d.safetensors", s + 1, shards.size());
      ObjectNode header = json.createObjectNode();
      long offset = 0;
      for (String name : shards.get(s)) {
        ObjectNode info = header.putObject(name);
        info.put("dtype", "BF16");
        var shape = info.putArray("shape");
        for (long d : shapes.get(name)) {
          shape.add(d);
        }
        long size = count(shapes.get(name)) * 2;
        info.putArray("data_offsets").add(offset).add(offset + size);
        offset += size;
        map.put(name, file);
      }
      byte[] h = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
      try (OutputStream out = Files.newOutputStream(dir.resolve(file))) {
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, h.length).array());
        out.write(h);
        ByteBuffer b = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN); // little garbage: RSS stays put
        for (String name : shards.get(s)) {
          SplittableRandom rnd = new SplittableRandom(name.hashCode());
          for (long i = count(shapes.get(name)); i > 0; i--) {
            b.putShort(bf16(rnd));
            if (!b.hasRemaining() || i == 1) {
              out.write(b.array(), 0, b.position());
              b.clear();
            }
          }
        }
      }
    }
    json.writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
  }

  static short bf16(SplittableRandom rnd) {
    return (short) (Float.floatToIntBits((float) (rnd.nextGaussian() * 0.05)) >>> 16); // truncated to bf16
  }

  static long count(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** kB of a field of this process's status (VmRSS, VmHWM), or -1 where the kernel does not give it. */
  static long statusKb(String field) throws IOException {
    Path status = Path.of("/proc/self/status");
    if (!Files.isReadable(status)) {
      return -1;
    }
    for (String line : Files.readAllLines(status)) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.replaceAll("\\D", ""));
      }
    }
    return -1;
  }

  /** Resets VmHWM to the current RSS (Linux 4.0+); false where that is not possible. */
  static boolean resetPeak() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return true;
    } catch (IOException | SecurityException e) {
      return false;
    }
  }

  @Test
  void shardedBf16LoadsAsFloat32WithOneCopy(@TempDir Path dir) throws IOException {
    writeBf16Checkpoint(dir);
    try (var files = Files.list(dir)) {
      assertTrue(files.filter(f -> f.getFileName().toString().endsWith(".safetensors")).count() >= 3);
    }
    long f32Bytes = CONFIG.parameterCount() * 4;
    try (NDManager m = NDManager.newBaseManager()) {
      System.gc();
      try {
        Thread.sleep(500); // G1 returns freed heap to the system in the background after a full GC
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      boolean measured = resetPeak();
      long before = statusKb("VmRSS");
      LlamaModel model = LlamaModel.load(dir, m);
      long peak = statusKb("VmHWM");
      if (measured && before > 0 && peak > 0) {
        double ratio = (peak - before) * 1024.0 / f32Bytes;
        System.out.printf("sharded bf16 load: %d MB float32, peak RSS ratio %.3f%n", f32Bytes >> 20, ratio);
        assertTrue(ratio <= 1.3, "peak RSS while loading " + ratio + " x the float32 weights");
      } else {
        System.out.println("sharded bf16 load: peak RSS not measurable here, values checked only");
      }
      assertEquals(CONFIG, model.config());
      for (Map.Entry<String, NDArray> e : model.weights().entrySet()) {
        assertEquals(DataType.FLOAT32, e.getValue().getDataType());
        float[] got = e.getValue().toFloatArray();
        SplittableRandom rnd = new SplittableRandom(e.getKey().hashCode());
        for (int i = 0; i < got.length; i++) {
          float want = Float.intBitsToFloat((bf16(rnd) & 0xffff) << 16);
          if (got[i] != want) {
            throw new AssertionError(e.getKey() + "[" + i + "] = " + got[i] + ", bf16 file holds " + want);
          }
        }
      }
      // and it runs
      NDArray logits = model.forward(m.create(new long[] {1, 5, 9, 300}, new ai.djl.ndarray.types.Shape(1, 4)));
      assertEquals(new ai.djl.ndarray.types.Shape(1, 4, 8192), logits.getShape());
    }
  }

  @Test
  void readOnlyTheWantedTensors(@TempDir Path dir) throws IOException {
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaConfig tiny = LlamaConfig.of(64, 16, 32, 1, 2, 1, 32, 10000, true);
      Map<String, NDArray> w = new LinkedHashMap<>(LlamaModel.random(tiny, 1, m).weights());
      w.put("lm_head.weight", w.get("model.embed_tokens.weight")); // a tied head saved twice, as some tools do
      Safetensors.writeCheckpoint(dir, w, 4096);
      assertTrue(Safetensors.tensorNames(dir).contains("lm_head.weight"));
      Map<String, NDArray> read = Safetensors.readCheckpoint(dir, m, k -> !k.equals("lm_head.weight"));
      assertEquals(w.size() - 1, read.size());
      tiny.save(dir);
      try (LlamaModel back = LlamaModel.load(dir, m)) { // tied: the lm_head copy is neither read nor kept
        assertTrue(!back.weights().containsKey("lm_head.weight"));
      }
    }
  }
}
