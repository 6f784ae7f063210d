package dev.oppu.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.oppu.model.CausalLm;
import dev.oppu.model.LoraAdapter;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.optim.AdamW;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Trains one LoRA adapter in place on tokenized examples: shuffled mini-batches (seeded), causal-LM loss on answer
 * tokens, AdamW with linear warmup/decay and global grad-norm clipping. Only one GradientCollector may be open in a
 * JVM, so every training (user adapters, task adapters, pretraining) takes {@link #LOCK}.
 */
public final class AdapterTraining {

  /** Serializes all training in this JVM (DJL allows one open GradientCollector). */
  public static final ReentrantLock LOCK = new ReentrantLock(true);

  /** Hyperparameters of a LoRA training run. */
  public record Config(int epochs, int batchSize, AdamW.Config optimizer) {
    public Config {
      if (epochs < 1 || batchSize < 1) {
        throw new IllegalArgumentException("epochs and batch size must be positive");
      }
    }
  }

  /** Called after each optimizer step with (step, total steps, mean loss of the step's batch). */
  public interface StepListener {
    void onStep(int step, int totalSteps, double loss);
  }

  /** The outcome: mean training-set loss before and after, steps, answer tokens and all tokens processed. */
  public record Result(double lossBefore, double lossAfter, int steps, long targetTokens, long tokens, long millis,
      boolean finite) {}

  private AdapterTraining() {}

  /**
   * Trains {@code adapter} in place. Deterministic given {@code seed}: the batch order and the engine's random state
   * (LoRA dropout) are seeded here, so the result depends only on the examples, the adapter and the seed.
   */
  public static Result train(LoraLm lm, LoraAdapter adapter, List<TokenizedExample> examples, Config config,
      int padId, long seed, StepListener listener) {
    if (examples.isEmpty()) {
      throw new IllegalArgumentException("no training examples");
    }
    LOCK.lock();
    try {
      long start = System.nanoTime();
      double before = meanLoss(lm, adapter, examples, config.batchSize(), padId);
      List<NDArray> params = new ArrayList<>(adapter.parameters().values());
      int perEpoch = (examples.size() + config.batchSize() - 1) / config.batchSize();
      int total = perEpoch * config.epochs();
      Random order = new Random(seed);
      Engine.getInstance().setRandomSeed((int) (seed ^ (seed >>> 32)));
      long targetTokens = 0;
      long tokens = 0;
      boolean finite = true;
      for (NDArray p : params) {
        p.setRequiresGradient(true);
      }
      try (AdamW opt = new AdamW(config.optimizer(), params, total)) {
        int step = 0;
        for (int epoch = 0; epoch < config.epochs() && finite; epoch++) {
          List<TokenizedExample> shuffled = new ArrayList<>(examples);
          Collections.shuffle(shuffled, order);
          for (int i = 0; i < shuffled.size() && finite; i += config.batchSize()) {
            List<TokenizedExample> chunk = shuffled.subList(i, Math.min(shuffled.size(), i + config.batchSize()));
            double loss;
            try (NDManager scope = lm.manager().newSubManager();
                CausalLm.Batch batch = TokenizedExample.batch(chunk, padId, scope)) {
              try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logits = lm.logitsAt(batch.inputIds(), adapter, true, batch.positions()); // [K, V]
                NDArray mean = CausalLm.lossAt(logits, batch);
                gc.backward(mean);
                loss = mean.getFloat();
              }
              targetTokens += batch.targetCount();
              tokens += chunk.stream().mapToInt(e -> e.tokens().length).sum();
            }
            opt.step();
            finite = Double.isFinite(loss) && Double.isFinite(opt.lastGradNorm());
            step++;
            if (listener != null) {
              listener.onStep(step, total, loss);
            }
          }
        }
        for (NDArray p : params) {
          p.setRequiresGradient(false);
        }
        double after = finite ? meanLoss(lm, adapter, examples, config.batchSize(), padId) : Double.NaN;
        return new Result(before, after, step, targetTokens, tokens, (System.nanoTime() - start) / 1_000_000,
            finite && Double.isFinite(after) && allFinite(adapter));
      }
    } finally {
      LOCK.unlock();
    }
  }

  /** Mean loss per answer token over the examples, without dropout or gradients. */
  public static double meanLoss(LoraLm lm, LoraAdapter adapter, List<TokenizedExample> examples, int batchSize,
      int padId) {
    if (examples.isEmpty()) {
      return Double.NaN;
    }
    dev.oppu.trainer.optim.GradMode.off();
    double sum = 0;
    long count = 0;
    for (int i = 0; i < examples.size(); i += batchSize) {
      List<TokenizedExample> chunk = examples.subList(i, Math.min(examples.size(), i + batchSize));
      try (NDManager scope = lm.manager().newSubManager();
          CausalLm.Batch batch = TokenizedExample.batch(chunk, padId, scope)) {
        NDArray logits = lm.logitsAt(batch.inputIds(), adapter, false, batch.positions());
        sum += CausalLm.summedLossAt(logits, batch).getFloat();
        count += batch.targetCount();
      }
    }
    return sum / count;
  }

  /** True when every adapter value is finite. */
  public static boolean allFinite(LoraAdapter adapter) {
    for (NDArray p : adapter.parameters().values()) {
      try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
        scope.suppressNotUsedWarning();
        if (p.isNaN().logicalOr(p.isInfinite()).any().getBoolean()) {
          return false;
        }
      }
    }
    return true;
  }
}
