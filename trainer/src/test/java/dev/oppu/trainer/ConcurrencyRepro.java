package dev.oppu.trainer;

import dev.oppu.lamp.Task;
import dev.oppu.model.CausalLm;
import dev.oppu.model.Generator;
import dev.oppu.model.LoraAdapter;
import dev.oppu.trainer.examples.ExampleBuilder;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.examples.Variant;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Measures the rate of non-finite / diverging trainings under concurrent model use (a main, not a test; the bounded
 * regression test is {@link ConcurrentTrainingTest}). Trains {@code users} adapters alone, recording the adapter after
 * every step, then trains them again while {@code servers} threads generate with the same base model (and, with
 * {@code gc}, a thread calls System.gc() every 2 ms), and reports how many came out non-finite or differ from the
 * solo run, with the first step at which each one diverged.
 *
 * <p>Run: {@code java -cp <trainer test classpath> dev.oppu.trainer.ConcurrencyRepro <users> <servers> [gc]}
 */
public final class ConcurrencyRepro {

  private record Run(boolean finite, byte[] weights, List<Double> losses, List<byte[]> afterStep) {}

  public static void main(String[] args) throws Exception {
    int users = Integer.parseInt(args.length > 0 ? args[0] : "12");
    int servers = Integer.parseInt(args.length > 1 ? args[1] : "2");
    boolean gc = Arrays.asList(args).contains("gc");
    Path dir = Files.createTempDirectory("repro");
    try (TinyWorld w = new TinyWorld(dir)) {
      UserAdapterUpdater.Settings s = TinyWorld.settings(2e-2);
      List<List<TokenizedExample>> data = new ArrayList<>();
      for (int u = 0; u < users; u++) {
        List<Map<String, String>> f = TinyWorld.history("u" + u, 24, 1000 + u).stream()
            .map(UserAdapterUpdater.Item::fields).toList();
        data.add(new ExampleBuilder(Task.MOVIE_TAGGING, s.examples(Variant.PLAIN), w.encoder).build(f, null, 0));
      }
      List<Run> solo = new ArrayList<>();
      for (int u = 0; u < users; u++) {
        solo.add(train(w, s, data.get(u), u));
      }
      System.out.println("alone: non-finite " + solo.stream().filter(r -> !r.finite()).count() + " of " + users);

      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong rounds = new AtomicLong();
      List<Thread> threads = new ArrayList<>();
      List<int[]> prompts = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        prompts.add(data.get(i % users).get(0).tokens());
      }
      for (int t = 0; t < servers; t++) {
        int id = t;
        // grad mode left at PyTorch's per-thread default (on), as on a Kafka Streams thread
        threads.add(new Thread(() -> {
          try (LoraAdapter a = LoraAdapter.create(w.model.config(), s.lora(), 100 + id, w.model.manager())) {
            Generator g = new Generator(w.model, w.encoder.padId(), new int[0]);
            while (!stop.get()) {
              g.generate(prompts, Arrays.asList(a, null, a, null), Generator.Options.greedy(8));
              CausalLm.candidateLogProbs(w.model, prompts.get(0), List.of(new int[] {5, 6}, new int[] {7}), a);
              rounds.incrementAndGet();
            }
          }
        }, "server-" + t));
      }
      if (gc) {
        threads.add(new Thread(() -> {
          while (!stop.get()) {
            System.gc();
            try {
              Thread.sleep(2);
            } catch (InterruptedException e) {
              return;
            }
          }
        }, "gc"));
      }
      threads.forEach(Thread::start);
      int bad = 0;
      int diff = 0;
      try {
        for (int u = 0; u < users; u++) {
          Run r = train(w, s, data.get(u), u);
          bad += r.finite() ? 0 : 1;
          diff += r.finite() && !Arrays.equals(r.weights(), solo.get(u).weights()) ? 1 : 0;
          report(u, solo.get(u), r);
        }
      } finally {
        stop.set(true);
        for (Thread th : threads) {
          th.join();
        }
      }
      System.out.println("concurrent (" + servers + " generating threads" + (gc ? ", GC every 2 ms" : "") + "): "
          + "non-finite " + bad + ", finite but different from alone " + diff + ", of " + users + " trainings ("
          + rounds.get() + " generation rounds)");
    }
  }

  private static Run train(TinyWorld w, UserAdapterUpdater.Settings s, List<TokenizedExample> ex, int u) {
    try (LoraAdapter a = LoraAdapter.create(w.model.config(), s.lora(), 7 + u, w.model.manager())) {
      List<Double> losses = new ArrayList<>();
      List<byte[]> snaps = new ArrayList<>();
      AdapterTraining.Result r = AdapterTraining.train(w.lm, a, ex, s.training(), w.encoder.padId(), 11 + u,
          (step, total, loss) -> {
            losses.add(loss);
            snaps.add(a.rawBytes());
          });
      return new Run(r.finite(), a.rawBytes(), losses, snaps);
    }
  }

  /** Prints the first optimizer step after which the adapter differs from the solo run, if any. */
  private static void report(int u, Run solo, Run now) {
    for (int i = 0; i < Math.min(solo.afterStep().size(), now.afterStep().size()); i++) {
      if (!Arrays.equals(solo.afterStep().get(i), now.afterStep().get(i))) {
        float[] x = floats(now.afterStep().get(i));
        float[] y = floats(solo.afterStep().get(i));
        int n = 0;
        double maxDiff = 0;
        for (int j = 0; j < x.length; j++) {
          if (Float.compare(x[j], y[j]) != 0) {
            n++;
            maxDiff = Math.max(maxDiff, Math.abs(x[j] - y[j]));
          }
        }
        System.out.printf(java.util.Locale.ROOT, "user %d: adapter differs after step %d (%d of %d values, max abs"
            + " diff %s); that step's loss alone %.6f, now %.6f%n", u, i + 1, n, x.length, maxDiff,
            solo.losses().get(i), now.losses().get(i));
        return;
      }
    }
  }

  private static float[] floats(byte[] b) {
    FloatBuffer fb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] f = new float[fb.remaining()];
    fb.get(f);
    return f;
  }
}
