package dev.oppu.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The causal language-modelling objective as Hugging Face computes it: position t predicts token t + 1, labels of
 * -100 are ignored, the loss is the mean over the remaining positions. Also the summed log-probability of given
 * continuations (for scoring candidate answers).
 */
public final class CausalLm {

  /** Label value that excludes a position from the loss. */
  public static final long IGNORE = -100;
  /**
   * DJL allows one open GradientCollector in the whole JVM: every collector of the process is opened by
   * {@link #gradientCollector()}, under this lock. Fair and reentrant: a training may hold it across all its steps
   * (user, task and pretraining runs then take turns, whole).
   */
  public static final ReentrantLock GRADIENT_LOCK = new ReentrantLock(true);

  private CausalLm() {
  }

  /** Opens the process's GradientCollector under {@link #GRADIENT_LOCK}; closing it releases the lock. */
  public static GradientCollector gradientCollector() {
    GRADIENT_LOCK.lock();
    try {
      GradientCollector gc = Engine.getInstance().newGradientCollector();
      return new GradientCollector() {
        @Override
        public void backward(NDArray target) {
          gc.backward(target);
        }

        @Override
        public void zeroGradients() {
          gc.zeroGradients();
        }

        @Override
        public void close() {
          try {
            gc.close();
          } finally {
            GRADIENT_LOCK.unlock();
          }
        }
      };
    } catch (RuntimeException | Error e) {
      GRADIENT_LOCK.unlock();
      throw e;
    }
  }

  /** The loss and the gradient of each LoRA tensor (keyed like {@link LoraAdapter#parameters()}). */
  public record LossAndGradients(float loss, long tokens, Map<String, NDArray> gradients) implements AutoCloseable {
    @Override
    public void close() {
      gradients.values().forEach(NDArray::close);
    }
  }

  /**
   * A right-padded training batch: ids [B, T], attention mask [B, T], labels [B, T] (-100 where ignored), and the
   * counted predictions for {@link #lossAt}: their flat positions {@code b * T + t} into the ids [K] (position t
   * predicts token t + 1) and the tokens they predict [K], K = {@code targetCount}.
   */
  public record Batch(NDArray inputIds, NDArray attentionMask, NDArray labels, NDArray positions, NDArray targets,
      long targetCount) implements AutoCloseable {
    @Override
    public void close() {
      inputIds.close();
      attentionMask.close();
      labels.close();
      positions.close();
      targets.close();
    }
  }

  /**
   * Builds a batch of prompt + answer sequences (right-padded with {@code padId}) whose loss counts the answer tokens
   * only, as OPPU trains (append the EOS to each answer before calling this).
   */
  public static Batch promptAnswerBatch(NDManager m, List<int[]> prompts, List<int[]> answers, int padId) {
    int n = prompts.size();
    if (answers.size() != n || n == 0) {
      throw new IllegalArgumentException(n + " prompts, " + answers.size() + " answers");
    }
    int len = 0;
    int counted = 0;
    for (int i = 0; i < n; i++) {
      len = Math.max(len, prompts.get(i).length + answers.get(i).length);
      counted += answers.get(i).length;
    }
    long[] ids = new long[n * len];
    long[] mask = new long[n * len];
    long[] labels = new long[n * len];
    long[] positions = new long[counted];
    long[] targets = new long[counted];
    int k = 0;
    java.util.Arrays.fill(ids, padId);
    java.util.Arrays.fill(labels, IGNORE);
    for (int i = 0; i < n; i++) {
      int[] p = prompts.get(i);
      int[] a = answers.get(i);
      for (int j = 0; j < p.length + a.length; j++) {
        long tok = j < p.length ? p[j] : a[j - p.length];
        ids[i * len + j] = tok;
        mask[i * len + j] = 1;
        if (j >= p.length) {
          labels[i * len + j] = tok;
          if (j > 0) { // the first token of a sequence has no prediction
            positions[k] = (long) i * len + j - 1;
            targets[k++] = tok;
          }
        }
      }
    }
    Shape s = new Shape(n, len);
    return new Batch(m.create(ids, s), m.create(mask, s), m.create(labels, s),
        m.create(java.util.Arrays.copyOf(positions, k)), m.create(java.util.Arrays.copyOf(targets, k)), k);
  }

  /**
   * Mean cross-entropy of logits [B, T, V] against labels [B, T] with the shift (scalar NDArray). NaN when no label
   * counts.
   */
  public static NDArray loss(NDArray logits, NDArray labels) {
    NDArray[] sumAndCount = sumLogProbs(logits, labels, false);
    return sumAndCount[0].neg().div(sumAndCount[1]);
  }

