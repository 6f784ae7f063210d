package dev.oppu.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Batched generation with a KV cache: prompts are left-padded into one batch, each row may use its own adapter, and
 * each step runs the model on one new token per row. Greedy, or sampling with temperature, top-k and top-p (applied
 * in that order, as transformers does).
 */
public final class Generator {

  /**
   * @param maxNewTokens token limit per row
   * @param temperature 0 for greedy decoding
   * @param topK 0 for no top-k cut
   * @param topP 1 for no nucleus cut
   * @param seed sampling seed (rows draw from one generator in row order)
   * @param stopAtEos stop a row at its first end-of-sequence token
   */
  public record Options(int maxNewTokens, double temperature, int topK, double topP, long seed, boolean stopAtEos) {
    public Options {
      if (maxNewTokens < 0 || temperature < 0 || topK < 0 || topP <= 0 || topP > 1) {
        throw new IllegalArgumentException("bad generation options " + maxNewTokens + "/" + temperature + "/"
            + topK + "/" + topP);
      }
    }

    public static Options greedy(int maxNewTokens) {
      return new Options(maxNewTokens, 0, 0, 1, 0, true);
    }

    /** OPPU's sampling setting: temperature 0.1, top-k 10, top-p 0.9. */
    public static Options oppuSampling(int maxNewTokens, long seed) {
      return new Options(maxNewTokens, 0.1, 10, 0.9, seed, true);
    }

    public Options withoutEosStop() {
      return new Options(maxNewTokens, temperature, topK, topP, seed, false);
    }
  }

  private final LlamaModel model;
  private final int padId;
  private final int[] eosIds;

  /** Pads with {@code padId}; stops at any of {@code eosIds}. */
  public Generator(LlamaModel model, int padId, int[] eosIds) {
    this.model = model;
    this.padId = padId;
    this.eosIds = eosIds.clone();
  }

  /** Pad and EOS ids from the model config (pad 0 when it has none). */
  public Generator(LlamaModel model) {
    this(model, Math.max(0, model.config().padTokenId()), model.config().eosTokenIds());
  }

  /**
   * Generates for each prompt; {@code adapters} gives each row's adapter (null entries or a null list: none).
   *
   * @return each row's new tokens, without the prompt and without the EOS that stopped it
   */
  public List<int[]> generate(List<int[]> prompts, List<LoraAdapter> adapters, Options o) {
    int n = prompts.size();
    if (n == 0) {
      return List.of();
    }
    if (adapters != null && adapters.size() != n) {
      throw new IllegalArgumentException(n + " prompts but " + adapters.size() + " adapters");
    }
    int len = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
    if (prompts.stream().anyMatch(p -> p.length == 0)) {
      throw new IllegalArgumentException("empty prompt");
    }
    int total = len + o.maxNewTokens();
    long[] mask = new long[n * total]; // [B, total] row-major; only the first `width` columns are used
    long[] ids = new long[n * len];
    long[] pos = new long[n * len];
    long[] nextPos = new long[n];
    for (int i = 0; i < n; i++) {
      int[] p = prompts.get(i);
      int off = len - p.length;
      for (int j = 0; j < len; j++) {
        ids[i * len + j] = j < off ? padId : p[j - off];
        mask[i * total + j] = j < off ? 0 : 1;
        pos[i * len + j] = j < off ? 1 : j - off; // pads: any position, they are masked
      }
      nextPos[i] = p.length;
    }
    List<List<Integer>> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new ArrayList<>());
    }
    boolean[] done = new boolean[n];
    SplittableRandom rnd = new SplittableRandom(o.seed());
    NDManager m = model.manager();
    try (LoraBatch lora = adapters == null ? null : LoraBatch.perRow(adapters, m);
        KvCache cache = new KvCache(model.config().numLayers())) {
      int width = len;
      long[] stepIds = ids;
      long[] stepPos = pos;
      int stepLen = len;
      for (int step = 0; step < o.maxNewTokens(); step++) {
        long[] next;
        try (NDScope scope = new NDScope()) {
          scope.suppressNotUsedWarning();
          NDArray maskArr = m.create(slice(mask, n, total, width), new Shape(n, width));
          NDArray logits = model.forward(m.create(stepIds, new Shape(n, stepLen)), maskArr,
              m.create(stepPos, new Shape(n, stepLen)), lora, cache, true, false); // [B, 1, V]
          next = o.temperature() == 0 ? logits.argMax(-1).toLongArray() : sample(logits, o, rnd);
        }
        stepIds = new long[n];
        stepPos = new long[n];
        stepLen = 1;
        boolean all = true;
        for (int i = 0; i < n; i++) {
          if (!done[i]) {
            if (o.stopAtEos() && isEos(next[i])) {
              done[i] = true;
            } else {
              out.get(i).add((int) next[i]);
            }
          }
          all &= done[i];
          stepIds[i] = done[i] ? padId : next[i];
          stepPos[i] = nextPos[i]++;
          mask[i * total + width] = 1;
        }
        width++;
        if (all) {
          break;
        }
      }
    }
    List<int[]> result = new ArrayList<>();
    out.forEach(l -> result.add(l.stream().mapToInt(Integer::intValue).toArray()));
    return result;
  }

  private boolean isEos(long id) {
    for (int e : eosIds) {
      if (e == id) {
        return true;
      }
    }
    return false;
  }

  private static long[] slice(long[] mask, int n, int total, int width) {
    long[] s = new long[n * width];
    for (int i = 0; i < n; i++) {
      System.arraycopy(mask, i * total, s, i * width, width);
    }
    return s;
  }

  /** One draw per row from softmax(logits / T) restricted to the top-k, then to the top-p nucleus. */
  private static long[] sample(NDArray logits, Options o, SplittableRandom rnd) {
    int n = (int) logits.getShape().get(0);
    int v = (int) logits.getShape().get(2);
    float[] all = logits.toFloatArray();
    long[] next = new long[n];
    for (int i = 0; i < n; i++) {
      float[] row = Arrays.copyOfRange(all, i * v, (i + 1) * v);
      Integer[] order = new Integer[v];
      for (int j = 0; j < v; j++) {
        order[j] = j;
      }
      Arrays.sort(order, (a, b) -> Float.compare(row[b], row[a]));
      int keep = o.topK() > 0 ? Math.min(o.topK(), v) : v;
      double max = row[order[0]] / o.temperature();
      double[] p = new double[keep];
      double z = 0;
      for (int j = 0; j < keep; j++) {
        p[j] = Math.exp(row[order[j]] / o.temperature() - max);
        z += p[j];
      }
      double cum = 0;
      int cut = keep;
      for (int j = 0; j < keep; j++) {
        cum += p[j] / z;
        if (cum >= o.topP()) {
          cut = j + 1;
          break;
        }
      }
      double mass = 0;
      for (int j = 0; j < cut; j++) {
        mass += p[j];
      }
      double u = rnd.nextDouble() * mass;
      int pick = cut - 1;
      for (int j = 0; j < cut; j++) {
        u -= p[j];
        if (u <= 0) {
          pick = j;
          break;
        }
      }
      next[i] = order[pick];
    }
    return next;
  }
}
