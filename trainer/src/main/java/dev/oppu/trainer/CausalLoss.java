package dev.oppu.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.oppu.trainer.examples.TokenizedExample;
import java.util.List;

/**
 * A right-padded batch of examples and the causal-LM loss over its answer tokens only (prompt and padding masked),
 * as HF's LlamaForCausalLM computes it with labels = -100 on masked positions: mean over counted tokens of
 * {@code -log p(tokens[t] | tokens[<t])}. Right padding needs no attention mask: a causal model never lets a real
 * position see the pads after it.
 */
public final class CausalLoss {
  private CausalLoss() {}

  /**
   * @param tokens input ids [B, T]
   * @param targets next-token ids [B, T - 1] (tokens shifted left)
   * @param mask 1 where the loss counts the prediction, else 0 [B, T - 1]
   * @param positions the counted predictions' positions as flat indices {@code b * T + t} into tokens [K]
   * @param targetsAt the token each of those positions predicts [K]
   */
  public record Batch(NDArray tokens, NDArray targets, NDArray mask, long targetCount, NDArray positions,
      NDArray targetsAt) implements AutoCloseable {
    @Override
    public void close() {
      tokens.close();
      targets.close();
      mask.close();
      positions.close();
      targetsAt.close();
    }
  }

  public static Batch batch(List<TokenizedExample> examples, int padId, NDManager manager) {
    int b = examples.size();
    int t = examples.stream().mapToInt(e -> e.tokens().length).max().orElseThrow();
    int[] ids = new int[b * t];
    int[] next = new int[b * (t - 1)];
    float[] mask = new float[b * (t - 1)];
    java.util.Arrays.fill(ids, padId);
    java.util.Arrays.fill(next, padId);
    long count = 0;
    java.util.List<long[]> at = new java.util.ArrayList<>(); // (flat position, target token)
    for (int i = 0; i < b; i++) {
      int[] tok = examples.get(i).tokens();
      System.arraycopy(tok, 0, ids, i * t, tok.length);
      for (int p = 1; p < tok.length; p++) {
        next[i * (t - 1) + p - 1] = tok[p];
        if (examples.get(i).isTarget(p)) {
          mask[i * (t - 1) + p - 1] = 1f;
          at.add(new long[] {(long) i * t + p - 1, tok[p]});
          count++;
        }
      }
    }
    long[] positions = new long[at.size()];
    long[] targetsAt = new long[at.size()];
    for (int k = 0; k < at.size(); k++) {
      positions[k] = at.get(k)[0];
      targetsAt[k] = at.get(k)[1];
    }
    return new Batch(
        manager.create(ids, new Shape(b, t)).toType(DataType.INT64, false),
        manager.create(next, new Shape(b, t - 1)).toType(DataType.INT64, false),
        manager.create(mask, new Shape(b, t - 1)),
        count,
        manager.create(positions, new Shape(positions.length)),
        manager.create(targetsAt, new Shape(targetsAt.length)));
  }

  /**
   * Mean over counted positions of the negative log-likelihood: the training objective. Divides by a tensor in
   * PyTorch's memory, not {@code div(long)}: backward of div reads the divisor, and DJL's number operand lives in a
   * Java buffer it frees right after the op ({@link dev.oppu.model.Scalars}).
   */
  public static NDArray meanNll(NDArray logits, Batch batch) {
    NDArray sum = summedNll(logits, batch);
    return sum.div(dev.oppu.model.Scalars.of(sum, batch.targetCount()));
  }

  /**
   * Sum over counted positions of the negative log-likelihood (divide by {@code targetCount} for the mean).
   *
   * @param logits [B, T, V] for the batch's tokens
   */
  public static NDArray summedNll(NDArray logits, Batch batch) {
    long t = logits.getShape().get(1);
    NDArray shifted = logits.get(":, :{}, :", t - 1); // [B, T-1, V]: position p predicts token p+1
    NDArray logp = shifted.logSoftmax(-1);
    NDArray picked = logp.gather(batch.targets().expandDims(-1), -1).squeeze(-1); // [B, T-1]
    return picked.mul(batch.mask()).sum().neg();
  }

  /** {@link #meanNll} from the logits of the counted positions only ({@link LoraLm#logitsAt}, [K, V]). */
  public static NDArray meanNllAt(NDArray logitsAt, Batch batch) {
    NDArray sum = summedNllAt(logitsAt, batch);
    return sum.div(dev.oppu.model.Scalars.of(sum, batch.targetCount()));
  }

  /** {@link #summedNll} from the logits of the counted positions only ([K, V]). */
  public static NDArray summedNllAt(NDArray logitsAt, Batch batch) {
    NDArray logp = logitsAt.logSoftmax(-1);                                          // [K, V]
    return logp.gather(batch.targetsAt().expandDims(-1), -1).sum().neg();
  }
}
