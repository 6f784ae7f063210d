package dev.oppu.bench;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.TextTokenizer;
import dev.oppu.serving.BatchGenerator;
import dev.oppu.serving.ModelBatchGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Developer tool, not a test: times {@link ModelBatchGenerator#generate} on the serve bench's rows (LaMP_2M,
 * constrained, each row its own user adapter) outside Kafka. Args: rows (32), iterations (20), adapters (rows).
 */
public final class ServeStagesMain {
  public static void main(String[] args) throws Exception {
    int rows = args.length > 0 ? Integer.parseInt(args[0]) : 32;
    int iters = args.length > 1 ? Integer.parseInt(args[1]) : 20;
    int nAdapters = args.length > 2 ? Integer.parseInt(args[2]) : rows;
    Path dir = ServeBench.defaultModel(Files.createTempDirectory("oppu-stages").resolve("model"));
    try (NDManager m = NDManager.newBaseManager();
        LlamaModel model = LlamaModel.load(dir, m);
        TextTokenizer tok = TextTokenizer.load(dir, model.config())) {
      List<BatchGenerator.LoadedAdapter> adapters = new ArrayList<>();
      for (int i = 0; i < nAdapters; i++) {
        LoraAdapter a = LoraAdapter.create(model.config(), LoraConfig.oppuUser(), i, m);
        for (String p : a.modulePaths()) {
          a.b(p).addi(m.randomNormal(0, 0.02f, a.b(p).getShape(), DataType.FLOAT32));
        }
        adapters.add(ModelBatchGenerator.loaded(a, Task.MOVIE_TAGGING));
      }
      ModelBatchGenerator gen = new ModelBatchGenerator(
          Map.of(Task.MOVIE_TAGGING, new ModelBatchGenerator.TaskModel(model, "b", "t")), tok,
          ModelBatchGenerator.Options.greedy());
      Random rnd = new Random(42);
      Task task = Task.MOVIE_TAGGING;
      List<List<BatchGenerator.Row>> batches = new ArrayList<>();
      for (int it = 0; it < iters + 3; it++) {
        List<BatchGenerator.Row> rs = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
          Task.Extracted x = task.extract(task.lampInput(ServeBench.text(rnd, 30), List.of()));
          String prompt = task.buildInput(null, List.of(), task.prompt(x));
          rs.add(new BatchGenerator.Row(task, prompt, adapters.get((it * rows + i) % nAdapters), 8, task.labels()));
        }
        batches.add(rs);
      }
      System.out.println("prompt tokens: " + tok.encodeWithSpecialTokens(batches.get(0).get(0).prompt()).length
          + ", candidates " + task.labels().size() + " of tokens " + task.labels().stream()
          .map(l -> Integer.toString(tok.encode(" " + l).length)).toList());
      List<String> first = null;
      long[] ns = new long[iters];
      long[] cpu = new long[iters];
      java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
      for (int it = 0; it < iters + 3; it++) {
        long t0 = System.nanoTime();
        long c0 = mx.getCurrentThreadCpuTime();
        List<String> out = gen.generate(batches.get(it));
        long t = System.nanoTime() - t0;
        if (it >= 3) {
          ns[it - 3] = t;
          cpu[it - 3] = mx.getCurrentThreadCpuTime() - c0;
        }
        if (first == null) {
          first = out;
        }
      }
      java.util.Arrays.sort(ns);
      java.util.Arrays.sort(cpu);
      System.out.printf("rows %d: generate median %.1f ms (%.2f ms/row), min %.1f ms, max %.1f ms; calling thread "
          + "CPU median %.1f ms (%.2f ms/row), min %.1f ms; answers %s%n",
          rows, ns[iters / 2] / 1e6, ns[iters / 2] / 1e6 / rows, ns[0] / 1e6, ns[iters - 1] / 1e6,
          cpu[iters / 2] / 1e6, cpu[iters / 2] / 1e6 / rows, cpu[0] / 1e6,
          first.subList(0, Math.min(4, first.size())));
    }
  }
}
