package dev.oppu.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.oppu.model.CausalLm;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.optim.AdamW;
import dev.oppu.trainer.optim.GradMode;
import java.util.List;

/**
 * The one training step of the project (pretraining, task and user adaptation, the benches): forward to the logits of
 * the counted positions, {@link CausalLm#lossAt}, backward in the process's one GradientCollector
 * ({@link CausalLm#gradientCollector}), then {@link AdamW}: global grad-norm clip, update, linear warmup/decay
 * schedule. The loops that use it only iterate their data.
 */
public final class TrainStep implements AutoCloseable {

  /** The model under training: logits [K, V] at {@code positions} (flat {@code b * T + t}) of ids [B, T]. */
  public interface Forward {
    NDArray logitsAt(NDArray inputIds, NDArray positions);
  }

  /** One step's figures: mean loss of the batch, its counted and all tokens, the gradient norm before clipping. */
  public record Outcome(double loss, long targetTokens, long tokens, double gradNorm) {
    public boolean finite() {
      return Double.isFinite(loss) && Double.isFinite(gradNorm);
    }
  }

  private final Forward forward;
  private final List<NDArray> params;
  private final AdamW optimizer;
  private final NDManager manager;
  private final int padId;

  /**
   * @param params the trained tensors; they require gradients until {@link #close}
   * @param totalSteps the schedule's length
   */
  public TrainStep(Forward forward, List<NDArray> params, AdamW.Config optimizer, int totalSteps, NDManager manager,
      int padId) {
    this.forward = forward;
    this.params = params;
    this.manager = manager;
    this.padId = padId;
    params.forEach(p -> p.setRequiresGradient(true));
    this.optimizer = new AdamW(optimizer, params, totalSteps);
  }

  /** Forward, loss and backward on a batch: the gradients are left on the parameters. Returns the mean loss. */
  public double backward(List<TokenizedExample> batch) {
    try (NDManager scope = manager.newSubManager();
        CausalLm.Batch b = TokenizedExample.batch(batch, padId, scope);
        GradientCollector gc = CausalLm.gradientCollector()) {
      NDArray loss = CausalLm.lossAt(forward.logitsAt(b.inputIds(), b.positions()), b);
      gc.backward(loss);
      return loss.getFloat();
    }
  }

  /** One optimizer step on a batch: backward, then clip, update and advance the schedule. */
  public Outcome step(List<TokenizedExample> batch) {
    double loss = backward(batch);
    optimizer.step();
    long targets = batch.stream().mapToLong(TokenizedExample::targetCount).sum();
    long tokens = batch.stream().mapToLong(e -> e.tokens().length).sum();
    return new Outcome(loss, targets, tokens, optimizer.lastGradNorm());
  }

  /** Drops the gradients {@link #backward} left (a bench that measures forward and backward alone). */
  public void zeroGradients() {
    params.forEach(GradMode::zeroGrad);
  }

  /** The parameters stop requiring gradients; the optimizer's state is freed. */
  @Override
  public void close() {
    params.forEach(p -> p.setRequiresGradient(false));
    optimizer.close();
  }
}
