package dev.oppu.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.model.Family;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.RandomCheckpoint;
import dev.oppu.model.Rope;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code bench load}'s pieces on a tiny Qwen2-shaped checkpoint: what it reports, not how fast. */
class LoadBenchTest {

  static final LlamaConfig TINY = new LlamaConfig(256, 32, 64, 2, 4, 2, 8, 128, 1e-6, Rope.plain(1e6), true, 1,
      new int[] {2}, -1, Family.qwen2());

  @Test
  void rawReadCountsEveryByteOfTheShards(@TempDir Path dir) throws Exception {
    RandomCheckpoint.Written w = RandomCheckpoint.writeBf16(TINY, dir, 8192, null);
    assertTrue(w.shards().size() >= 2, w.shards().toString());
    long onDisk = 0;
    for (Path p : w.shards()) {
      onDisk += Files.size(p);
    }
    assertEquals(onDisk, LoadBench.rawRead(w.shards())[0]);
    LoadBench.deleteCheckpoint(dir);
    try (var left = Files.list(dir)) {
      assertEquals(0, left.count());
    }
  }

  @Test
  void theDefaultShapeFitsTheDefaultJvm() {
    // ./oppu runs with -Xmx8g: direct memory (the heap limit by default) must hold the float32 weights
    long f32 = new LoadBench().shape.parameterCount() * 4;
    assertTrue(f32 < 2_100_000_000L, "qwen2.5-0.5b is ~1.98 GB in float32, got " + f32);
    assertTrue(LoadBench.maxDirectMemory() != 0);
  }

  @Test
  void runsEndToEndAndTheLastLineIsOneJsonObject(@TempDir Path dir) throws Exception {
    LoadBench bench = new LoadBench();
    bench.shape = TINY;
    bench.shapeName = "tiny";
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int exit;
    try (PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
      System.setOut(out);
      exit = new CommandLine(bench).execute("--dir", dir.resolve("ckpt").toString(), "--shard-mb", "0.01",
          "--train-batch", "2", "--train-seq", "12", "--train-answer", "4", "--train-steps", "2",
          "--gen-batches", "1,3", "--gen-prompt", "5", "--gen-new", "3", "--no-progress");
    } finally {
      System.setOut(original);
    }
    assertEquals(0, exit);
    List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
    JsonNode r = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    assertEquals("load", r.get("bench").asText());
    assertEquals("tiny", r.get("shape").asText());
    assertEquals("qwen2", r.get("model_type").asText());
    assertEquals(TINY.parameterCount(), r.get("parameters").asLong());
    assertEquals(TINY.parameterCount() * 4, r.get("f32_bytes").asLong());
    assertTrue(r.get("shards").asInt() >= 2, r.toString());
    assertEquals(LoadBench.BASELINE, r.get("baseline").asText());
    for (String f : List.of("load_s", "raw_read_s", "load_ratio", "ratio", "train_tokens_per_s", "train_step_s",
        "gen_b1_tokens_per_s", "gen_b3_tokens_per_s", "gen_b3_first_token_s", "gen_b3_decode_tokens_per_s",
        "load_cpu_per_wall", "train_cpu_per_wall", "gen_b1_cpu_per_wall")) {
      // present and never negative; on a tiny shape a duration can round to 0 (and a rate over it to null)
      assertTrue(r.has(f) && (r.get(f).isNull() || r.get(f).isNumber() && r.get(f).asDouble() >= 0), f + " in " + r);
    }
    assertEquals(r.get("load_ratio").asDouble(), r.get("ratio").asDouble(), 0.0);
    assertTrue(r.has("peak_rss_ratio"), r.toString()); // a number on Linux, null where the kernel does not say
    assertEquals(2, r.get("train_steps").asInt());
    try (var left = Files.list(dir.resolve("ckpt"))) {
      assertEquals(0, left.count(), "the checkpoint is removed without --keep");
    }
  }
}