  /**
   * {@link #loss} from the logits of the batch's counted positions only ([K, V], e.g. {@link LlamaModel#forwardAt} at
   * {@code batch.positions()}): the same mean, without the LM head and softmax at the positions it ignores. Divides
   * by a tensor in PyTorch's memory, not {@code div(long)} ({@link Scalars}).
   */
  public static NDArray lossAt(NDArray logitsAt, Batch batch) {
    NDArray sum = summedLossAt(logitsAt, batch);
    return sum.div(Scalars.of(sum, batch.targetCount()));
  }

  /** {@link #lossAt} times the number of counted positions: for means over several batches. */
  public static NDArray summedLossAt(NDArray logitsAt, Batch batch) {
    return logitsAt.logSoftmax(-1).gather(batch.targets().expandDims(-1), -1).sum().neg();
  }

  /**
   * Runs base + adapter on a batch, back-propagates the loss and returns the gradients wrt the adapter's A and B
   * (copies owned by {@code out}). The adapter itself is not modified: an optimizer applies the update.
   *
   * @param training applies LoRA dropout (with the engine's random generator)
   */
  public static LossAndGradients lossAndGradients(LlamaModel model, LoraAdapter adapter, NDArray inputIds,
      NDArray attentionMask, NDArray labels, boolean training, NDManager out) {
    GRADIENT_LOCK.lock();
    try (NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      // Fresh leaves per step: no gradient accumulates across steps, the adapter stays a plain tensor.
      Map<String, NDArray[]> leaves = new LinkedHashMap<>();
      for (String p : adapter.modulePaths()) {
        NDArray a = adapter.a(p).duplicate();
        NDArray b = adapter.b(p).duplicate();
        a.setRequiresGradient(true);
        b.setRequiresGradient(true);
        leaves.put(p, new NDArray[] {a, b});
      }
      float lossValue;
      long count;
      try (GradientCollector gc = gradientCollector()) {
        NDArray logits = model.forward(inputIds, attentionMask, null,
            LoraBatch.of(leaves, adapter.scaling(), adapter.config().dropout()), null, false, training);
        NDArray[] sc = sumLogProbs(logits, labels, false);
        NDArray loss = sc[0].neg().div(sc[1]);
        gc.backward(loss);
        lossValue = loss.getFloat();
        count = (long) sc[1].getFloat();
      }
      Map<String, NDArray> grads = new LinkedHashMap<>();
      leaves.forEach((p, ab) -> {
        grads.put("base_model.model." + p + ".lora_A.weight", keep(ab[0].getGradient(), out));
        grads.put("base_model.model." + p + ".lora_B.weight", keep(ab[1].getGradient(), out));
      });
      return new LossAndGradients(lossValue, count, grads);
    } finally {
      GRADIENT_LOCK.unlock();
    }
  }

  private static NDArray keep(NDArray grad, NDManager out) {
    NDArray copy = out.create(grad.toFloatArray(), grad.getShape());
    NDScope.unregister(copy);
    return copy;
  }

  /**
   * Summed log-probability of each continuation after its prompt, all rows in one batch (right-padded), each row
   * with its own adapter or none ({@code adapters} may be null).
   */
  public static float[] continuationLogProbs(LlamaModel model, List<int[]> prompts, List<int[]> continuations,
      List<LoraAdapter> adapters) {
    int n = prompts.size();
    if (continuations.size() != n || (adapters != null && adapters.size() != n)) {
      throw new IllegalArgumentException("prompts, continuations and adapters differ in length");
    }
    int len = 0;
    for (int i = 0; i < n; i++) {
      len = Math.max(len, prompts.get(i).length + continuations.get(i).length);
    }
    long[] ids = new long[n * len];
    long[] mask = new long[n * len];
    long[] labels = new long[n * len];
    java.util.Arrays.fill(labels, IGNORE);
    for (int i = 0; i < n; i++) {
      int[] p = prompts.get(i);
      int[] c = continuations.get(i);
      if (p.length == 0) {
        throw new IllegalArgumentException("empty prompt: the first continuation token needs a context");
      }
      for (int j = 0; j < p.length + c.length; j++) {
        ids[i * len + j] = j < p.length ? p[j] : c[j - p.length];
        mask[i * len + j] = 1;
        if (j >= p.length) {
          labels[i * len + j] = c[j - p.length];
        }
      }
    }
    NDManager m = model.manager();
    try (LoraBatch lora = adapters == null ? null : LoraBatch.perRow(adapters, m);
        NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray idArr = m.create(ids, new Shape(n, len));
      NDArray logits = model.forward(idArr, m.create(mask, new Shape(n, len)), null, lora, null, false, false);
      return sumLogProbs(logits, m.create(labels, new Shape(n, len)), true)[0].toFloatArray();
    }
  }

