package dev.oppu.trainer;

import ai.djl.ndarray.NDManager;
import dev.oppu.lamp.Task;
import dev.oppu.model.CausalLm;
import dev.oppu.model.Generator;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.trainer.examples.ExampleBuilder;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.examples.Variant;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/** Exploratory harness (main): trainings vs concurrent generation on one model; compares with solo runs. */
public final class ConcurrencyRepro {
  public static void main(String[] args) throws Exception {
    int users = Integer.parseInt(args.length > 0 ? args[0] : "12");
    int servers = Integer.parseInt(args.length > 1 ? args[1] : "2");
    boolean serverGradOff = args.length > 2 && args[2].equals("gradoff");
    Path dir = Files.createTempDirectory("repro");
    try (TinyWorld w = new TinyWorld(dir)) {
      UserAdapterUpdater.Settings s = TinyWorld.settings(2e-2);
      List<List<TokenizedExample>> data = new ArrayList<>();
      for (int u = 0; u < users; u++) {
        List<Map<String, String>> f = TinyWorld.history("u" + u, 24, 1000 + u).stream()
            .map(UserAdapterUpdater.Item::fields).toList();
        data.add(new ExampleBuilder(Task.MOVIE_TAGGING, s.examples(Variant.PLAIN), w.encoder).build(f, null, 0));
      }
      List<byte[]> solo = new ArrayList<>();
      for (int u = 0; u < users; u++) {
        solo.add(train(w, s, data.get(u), u));
      }
      int soloBad = (int) solo.stream().filter(b -> b == null).count();
      int soloDiff = -1;
      System.out.println("solo: non-finite " + soloBad + ", differ on rerun " + soloDiff);

      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong gens = new AtomicLong();
      List<Thread> threads = new ArrayList<>();
      List<int[]> prompts = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        prompts.add(data.get(i).get(0).tokens());
      }
      for (int t = 0; t < servers; t++) {
        int id = t;
        Thread th = new Thread(() -> {
          if (serverGradOff) {
            ai.djl.pytorch.jni.JniUtils.setGradMode(false);
          }
          try (NDManager m = w.model.manager().newSubManager()) {
            LoraAdapter a = LoraAdapter.create(w.model.config(), new LoraConfig(8, 16, 0.05,
                List.of("q_proj", "v_proj"), false), 100 + id, m);
            Generator g = new Generator(w.model, w.encoder.padId(), new int[0]);
            while (!stop.get()) {
              g.generate(prompts, Arrays.asList(a, null, a, null), Generator.Options.greedy(8));
              CausalLm.candidateLogProbs(w.model, prompts.get(0), List.of(new int[] {5, 6}, new int[] {7}), a);
              gens.incrementAndGet();
            }
          } catch (Throwable e) {
            e.printStackTrace();
          }
        }, "server-" + t);
        th.start();
        threads.add(th);
      }
      if (args.length > 3 && args[3].equals("gc")) {
        Thread gc = new Thread(() -> {
          while (!stop.get()) {
            System.gc();
            try {
              Thread.sleep(2);
            } catch (InterruptedException e) {
              return;
            }
          }
        }, "gc-hammer");
        gc.start();
        threads.add(gc);
      }
      int bad = 0;
      int diff = 0;
      for (int u = 0; u < users; u++) {
        byte[] b = train(w, s, data.get(u), u);
        if (b == null) {
          bad++;
        } else if (solo.get(u) == null || !Arrays.equals(b, solo.get(u))) {
          diff++;
          float[] x = floats(b);
          float[] y = floats(solo.get(u));
          double md = 0;
          for (int i = 0; i < x.length; i++) {
            md = Math.max(md, Math.abs(x[i] - y[i]));
          }
          System.out.println("user " + u + " max abs diff " + md + " steps solo " + LOSSES.get(u) + " conc " + LAST);
        }
      }
      stop.set(true);
      for (Thread th : threads) {
        th.join();
      }
      System.out.println("concurrent: non-finite " + bad + ", finite but differ from solo " + diff + " of " + users
          + " (" + gens.get() + " generation rounds)");
    }
  }

  static final Map<Integer, List<Double>> LOSSES = new java.util.HashMap<>();
  static List<Double> LAST;
  static final Map<Integer, List<byte[]>> SNAPS = new java.util.HashMap<>();

  static float[] floats(byte[] b) {
    java.nio.FloatBuffer fb = java.nio.ByteBuffer.wrap(b)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    float[] f = new float[fb.remaining()];
    fb.get(f);
    return f;
  }

  static byte[] train(TinyWorld w, UserAdapterUpdater.Settings s, List<TokenizedExample> ex, int u) {
    try (LoraAdapter a = LoraAdapter.create(w.model.config(), s.lora(), 7 + u, w.model.manager())) {
      List<Double> losses = new ArrayList<>();
      List<byte[]> snaps = new ArrayList<>();
      AdapterTraining.Result r = AdapterTraining.train(w.lm, a, ex, s.training(), w.encoder.padId(), 11 + u,
          (st, tot, l) -> {
            losses.add(l);
            snaps.add(a.rawBytes());
          });
      losses.add(0, r.lossBefore());
      losses.add(r.lossAfter());
      LOSSES.putIfAbsent(u, losses);
      if (SNAPS.containsKey(u)) {
        List<byte[]> ref = SNAPS.get(u);
        for (int i = 0; i < Math.min(ref.size(), snaps.size()); i++) {
          if (!Arrays.equals(ref.get(i), snaps.get(i))) {
            float[] x = floats(snaps.get(i));
            float[] y = floats(ref.get(i));
            int n = 0;
            int first = -1;
            double md = 0;
            for (int j = 0; j < x.length; j++) {
              if (x[j] != y[j]) {
                n++;
                if (first < 0) {
                  first = j;
                }
                md = Math.max(md, Math.abs(x[j] - y[j]));
              }
            }
            System.out.println("user " + u + " first differs after step " + (i + 1) + ": " + n + " of " + x.length
                + " values, first index " + first + ", max abs diff " + md + ", loss solo "
                + LOSSES.get(u).get(i + 1) + " conc " + losses.get(i + 1));
            break;
          }
        }
      } else {
        SNAPS.put(u, snaps);
      }
      LAST = losses;
      return r.finite() ? a.rawBytes() : null;
    }
  }
}
