package dev.oppu.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.oppu.model.CausalLm;
import dev.oppu.model.LoraAdapter;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.optim.AdamW;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Trains one LoRA adapter in place on tokenized examples: shuffled mini-batches (seeded), each one {@link TrainStep}
 * (causal-LM loss on answer tokens, AdamW with linear warmup/decay and global grad-norm clipping). A run holds
 * {@link CausalLm#GRADIENT_LOCK} throughout, so that trainings in one JVM take turns.
 */
public final class AdapterTraining {

  /**
   * Hyperparameters of a LoRA training run. A run takes {@code epochs} passes over its examples, more (up to
   * {@code maxEpochs}) when that leaves it fewer than {@code minSteps} optimizer steps: a user of a dozen items gets
   * as many updates as one of forty, while large runs cost no more.
   */
  public record Config(int epochs, int batchSize, AdamW.Config optimizer, int minSteps, int maxEpochs) {
    public Config {
      if (epochs < 1 || batchSize < 1 || minSteps < 0 || maxEpochs < epochs) {
        throw new IllegalArgumentException("epochs and batch size must be positive, min steps >= 0, max epochs >= "
            + "epochs");
      }
    }

    /** A fixed number of epochs. */
    public Config(int epochs, int batchSize, AdamW.Config optimizer) {
      this(epochs, batchSize, optimizer, 0, epochs);
    }

    /** For run reports: "epochs 2 (up to 6 for 24 steps), batch 4, lr 1.0e-02". */
    public String describe() {
      return String.format(java.util.Locale.ROOT, "epochs %d%s, batch %d, lr %.1e", epochs,
          minSteps > 0 && maxEpochs > epochs ? " (up to " + maxEpochs + " for " + minSteps + " steps)" : "", batchSize,
          optimizer.lr());
    }

    /** The epochs of a run on {@code examples} examples. */
    public int epochsFor(int examples) {
      int perEpoch = Math.max(1, (examples + batchSize - 1) / batchSize);
      return Math.max(epochs, Math.min(maxEpochs, (minSteps + perEpoch - 1) / perEpoch));
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
    CausalLm.GRADIENT_LOCK.lock(); // the whole run: trainings take turns, whole
    try {
      long start = System.nanoTime();
      double before = meanLoss(lm, adapter, examples, config.batchSize(), padId);
      List<NDArray> params = new ArrayList<>(adapter.parameters().values());
      int perEpoch = (examples.size() + config.batchSize() - 1) / config.batchSize();
      int epochs = config.epochsFor(examples.size());
      int total = perEpoch * epochs;
      Random order = new Random(seed);
      Engine.getInstance().setRandomSeed((int) (seed ^ (seed >>> 32)));
      long targetTokens = 0;
      long tokens = 0;
      boolean finite = true;
      int step = 0;
      try (TrainStep trainStep = new TrainStep((ids, at) -> lm.logitsAt(ids, adapter, true, at), params,
          config.optimizer(), total, lm.manager(), padId)) {
        for (int epoch = 0; epoch < epochs && finite; epoch++) {
          List<TokenizedExample> shuffled = new ArrayList<>(examples);
          Collections.shuffle(shuffled, order);
          for (int i = 0; i < shuffled.size() && finite; i += config.batchSize()) {
            TrainStep.Outcome o = trainStep.step(
                shuffled.subList(i, Math.min(shuffled.size(), i + config.batchSize())));
            targetTokens += o.targetTokens();
            tokens += o.tokens();
            finite = o.finite();
            step++;
            if (listener != null) {
              listener.onStep(step, total, o.loss());
            }
          }
        }
      }
      double after = finite ? meanLoss(lm, adapter, examples, config.batchSize(), padId) : Double.NaN;
      return new Result(before, after, step, targetTokens, tokens, (System.nanoTime() - start) / 1_000_000,
          finite && Double.isFinite(after) && allFinite(adapter));
    } finally {
      CausalLm.GRADIENT_LOCK.unlock();
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