  /**
   * Summed log-probability of each candidate continuation of one prompt under one adapter (or none), in one batch:
   * for constrained decoding over a label list.
   */
  public static float[] candidateLogProbs(LlamaModel model, int[] prompt, List<int[]> candidates,
      LoraAdapter adapter) {
    List<int[]> prompts = java.util.Collections.nCopies(candidates.size(), prompt);
    List<LoraAdapter> rows = adapter == null ? null : java.util.Collections.nCopies(candidates.size(), adapter);
    return continuationLogProbs(model, prompts, candidates, rows);
  }

  /**
   * Summed log-probability of each candidate continuation of each prompt, every row with its own adapter (or none).
   * Each prompt runs once with its keys and values cached; then all its candidates run as one more row on top of the
   * cache: their tokens but the last packed as a token tree (candidates with a common beginning share its tokens),
   * each token attending to the prompt and to its own ancestors only. Two forward passes for the whole batch, no
   * padding of candidates to the longest one and no copies of the cache per candidate. Equal to
   * {@link #continuationLogProbs} over every (prompt, candidate) pair, up to float rounding.
   *
   * @param candidates per prompt, one or more non-empty candidates (the count may differ between prompts)
   * @return [prompt][candidate]
   */
  public static float[][] sharedPrefixLogProbs(LlamaModel model, List<int[]> prompts, List<List<int[]>> candidates,
      List<LoraAdapter> adapters) {
    int r = prompts.size();
    if (candidates.size() != r || (adapters != null && adapters.size() != r)) {
      throw new IllegalArgumentException("prompts, candidate lists and adapters differ in length");
    }
    if (r == 0) {
      return new float[0][];
    }
    int p = 0;
    CandidateTree[] trees = new CandidateTree[r];
    Map<List<int[]>, CandidateTree> built = new java.util.IdentityHashMap<>(); // rows share their task's label list
    int t = 0;
    for (int i = 0; i < r; i++) {
      if (candidates.get(i).isEmpty()) {
        throw new IllegalArgumentException("every prompt needs at least one candidate");
      }
      if (prompts.get(i).length == 0) {
        throw new IllegalArgumentException("empty prompt: the first continuation token needs a context");
      }
      p = Math.max(p, prompts.get(i).length);
      trees[i] = built.computeIfAbsent(candidates.get(i), CandidateTree::new);
      t = Math.max(t, trees[i].size());
    }
    long pad = Math.max(0, model.config().padTokenId());
    int window = model.config().family().slidingWindow();
    int vocab = model.config().vocabSize();
    long[] ids = new long[r * p];         // prompts, left-padded so every row's last token is at p - 1
    long[] mask = new long[r * p];
    long[] pos = new long[r * p];
    long[] firstIdx = new long[candidates.stream().mapToInt(List::size).sum()]; // into the last logits [R, V]
    int s = p + t;
    long[] tIds = new long[r * t];        // the token trees, right-padded
    long[] tPos = new long[r * t];
    boolean[] seen = new boolean[r * t * s];
    boolean[] seenWindowed = window == 0 ? null : new boolean[r * t * s];
    int f = 0;
    for (int i = 0; i < r; i++) {
      int[] pr = prompts.get(i);
      int off = p - pr.length;
      for (int j = 0; j < p; j++) {
        ids[i * p + j] = j < off ? pad : pr[j - off];
        mask[i * p + j] = j < off ? 0 : 1;
        pos[i * p + j] = j < off ? 0 : j - off;
      }
      for (int[] cand : candidates.get(i)) {
        firstIdx[f++] = (long) i * vocab + cand[0];
      }
      CandidateTree tree = trees[i];
      for (int q = 0; q < t; q++) {
        int row = (i * t + q) * s;
        boolean real = q < tree.size();
        tIds[i * t + q] = real ? tree.token(q) : pad;
        long qPos = pr.length + (real ? tree.depth(q) : 0);
        tPos[i * t + q] = qPos;
        for (int j = off; j < p; j++) { // the prompt (a padding node sees it too: its output is not read)
          seen[row + j] = true;
          if (seenWindowed != null) {
            seenWindowed[row + j] = j - off > qPos - window;
          }
        }
        for (int a = real ? q : -1; a >= 0; a = tree.parent(a)) { // itself and its ancestors
          seen[row + p + a] = true;
          if (seenWindowed != null) {
            seenWindowed[row + p + a] = pr.length + tree.depth(a) > qPos - window;
          }
        }
      }
    }
    NDManager m = model.manager();
    try (LoraBatch lora = adapters == null ? null : LoraBatch.perRow(adapters, m);
        KvCache cache = new KvCache(model.config().numLayers());
        NDScope scope = new NDScope()) {
      scope.suppressNotUsedWarning();
      NDArray last = model.forward(m.create(ids, new Shape(r, p)), m.create(mask, new Shape(r, p)),
          m.create(pos, new Shape(r, p)), lora, cache, true, false);                         // [R, 1, V]
      float[] first = last.logSoftmax(-1).take(m.create(firstIdx)).toFloatArray();          // one per candidate
      float[] rest = null;
      if (t > 0) {
        long[] restIdx = new long[Arrays.stream(trees).mapToInt(CandidateTree::predictions).sum()];
        int k = 0;
        for (int i = 0; i < r; i++) {
          k = trees[i].predictionIndices(i * t, vocab, restIdx, k);
        }
        Shape st = new Shape(r, t, s);
        NDArray logits = model.forwardVisible(m.create(tIds, new Shape(r, t)), m.create(seen, st),
            seenWindowed == null ? null : m.create(seenWindowed, st), m.create(tPos, new Shape(r, t)), lora,
            cache);                                                                           // [R, T, V]
        rest = logits.logSoftmax(-1).take(m.create(restIdx)).toFloatArray();
      }
      float[][] out = new float[r][];
      f = 0;
      int k = 0;
      for (int i = 0; i < r; i++) {
        out[i] = new float[candidates.get(i).size()];
        for (int c = 0; c < out[i].length; c++) {
          float sum = 0;
          for (int j = 1; j < trees[i].length(c); j++) {
            sum += rest[k++];
          }
          out[i][c] = first[f++] + sum;
        }
      }
      return out;
    }
  }

