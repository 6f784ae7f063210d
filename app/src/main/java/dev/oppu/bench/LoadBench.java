package dev.oppu.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.model.Generator;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.RandomCheckpoint;
import dev.oppu.model.ResidentMemory;
import dev.oppu.trainer.AdapterTraining;
import dev.oppu.trainer.LlamaLoraLm;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.optim.AdamW;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code oppu bench load}: a real-sized checkpoint end to end. Writes random bf16 weights of Qwen2.5-0.5B's shape
 * (494 M parameters, ~1 GB) in shards as transformers' save_pretrained lays them out ({@link RandomCheckpoint}),
 * loads them with {@link LlamaModel#load} (converted to float32 as they are read, ~2 GB), and measures:
 * <ul>
 *   <li>{@code load_s}, against the baseline {@code raw_read_s}: reading the same shard files' bytes through a 1 MiB
 *       buffer in the same JVM, right before ({@code load_ratio} = raw_read_s / load_s; 1 would be loading at the
 *       speed of the bytes). Both read from the page cache: the files were just written.</li>
 *   <li>{@code peak_rss_ratio} = (peak resident memory while loading - resident just before) / float32 size of the
 *       weights, from the kernel's VmHWM after a clear_refs reset; the target is at most 1.3.</li>
 *   <li>training tokens/s: LoRA r 8 on q_proj and v_proj (OPPU's per-user adapter), steps of the trainer's own
 *       {@link AdapterTraining#train} (forward, backward to the adapter, AdamW step) on batches of random sequences,
 *       loss on the last {@code --train-answer} tokens of each, as the trainer's examples count answers; timed
 *       between the trainer's step callbacks from the end of the first step (which follows the trainer's loss pass
 *       over the examples) to the end of the last; tokens counted as sequences x length.</li>
 *   <li>generation tokens/s: greedy with a KV cache ({@link Generator}), every row with the trained adapter as
 *       serving runs it, at each {@code --gen-batches} size; new tokens / wall time, prompt prefill included
 *       ({@code gen_bN_tokens_per_s}); the same call for one new token gives {@code gen_bN_first_token_s}, and the
 *       other tokens over the difference {@code gen_bN_decode_tokens_per_s} (the cached steps alone).</li>
 * </ul>
 * Each phase also reports {@code *_cpu_per_wall}: this process's CPU time over the phase's wall time (up to the
 * number of intra-op threads on an idle machine; much less on a machine busy with other work).
 * The checkpoint goes to {@code --dir} (default {@code out/bench-load}, inside the clone) and is deleted at the end
 * unless {@code --keep}.
 */
@Command(name = "load", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Write a random bf16 sharded checkpoint of Qwen2.5-0.5B's shape, load it, time a LoRA training step"
        + " and generation at that shape; last line is one JSON object.")
public final class LoadBench implements Callable<Integer> {

  /** Where and in what precision the model computes (one default for every command). */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.DeviceOptions device = new dev.oppu.cli.DeviceOptions();

  @Option(names = "--dir", defaultValue = "out/bench-load",
      description = "scratch folder for the checkpoint (default ${DEFAULT-VALUE})")
  Path dir;

  @Option(names = "--shard-mb", defaultValue = "300",
      description = "shard size limit in MB of 10^6 bytes, as save_pretrained's max_shard_size (default"
          + " ${DEFAULT-VALUE}: 4 shards at this shape)")
  double shardMb;

  @Option(names = "--keep", description = "keep the checkpoint in --dir after the run")
  boolean keep;

  @Option(names = "--train-batch", defaultValue = "4", description = "sequences per training step (${DEFAULT-VALUE})")
  int trainBatch;

  @Option(names = "--train-seq", defaultValue = "64", description = "tokens per sequence (${DEFAULT-VALUE})")
  int trainSeq;

  @Option(names = "--train-answer", defaultValue = "16",
      description = "tokens of each sequence the loss counts, at its end (${DEFAULT-VALUE})")
  int trainAnswer;

  @Option(names = "--train-steps", defaultValue = "3",
      description = "measured training steps, after one that is not (${DEFAULT-VALUE})")
  int trainSteps;

  @Option(names = "--gen-batches", split = ",", defaultValue = "1,8",
      description = "generation batch sizes (${DEFAULT-VALUE})")
  List<Integer> genBatches;

  @Option(names = "--gen-prompt", defaultValue = "32", description = "prompt tokens per row (${DEFAULT-VALUE})")
  int genPrompt;

  @Option(names = "--gen-new", defaultValue = "16", description = "new tokens per row (${DEFAULT-VALUE})")
  int genNew;

  @Option(names = "--threads", defaultValue = "0",
      description = "PyTorch intra-op threads (default: DJL's choice)")
  int threads;

  @Option(names = "--progress", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "progress bars on stderr (default on)")
  boolean progress;

  /** The shape; tests set a tiny one. */
  LlamaConfig shape = LlamaConfig.qwen25_05B();

  /** Its name in the JSON. */
  String shapeName = "qwen2.5-0.5b";

  static final String BASELINE = "raw read of the same shard files (page cache warm, 1 MiB buffer, same JVM)";

  @Override
  public Integer call() throws Exception {
    device.check();
    if (threads > 0) {
      System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
    }
    if (trainAnswer < 1 || trainAnswer >= trainSeq || trainBatch < 1 || trainSteps < 1 || genPrompt < 1
        || genNew < 1 || shardMb <= 0) {
      throw new IllegalArgumentException("need 0 < --train-answer < --train-seq, positive batch, steps, prompt,"
          + " new tokens and shard size");
    }
    Progress bars = progress ? Progress.console() : Progress.none();
    long f32Bytes = shape.parameterCount() * 4;
    long direct = maxDirectMemory();
    if (direct > 0 && direct < f32Bytes + (f32Bytes >> 3)) {
      // the loader puts each float32 tensor in a direct buffer: the weights must fit the JVM's direct-memory limit
      throw new IllegalStateException(String.format("the float32 weights need %,d MB of direct memory, the JVM"
          + " allows %,d MB: raise -Xmx or -XX:MaxDirectMemorySize (OPPU_JAVA_OPTS)", f32Bytes >> 20, direct >> 20));
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "load");
    out.put("shape", shapeName);
    out.put("model_type", shape.family().modelType());
    out.put("parameters", shape.parameterCount());
    out.put("bf16_bytes", RandomCheckpoint.bf16Bytes(shape));
    out.put("f32_bytes", f32Bytes);

    Files.createDirectories(dir);
    try {
      long t0 = System.nanoTime();
      RandomCheckpoint.Written written;
      try (Progress.Bar bar = bars.start("write bf16 (MB)", RandomCheckpoint.bf16Bytes(shape) >> 20)) {
        written = RandomCheckpoint.writeBf16(shape, dir, (long) (shardMb * 1e6), b -> bar.stepTo(b >> 20));
      }
      double writeS = seconds(t0);
      System.err.printf("wrote %d shard file(s), %,d MB of bf16, in %.1f s to %s%n", written.shards().size(),
          written.bytes() >> 20, writeS, dir);
      out.put("shards", written.shards().size());
      out.put("write_s", round(writeS));

      long[] raw = rawRead(written.shards());
      double rawS = raw[1] / 1e9;
      System.err.printf("raw read of the shards: %,d MB in %.2f s%n", raw[0] >> 20, rawS);

      try (NDManager m = NDManager.newBaseManager(device.djlDevice())) {
        warmEngine(m);
        Loaded loaded = load(dir, m, f32Bytes, bars);
        try (LlamaModel model = loaded.model()) {
          System.err.printf("load: %.2f s; resident before %,d MB, peak %,d MB: peak_rss_ratio %s%n", loaded.seconds(),
              loaded.before() >> 20, loaded.peak() >> 20, loaded.peakRatio() == null ? "not measurable here"
                  : String.format("%.3f", loaded.peakRatio()));
          out.put("load_s", round(loaded.seconds()));
          out.put("raw_read_s", round(rawS));
          out.put("baseline", BASELINE);
          out.put("load_ratio", round(rawS / loaded.seconds()));
          out.put("ratio", round(rawS / loaded.seconds()));
          out.put("load_cpu_per_wall", round(loaded.cpuSeconds() / loaded.seconds()));
          out.put("rss_before_mb", loaded.before() >> 20);
          out.put("peak_rss_mb", loaded.peak() >> 20);
          out.put("peak_rss_ratio", loaded.peakRatio() == null ? null : round(loaded.peakRatio()));
          out.put("resident_ratio", loaded.residentRatio() == null ? null : round(loaded.residentRatio()));

          try (LoraAdapter adapter = LoraAdapter.create(shape, LoraConfig.oppuUser(), 7, m)) {
            Train t = train(model, adapter, bars);
            System.err.printf("training (LoRA q,v r 8; batch %d x %d tokens, loss on the last %d): %.1f tokens/s,"
                + " %.2f s/step, loss %.3f -> %.3f%n", trainBatch, trainSeq, trainAnswer, t.tokensPerS(),
                t.stepS(), t.lossBefore(), t.lossAfter());
            out.put("train_tokens_per_s", round(t.tokensPerS()));
            out.put("train_step_s", round(t.stepS()));
            out.put("train_cpu_per_wall", round(t.cpuPerWall()));
            out.put("train_batch", trainBatch);
            out.put("train_seq", trainSeq);
            out.put("train_answer", trainAnswer);
            out.put("train_steps", trainSteps);
            out.put("lora", "q_proj,v_proj r 8");

            new Generator(model).generate(List.of(new int[] {1, 2, 3}), List.of(adapter),
                Generator.Options.greedy(2).withoutEosStop()); // warm-up, not counted
            for (int b : genBatches) {
              Gen g = generate(model, adapter, b);
              System.err.printf("generation, batch %d, prompt %d, %d new tokens: %.2f tokens/s (prefill + first"
                  + " token %.1f s, then %.2f tokens/s)%n", b, genPrompt, genNew, g.tokensPerS(), g.firstS(),
                  g.decodeTokensPerS());
              out.put("gen_b" + b + "_tokens_per_s", round(g.tokensPerS()));
              out.put("gen_b" + b + "_first_token_s", round(g.firstS()));
              out.put("gen_b" + b + "_decode_tokens_per_s",
                  Double.isNaN(g.decodeTokensPerS()) ? null : round(g.decodeTokensPerS()));
              out.put("gen_b" + b + "_cpu_per_wall", round(g.cpuPerWall()));
            }
            out.put("gen_prompt", genPrompt);
            out.put("gen_new", genNew);
          }
        }
      }
    } finally {
      if (!keep) {
        deleteCheckpoint(dir);
      }
    }
    out.put("threads", threads > 0 ? Integer.toString(threads) : "default");
    System.out.println(new ObjectMapper().writeValueAsString(out));
    return 0;
  }

  /** A loaded model and what loading it cost. */
  record Loaded(LlamaModel model, double seconds, double cpuSeconds, long before, long peak, long after,
      Double peakRatio,
      Double residentRatio) {
  }

  /**
   * Loads {@code dir} as the product does and measures it: resident memory just before (after a settled GC), the
   * kernel's peak during (reset right before), resident after; a bar shows the resident growth meanwhile.
   */
  static Loaded load(Path dir, NDManager m, long f32Bytes, Progress bars) throws IOException, InterruptedException {
    ResidentMemory.settle(500);
    boolean resettable = ResidentMemory.resetPeak();
    long before = ResidentMemory.rssBytes();
    AtomicBoolean done = new AtomicBoolean();
    Thread watcher;
    LlamaModel model;
    long t0;
    long cpu0;
    double s;
    double cpu;
    try (Progress.Bar bar = bars.start("load (resident MB)", f32Bytes >> 20)) {
      watcher = new Thread(() -> {
        while (!done.get()) {
          long now = ResidentMemory.rssBytes();
          if (now > 0 && before > 0) {
            bar.stepTo(Math.max(0, now - before) >> 20);
          }
          try {
            Thread.sleep(Progress.TICK.toMillis());
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "bench-load-rss");
      watcher.setDaemon(true);
      watcher.start();
      t0 = System.nanoTime();
      cpu0 = cpuNanos();
      try {
        model = LlamaModel.load(dir, m);
        s = seconds(t0);
        cpu = (cpuNanos() - cpu0) / 1e9;
      } finally {
        done.set(true);
        watcher.join();
      }
    }
    long peak = ResidentMemory.peakBytes();
    long after = ResidentMemory.rssBytes();
    boolean measured = resettable && before > 0 && peak > 0;
    return new Loaded(model, s, cpu, before, peak, after, measured ? (peak - before) / (double) f32Bytes : null,
        measured && after > 0 ? (after - before) / (double) f32Bytes : null);
  }

  /** Reads every byte of the files through one 1 MiB direct buffer: {bytes, nanoseconds}. */
  static long[] rawRead(List<Path> files) throws IOException {
    ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
    long bytes = 0;
    long t0 = System.nanoTime();
    for (Path f : files) {
      try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
        int n;
        while ((n = ch.read(buf.clear())) >= 0) {
          bytes += n;
        }
      }
    }
    return new long[] {bytes, System.nanoTime() - t0};
  }

  /** Starts the engine and runs the ops the model's constructor runs, so their first-use cost is not the load's. */
  static void warmEngine(NDManager m) {
    try (NDManager tmp = m.newSubManager()) {
      NDArray e = tmp.arange(0, 64, 2, DataType.INT64).toType(DataType.FLOAT32, false).div(64f);
      NDArray pow = tmp.create(1e6f).pow(e);
      tmp.ones(pow.getShape()).div(pow).toFloatArray();
    }
  }

  /** Result of the training measurement. */
  record Train(double tokensPerS, double stepS, double cpuPerWall, double lossBefore, double lossAfter) {
  }

  /**
   * {@code 1 + --train-steps} steps of {@link AdapterTraining#train} (one epoch over that many batches), the first
   * not measured.
   */
  Train train(LlamaModel model, LoraAdapter adapter, Progress bars) {
    int steps = trainSteps + 1;
    SplittableRandom rnd = new SplittableRandom(11);
    List<TokenizedExample> examples = new ArrayList<>();
    for (int i = 0; i < steps * trainBatch; i++) {
      int[] tokens = new int[trainSeq];
      for (int j = 0; j < trainSeq; j++) {
        tokens[j] = rnd.nextInt(shape.vocabSize());
      }
      examples.add(new TokenizedExample(tokens, trainSeq - trainAnswer, i));
    }
    long[] ends = new long[steps + 1];
    long[] cpuEnds = new long[steps + 1];
    AdapterTraining.Result r;
    try (Progress.Bar bar = bars.start("train steps", steps)) {
      r = AdapterTraining.train(new LlamaLoraLm(model), adapter, examples,
          new AdapterTraining.Config(1, trainBatch, AdamW.Config.oppu(1e-4)), 0, 42, (step, total, loss) -> {
            ends[step] = System.nanoTime();
            cpuEnds[step] = cpuNanos();
            bar.stepTo(step);
          });
    }
    if (r.steps() != steps) {
      throw new IllegalStateException("training stopped after " + r.steps() + " of " + steps + " steps");
    }
    double s = (ends[steps] - ends[1]) / 1e9;
    return new Train((double) trainBatch * trainSeq * trainSteps / s, s / trainSteps,
        (cpuEnds[steps] - cpuEnds[1]) / 1e9 / s, r.lossBefore(), r.lossAfter());
  }

  /**
   * Greedy generation at one batch size: new tokens / wall time of the whole call ({@code tokensPerS}), the time of
   * the same call for one new token (prompt prefill + first token, {@code firstS}), and the tokens after the first
   * over the difference ({@code decodeTokensPerS}: the KV-cached steps alone); CPU time / wall time of both calls.
   */
  record Gen(double tokensPerS, double firstS, double decodeTokensPerS, double cpuPerWall) {
  }

  /** {@link Gen} at batch {@code b}, every row with {@code adapter}. */
  Gen generate(LlamaModel model, LoraAdapter adapter, int b) {
    SplittableRandom rnd = new SplittableRandom(13 + b);
    List<int[]> prompts = new ArrayList<>();
    for (int i = 0; i < b; i++) {
      int[] p = new int[genPrompt];
      for (int j = 0; j < p.length; j++) {
        p[j] = rnd.nextInt(shape.vocabSize());
      }
      prompts.add(p);
    }
    List<LoraAdapter> adapters = Collections.nCopies(b, adapter);
    Generator g = new Generator(model);
    long cpu0 = cpuNanos();
    long t0 = System.nanoTime();
    g.generate(prompts, adapters, Generator.Options.greedy(1).withoutEosStop());
    double first = seconds(t0);
    t0 = System.nanoTime();
    List<int[]> outs = g.generate(prompts, adapters, Generator.Options.greedy(genNew).withoutEosStop());
    double s = seconds(t0);
    double cpu = (cpuNanos() - cpu0) / 1e9;
    long tokens = outs.stream().mapToLong(o -> o.length).sum();
    if (tokens != (long) b * genNew) {
      throw new IllegalStateException("generated " + tokens + " tokens, expected " + (long) b * genNew);
    }
    double decode = genNew > 1 && s > first ? (double) b * (genNew - 1) / (s - first) : Double.NaN;
    return new Gen(tokens / s, first, decode, cpu / (first + s));
  }

  /** CPU time of this process so far (all threads), in nanoseconds; -1 if the JVM does not say. */
  static long cpuNanos() {
    var os = ManagementFactory.getOperatingSystemMXBean();
    return os instanceof com.sun.management.OperatingSystemMXBean b ? b.getProcessCpuTime() : -1;
  }

  /** The JVM's direct-memory limit in bytes (its default is the heap limit), or -1 if it cannot be read. */
  static long maxDirectMemory() {
    try {
      var bean = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
      long v = Long.parseLong(bean.getVMOption("MaxDirectMemorySize").getValue());
      return v > 0 ? v : Runtime.getRuntime().maxMemory();
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** Removes what {@link RandomCheckpoint#writeBf16} wrote into {@code dir}, nothing else. */
  static void deleteCheckpoint(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) {
        String n = p.getFileName().toString();
        if (n.endsWith(".safetensors") || n.equals("model.safetensors.index.json") || n.equals("config.json")
            || n.equals("generation_config.json")) {
          Files.delete(p);
        }
      }
    }
  }

  private static double seconds(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
