package dev.oppu.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.model.CausalLm;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code oppu bench model}: LoRA training throughput (forward + backward through a frozen base) against DJL's float32
 * 1024^3 matmul in the same JVM. FLOPs per token, as SPEC section 5 counts them: 4 x the weights used in matmuls
 * (lm_head included; forward 2, backward 2 for the input gradients a frozen base still needs) plus the attention
 * scores: QK^T and AV over the full T x T block, 4 T (heads x head_dim) per layer forward, three times that with the
 * backward.
 */
@Command(name = "model", description = "LoRA training throughput of the default model and a SmolLM2-135M-shaped "
    + "model vs DJL float32 matmul; last line is one JSON object.")
public final class ModelBench implements Callable<Integer> {

  @Option(names = "--batch", defaultValue = "16", description = "sequences per step (default ${DEFAULT-VALUE})")
  int batch;

  @Option(names = "--seq", defaultValue = "256", description = "tokens per sequence (default ${DEFAULT-VALUE})")
  int seq;

  @Option(names = "--steps", defaultValue = "4", description = "measured steps, default model")
  int steps;

  @Option(names = "--smol-steps", defaultValue = "1", description = "measured steps, SmolLM2-135M shape; 0 skips it")
  int smolSteps;

  @Option(names = "--user-update", defaultValue = "true", negatable = true, fallbackValue = "true",
      description = "also time a per-user update on the default model: 100 examples x 2 epochs of 200 tokens")
  boolean userUpdate;

  /** Where and in what precision the model computes (one default for every command). */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.DeviceOptions device = new dev.oppu.cli.DeviceOptions();

  @Option(names = "--threads", defaultValue = "0",
      description = "PyTorch intra-op threads for model and baseline alike (default: DJL's choice)")
  int threads;

  @Override
  public Integer call() throws Exception {
    device.check();
    if (threads > 0) {
      // Read once when the engine starts: nothing has touched DJL yet in this JVM.
      System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
    }
    Map<String, Object> out = new LinkedHashMap<>();
    try (NDManager m = NDManager.newBaseManager(device.djlDevice())) {
      LlamaConfig def = LlamaConfig.defaultSmall();
      Baseline base = new Baseline(m);
      double[] d = trainThroughput(m, def, batch, seq, 1, steps, base);
      double matmul = base.gflops();
      System.err.printf("matmul 1024^3 float32 (interleaved with the steps): %.1f GFLOP/s%n", matmul);
      double defGflops = d[0] * flopsPerToken(def, seq) / 1e9;
      System.err.printf("default model (%d params): %.0f tokens/s, %.2f GFLOP/s, %.3f s/step%n",
          def.parameterCount(), d[0], defGflops, d[1]);
      out.put("tokens_per_s", round(d[0]));
      out.put("gflops", round(defGflops));
      out.put("matmul_gflops", round(matmul));
      out.put("ratio", round(defGflops / matmul));
      out.put("batch", batch);
      out.put("seq", seq);
      out.put("default_params", def.parameterCount());
      out.put("default_flops_per_token", flopsPerToken(def, seq));
      out.put("default_step_s", round(d[1]));

      if (userUpdate) {
        // 100 examples, 2 epochs, batch 16: 7 steps per epoch (the last one holds 4 examples).
        long t0 = System.nanoTime();
        trainThroughput(m, def, 16, 200, 0, 2 * 6, null);
        trainThroughput(m, def, 4, 200, 0, 2, null);
        double s = (System.nanoTime() - t0) / 1e9;
        System.err.printf("per-user update, default model, 100 examples x 2 epochs x 200 tokens: %.1f s%n", s);
        out.put("user_update_s", round(s));
      }

      if (smolSteps > 0) {
        LlamaConfig smol = LlamaConfig.smolLm2_135M();
        Baseline smolBase = new Baseline(m);
        double[] s = trainThroughput(m, smol, batch, seq, 0, smolSteps, smolBase);
        double g = s[0] * flopsPerToken(smol, seq) / 1e9;
        System.err.printf("SmolLM2-135M shape (%d params): %.0f tokens/s, %.2f GFLOP/s, %.1f s/step%n",
            smol.parameterCount(), s[0], g, s[1]);
        out.put("smol_tokens_per_s", round(s[0]));
        out.put("smol_gflops", round(g));
        out.put("smol_matmul_gflops", round(smolBase.gflops()));
        out.put("smol_ratio", round(g / smolBase.gflops()));
        out.put("smol_step_s", round(s[1]));
      }
      out.put("threads", threads > 0 ? Integer.toString(threads) : "default");
    }
    System.out.println(new ObjectMapper().writeValueAsString(out));
    return 0;
  }