  /**
   * The candidates of one prompt as a token tree: a node per distinct candidate beginning (their tokens but the
   * last), numbered in order of first appearance, each with its parent (-1: the prompt) and depth.
   */
  private static final class CandidateTree {
    private final List<int[]> candidates;
    private final java.util.ArrayList<Integer> tokens = new java.util.ArrayList<>();
    private final java.util.ArrayList<Integer> parents = new java.util.ArrayList<>();
    private final java.util.ArrayList<Integer> depths = new java.util.ArrayList<>();
    /** Per candidate, the node of each of its tokens but the last. */
    private final int[][] paths;

    CandidateTree(List<int[]> candidates) {
      this.candidates = candidates;
      this.paths = new int[candidates.size()][];
      Map<Long, Integer> children = new java.util.HashMap<>();
      for (int c = 0; c < candidates.size(); c++) {
        int[] cand = candidates.get(c);
        if (cand.length == 0) {
          throw new IllegalArgumentException("empty candidate");
        }
        paths[c] = new int[cand.length - 1];
        int parent = -1;
        for (int j = 0; j < cand.length - 1; j++) {
          long key = ((long) parent << 32) | (cand[j] & 0xffffffffL);
          Integer node = children.get(key);
          if (node == null) {
            node = tokens.size();
            tokens.add(cand[j]);
            parents.add(parent);
            depths.add(j);
            children.put(key, node);
          }
          paths[c][j] = node;
          parent = node;
        }
      }
    }

    int size() {
      return tokens.size();
    }

    int token(int node) {
      return tokens.get(node);
    }

    int parent(int node) {
      return parents.get(node);
    }

    int depth(int node) {
      return depths.get(node);
    }

    int length(int candidate) {
      return candidates.get(candidate).length;
    }

    /** Tokens predicted by tree nodes: every candidate token but the first. */
    int predictions() {
      return candidates.stream().mapToInt(c -> c.length - 1).sum();
    }

    /**
     * Writes, candidate by candidate, the flat index into the logits [R, T, V] of each
     * candidate token predicted by a node ({@code rowStart} = the row's first node position); returns the next k.
     */
    int predictionIndices(int rowStart, int vocab, long[] into, int k) {
      for (int c = 0; c < candidates.size(); c++) {
        int[] cand = candidates.get(c);
        for (int j = 1; j < cand.length; j++) {
          into[k++] = (long) (rowStart + paths[c][j - 1]) * vocab + cand[j];
        }
      }
      return k;
    }
  }


  /**
   * Log-probabilities of the labelled next tokens: {sum, count} over the batch, or per row ([B] each).
   */
  static NDArray[] sumLogProbs(NDArray logits, NDArray labels, boolean perRow) {
    long t = logits.getShape().get(1);
    NDArray shifted = logits.get(":, :" + (t - 1) + ", :");             // [B, T-1, V]
    NDArray target = labels.get(":, 1:").toType(DataType.INT64, false); // [B, T-1]
    NDArray valid = target.neq(IGNORE);
    NDArray safe = target.mul(valid.toType(DataType.INT64, false));    // ignored -> token 0, masked below
    NDArray logp = shifted.logSoftmax(-1).gather(safe.expandDims(-1), -1).squeeze(-1); // [B, T-1]
    NDArray w = valid.toType(DataType.FLOAT32, false);
    NDArray picked = logp.mul(w);
    if (perRow) {
      return new NDArray[] {picked.sum(new int[] {1}), w.sum(new int[] {1})};
    }
    return new NDArray[] {picked.sum(), w.sum()};
  }
}
