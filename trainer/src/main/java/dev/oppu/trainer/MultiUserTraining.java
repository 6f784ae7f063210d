package dev.oppu.trainer;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.oppu.model.CausalLm;
import dev.oppu.model.LoraAdapter;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.optim.AdamW;
import dev.oppu.trainer.optim.GradMode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * {@link AdapterTraining#train} for several users at once: one forward and backward pass per step over the rows of
 * every user still training, each row through its own user's adapter ({@link LoraLm#logitsAt(NDArray, List, boolean,
 * NDArray)}). Each user keeps what a run of its own has: its seeded batch order (step s of the batched run holds
 * step s of each user's own run), its own {@link AdamW} (state, schedule, grad-norm clip) and its own mean loss. The
 * batched loss is the sum over users of each user's mean loss, so each adapter's gradient is the one its own run
 * computes. With LoRA dropout 0 an adapter trained here equals the one {@link AdapterTraining#train} trains (to float
 * rounding); with dropout, the masks come from the engine's generator seeded once for the batch, so they differ.
 * Users with fewer steps drop out of the later ones; a user whose loss or gradient goes non-finite stops, as alone.
 */
public final class MultiUserTraining {

  /** One user's run: the adapter trained in place, its examples and its seed (batch order). */
  public record Job(LoraAdapter adapter, List<TokenizedExample> examples, long seed) {
    public Job {
      if (examples.isEmpty()) {
        throw new IllegalArgumentException("no training examples");
      }
    }
  }

  private MultiUserTraining() {}

  /**
   * Trains every job's adapter in place; results in job order, as {@link AdapterTraining#train} reports them
   * ({@code millis} is the whole batched run's, shared).
   */
  public static List<AdapterTraining.Result> train(LoraLm lm, List<Job> jobs, AdapterTraining.Config config,
      int padId) {
    return train(lm, jobs, config, padId, null);
  }

  /**
   * As above; {@code listener} is called after each batched step with (step, the longest run's steps, mean over the
   * step's users of their loss), e.g. to abandon the run by throwing.
   */
  public static List<AdapterTraining.Result> train(LoraLm lm, List<Job> jobs, AdapterTraining.Config config,
      int padId, AdapterTraining.StepListener listener) {
    if (jobs.isEmpty()) {
      return List.of();
    }
    int n = jobs.size();
    CausalLm.GRADIENT_LOCK.lock(); // the whole run, as AdapterTraining
    try {
      long start = System.nanoTime();
      List<LoraAdapter> adapters = jobs.stream().map(Job::adapter).toList();
      List<List<TokenizedExample>> examples = jobs.stream().map(Job::examples).toList();
      double[] before = meanLosses(lm, adapters, examples, config.batchSize(), padId);
      // each user's batches, in the order its own run takes them
      List<List<List<TokenizedExample>>> steps = new ArrayList<>();
      int maxSteps = 0;
      for (Job job : jobs) {
        Random order = new Random(job.seed());
        List<List<TokenizedExample>> mine = new ArrayList<>();
        for (int epoch = 0, epochs = config.epochsFor(job.examples().size()); epoch < epochs; epoch++) {
          List<TokenizedExample> shuffled = new ArrayList<>(job.examples());
          Collections.shuffle(shuffled, order);
          for (int i = 0; i < shuffled.size(); i += config.batchSize()) {
            mine.add(shuffled.subList(i, Math.min(shuffled.size(), i + config.batchSize())));
          }
        }
        steps.add(mine);
        maxSteps = Math.max(maxSteps, mine.size());
      }
      long seed = 0;
      for (Job job : jobs) {
        seed = seed * 31 + job.seed();
      }
      Engine.getInstance().setRandomSeed((int) (seed ^ (seed >>> 32))); // LoRA dropout, if any
      List<AdamW> optimizers = new ArrayList<>(n);
      long[] targetTokens = new long[n];
      long[] tokens = new long[n];
      int[] done = new int[n];
      boolean[] finite = new boolean[n];
      java.util.Arrays.fill(finite, true);
      try {
        for (int u = 0; u < n; u++) {
          List<NDArray> params = new ArrayList<>(adapters.get(u).parameters().values());
          params.forEach(p -> p.setRequiresGradient(true));
          optimizers.add(new AdamW(config.optimizer(), params, steps.get(u).size()));
        }
        for (int s = 0; s < maxSteps; s++) {
          List<Integer> users = new ArrayList<>();
          for (int u = 0; u < n; u++) {
            if (finite[u] && s < steps.get(u).size()) {
              users.add(u);
            }
          }
          if (users.isEmpty()) {
            break;
          }
          double[] losses = backward(lm, users, adapters, steps, s, padId, true);
          for (int i = 0; i < users.size(); i++) {
            int u = users.get(i);
            optimizers.get(u).step();
            List<TokenizedExample> batch = steps.get(u).get(s);
            targetTokens[u] += batch.stream().mapToLong(TokenizedExample::targetCount).sum();
            tokens[u] += batch.stream().mapToLong(e -> e.tokens().length).sum();
            done[u]++;
            finite[u] = Double.isFinite(losses[i]) && Double.isFinite(optimizers.get(u).lastGradNorm());
          }
          if (listener != null) {
            listener.onStep(s + 1, maxSteps, java.util.Arrays.stream(losses).average().orElse(Double.NaN));
          }
        }
      } finally {
        for (int u = 0; u < n; u++) {
          adapters.get(u).parameters().values().forEach(p -> p.setRequiresGradient(false));
        }
        optimizers.forEach(AdamW::close);
      }
      List<Integer> ok = new ArrayList<>();
      for (int u = 0; u < n; u++) {
        if (finite[u]) {
          ok.add(u);
        }
      }
      double[] after = new double[n];
      java.util.Arrays.fill(after, Double.NaN);
      double[] measured = meanLosses(lm, ok.stream().map(adapters::get).toList(),
          ok.stream().map(examples::get).toList(), config.batchSize(), padId);
      for (int i = 0; i < ok.size(); i++) {
        after[ok.get(i)] = measured[i];
      }
      long millis = (System.nanoTime() - start) / 1_000_000;
      List<AdapterTraining.Result> out = new ArrayList<>(n);
      for (int u = 0; u < n; u++) {
        out.add(new AdapterTraining.Result(before[u], after[u], done[u], targetTokens[u], tokens[u], millis,
            finite[u] && Double.isFinite(after[u]) && AdapterTraining.allFinite(adapters.get(u))));
      }
      return out;
    } finally {
      CausalLm.GRADIENT_LOCK.unlock();
    }
  }

  /**
   * Step {@code s} of the given users in one pass: rows concatenated, loss = sum over users of their mean loss per
   * answer token, back-propagated. Returns each user's mean loss.
   */
  private static double[] backward(LoraLm lm, List<Integer> users, List<LoraAdapter> adapters,
      List<List<List<TokenizedExample>>> steps, int s, int padId, boolean training) {
    List<TokenizedExample> rows = new ArrayList<>();
    List<LoraAdapter> rowAdapters = new ArrayList<>();
    List<Integer> owner = new ArrayList<>();
    for (int i = 0; i < users.size(); i++) {
      int u = users.get(i);
      for (TokenizedExample e : steps.get(u).get(s)) {
        rows.add(e);
        rowAdapters.add(adapters.get(u));
        owner.add(i);
      }
    }
    Weights w = weights(rows, owner, users.size());
    try (NDManager scope = lm.manager().newSubManager();
        CausalLm.Batch b = TokenizedExample.batch(rows, padId, scope);
        GradientCollector gc = CausalLm.gradientCollector()) {
      NDArray logits = lm.logitsAt(b.inputIds(), rowAdapters, training, b.positions());
      NDArray nll = logits.logSoftmax(-1).gather(b.targets().expandDims(-1), -1).squeeze(-1).neg(); // [K]
      NDArray loss = nll.mul(scope.create(w.perTarget, new Shape(w.perTarget.length))).sum();
      gc.backward(loss);
      return perUser(nll.toFloatArray(), w, users.size(), true);
    }
  }

  /** Per target: its user (index into the step's users) and 1 / that user's target count. */
  private record Weights(float[] perTarget, int[] user, long[] counts) {}

  private static Weights weights(List<TokenizedExample> rows, List<Integer> owner, int users) {
    long[] counts = new long[users];
    int k = 0;
    for (int r = 0; r < rows.size(); r++) {
      // CausalLm.promptAnswerBatch counts every answer token (a prompt is never empty)
      counts[owner.get(r)] += rows.get(r).targetCount();
      k += rows.get(r).targetCount();
    }
    float[] w = new float[k];
    int[] user = new int[k];
    int at = 0;
    for (int r = 0; r < rows.size(); r++) {
      int u = owner.get(r);
      for (int j = 0; j < rows.get(r).targetCount(); j++) {
        w[at] = (float) (1.0 / counts[u]);
        user[at++] = u;
      }
    }
    return new Weights(w, user, counts);
  }

  private static double[] perUser(float[] nll, Weights w, int users, boolean mean) {
    double[] sum = new double[users];
    for (int k = 0; k < nll.length; k++) {
      sum[w.user[k]] += nll[k];
    }
    if (mean) {
      for (int u = 0; u < users; u++) {
        sum[u] /= w.counts[u];
      }
    }
    return sum;
  }

  /**
   * {@link AdapterTraining#meanLoss} of each adapter on its own examples, all users in shared passes (chunk c holds
   * chunk c of every user's examples), without dropout or gradients.
   */
  public static double[] meanLosses(LoraLm lm, List<LoraAdapter> adapters, List<List<TokenizedExample>> examples,
      int batchSize, int padId) {
    int n = adapters.size();
    double[] sum = new double[n];
    long[] count = new long[n];
    GradMode.off();
    int chunks = examples.stream().mapToInt(e -> (e.size() + batchSize - 1) / batchSize).max().orElse(0);
    for (int c = 0; c < chunks; c++) {
      List<TokenizedExample> rows = new ArrayList<>();
      List<LoraAdapter> rowAdapters = new ArrayList<>();
      List<Integer> owner = new ArrayList<>();
      List<Integer> users = new ArrayList<>();
      for (int u = 0; u < n; u++) {
        List<TokenizedExample> ex = examples.get(u);
        if (c * batchSize >= ex.size()) {
          continue;
        }
        users.add(u);
        for (TokenizedExample e : ex.subList(c * batchSize, Math.min(ex.size(), (c + 1) * batchSize))) {
          rows.add(e);
          rowAdapters.add(adapters.get(u));
          owner.add(users.size() - 1);
        }
      }
      Weights w = weights(rows, owner, users.size());
      try (NDManager scope = lm.manager().newSubManager();
          CausalLm.Batch b = TokenizedExample.batch(rows, padId, scope)) {
        NDArray logits = lm.logitsAt(b.inputIds(), rowAdapters, false, b.positions());
        float[] nll = logits.logSoftmax(-1).gather(b.targets().expandDims(-1), -1).squeeze(-1).neg().toFloatArray();
        double[] s = perUser(nll, w, users.size(), false);
        for (int i = 0; i < users.size(); i++) {
          sum[users.get(i)] += s[i];
          count[users.get(i)] += w.counts[i];
        }
      }
    }
    double[] out = new double[n];
    for (int u = 0; u < n; u++) {
      out[u] = count[u] == 0 ? Double.NaN : sum[u] / count[u];
    }
    return out;
  }
}