  /** FLOPs per trained token, as documented on the class. */
  static long flopsPerToken(LlamaConfig c, int seq) {
    // All weights but the norms; a tied embedding counts once (as lm_head), an untied input embedding is a
    // lookup, not a matmul.
    long matmulWeights = c.parameterCount() - (long) c.hiddenSize() * (2L * c.numLayers() + 1);
    if (!c.tieWordEmbeddings()) {
      matmulWeights -= (long) c.vocabSize() * c.hiddenSize();
    }
    long attention = 3L * 4L * seq * c.qDim() * c.numLayers();
    return 4 * matmulWeights + attention;
  }

  /**
   * DJL's float32 1024^3 matmul, measured in bursts right after each measured training step, so the two share the
   * machine's conditions (other processes, frequency) as closely as one JVM allows.
   */
  static final class Baseline {
    private final NDArray a;
    private final NDArray b;
    private double flops;
    private double seconds;

    Baseline(NDManager m) {
      a = m.randomUniform(-1, 1, new Shape(1024, 1024), DataType.FLOAT32);
      b = m.randomUniform(-1, 1, new Shape(1024, 1024), DataType.FLOAT32);
      burst(3); // warm-up, not counted
      flops = 0;
      seconds = 0;
    }

    void burst(int n) {
      long t0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        NDArray c = a.matMul(b);
        c.getFloat(0, 0); // force completion
        c.close();
      }
      seconds += (System.nanoTime() - t0) / 1e9;
      flops += n * 2.0 * 1024 * 1024 * 1024;
    }

    double gflops() {
      return flops / seconds / 1e9;
    }
  }

  /**
   * Runs {@code warmup + steps} LoRA training steps (loss, gradients, an SGD update) on random tokens, each measured
   * step followed by a baseline burst.
   *
   * @return {tokens per second, seconds per step} over the measured steps
   */
  static double[] trainThroughput(NDManager m, LlamaConfig c, int batch, int seq, int warmup, int steps,
      Baseline baseline) {
    try (LlamaModel model = LlamaModel.random(c, 1, m);
        LoraAdapter adapter = LoraAdapter.create(c, LoraConfig.oppuUser(), 2, m)) {
      Random rnd = new Random(3);
      long[] ids = new long[batch * seq];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = rnd.nextInt(c.vocabSize());
      }
      long elapsed = 0;
      for (int step = 0; step < warmup + steps; step++) {
        long t0 = System.nanoTime();
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          NDArray x = m.create(ids, new Shape(batch, seq));
          try (CausalLm.LossAndGradients lg = CausalLm.lossAndGradients(model, adapter, x, null, x, true, m)) {
            Map<String, NDArray> params = adapter.parameters();
            lg.gradients().forEach((k, g) -> params.get(k).subi(g.mul(1e-3f)));
          }
        }
        if (step >= warmup) {
          elapsed += System.nanoTime() - t0;
          if (baseline != null) {
            baseline.burst(10);
          }
        }
      }
      double s = elapsed / 1e9;
      return new double[] {(double) batch * seq * steps / s, s / steps};
    }
  }

  private static double round(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
