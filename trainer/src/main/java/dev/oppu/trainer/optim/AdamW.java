package dev.oppu.trainer.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW as PyTorch's {@code torch.optim.AdamW} (decoupled weight decay: {@code p *= 1 - lr * wd}, then the Adam step
 * with bias correction), with HF Trainer's global grad-norm clipping and a linear schedule with warmup. Written on
 * NDArrays because DJL's optimizers clip element-wise, not by the global norm OPPU uses (0.3). Call {@link #step}
 * outside any GradientCollector (grad mode is off there, so in-place updates of the leaves are allowed).
 */
public final class AdamW implements AutoCloseable {

  /** Hyperparameters; OPPU: lr 1e-4, wd 0.01, betas 0.9/0.999, eps 1e-8, clip 0.3, warmup 10%. */
  public record Config(double lr, double weightDecay, double beta1, double beta2, double eps, double maxGradNorm,
      double warmupRatio) {
    public static Config oppu(double lr) {
      return new Config(lr, 0.01, 0.9, 0.999, 1e-8, 0.3, 0.1);
    }
  }

  private final Config config;
  private final List<NDArray> params;
  private final List<NDArray> m = new ArrayList<>();
  private final List<NDArray> v = new ArrayList<>();
  private final NDManager manager;
  private final int totalSteps;
  private final int warmupSteps;
  private int t;
  private double lastGradNorm;

  /** The state lives in a sub-manager of the first parameter's manager, closed with this optimizer. */
  public AdamW(Config config, List<NDArray> params, int totalSteps) {
    this.config = config;
    this.params = params;
    this.totalSteps = Math.max(1, totalSteps);
    this.warmupSteps = (int) Math.ceil(this.totalSteps * config.warmupRatio());
    this.manager = params.get(0).getManager().newSubManager();
    for (NDArray p : params) {
      m.add(manager.zeros(p.getShape(), p.getDataType()));
      v.add(manager.zeros(p.getShape(), p.getDataType()));
    }
  }

  /** HF's get_linear_schedule_with_warmup: 0 -> lr over the warmup steps, then linearly to 0 at the last step. */
  public double learningRate(int step) {
    if (step < warmupSteps) {
      return config.lr() * (step + 1) / (double) Math.max(1, warmupSteps);
    }
    return config.lr() * Math.max(0.0, (totalSteps - step) / (double) Math.max(1, totalSteps - warmupSteps));
  }

  /** The global L2 norm of the gradients before clipping at the last step (NaN if a gradient was not finite). */
  public double lastGradNorm() {
    return lastGradNorm;
  }

  /** Clips by global norm, applies one AdamW update and zeroes the gradients. Returns the learning rate used. */
  public double step() {
    GradMode.off();
    double lr = learningRate(t);
    t++;
    double sq = 0;
    for (NDArray p : params) {
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        // float64: squares of large float32 gradients overflow and would read as a non-finite norm
        sq += p.getGradient().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).square().sum().getDouble();
      }
    }
    lastGradNorm = Math.sqrt(sq);
    double clip = config.maxGradNorm() > 0 && lastGradNorm > config.maxGradNorm()
        ? config.maxGradNorm() / (lastGradNorm + 1e-6) : 1.0;
    double bc1 = 1 - Math.pow(config.beta1(), t);
    double bc2 = 1 - Math.pow(config.beta2(), t);
    for (int i = 0; i < params.size(); i++) {
      NDArray p = params.get(i);
      // every temporary made in the scope is freed at its end; m, v and p are updated in place
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        NDArray g = p.getGradient();
        if (clip != 1.0) {
          g.muli(clip);
        }
        m.get(i).muli(config.beta1()).addi(g.mul(1 - config.beta1()));
        v.get(i).muli(config.beta2()).addi(g.square().muli(1 - config.beta2()));
        if (config.weightDecay() != 0) {
          p.muli(1 - lr * config.weightDecay());
        }
        NDArray denom = v.get(i).div(bc2).sqrt().addi(config.eps());
        p.subi(m.get(i).div(bc1).divi(denom).muli(lr));
        GradMode.zeroGrad(p); // DJL accumulates gradients across collectors
      }
    }
    return lr;
  }

  @Override
  public void close() {
    manager.close();
  }
}
