package dev.oppu.trainer;

import dev.oppu.lamp.Task;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.trainer.examples.ExampleBuilder;
import dev.oppu.trainer.examples.TokenEncoder;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.examples.Variant;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * One incremental update of one user's adapter (OPPU step 2, made online): warm-start from the previous version, train
 * on the new items plus a replay sample of older ones, hold out the newest items and accept the candidate only if its
 * weights and losses are finite and its held-out loss is not worse than the previous version's beyond a tolerance.
 * Depends on nothing but this user's history, the model and the seed, so one user's adapter never sees another's data.
 *
 * <p>Held-out items are not trained on in this update: the version covers the items up to just before them, and the
 * next update (whose new items then include them) covers them.
 */
public final class UserAdapterUpdater {

  /** One history item: per-user sequence number, broker arrival time (for adaptation lag), LaMP fields. */
  public record Item(long seq, long arrivalTime, Map<String, String> fields) {}

  /**
   * Configuration of per-user updates.
   *
   * @param maxReplay at most this many older items are replayed with the new ones
   * @param holdoutFraction, holdoutMax, holdoutMinNew the newest {@code clamp(round(fraction * new), 1, max)} items
   *     are held out when there are at least {@code holdoutMinNew} new items; otherwise only finiteness is checked
   * @param tolerance accepted if held-out loss <= previous * (1 + tolerance)
   */
  public record Settings(LoraConfig lora, AdapterTraining.Config training, int k, int maxTokens, int retrievedWords,
      int maxReplay, double holdoutFraction, int holdoutMax, int holdoutMinNew, double tolerance, long seed) {

    public Settings withTraining(LoraConfig l, AdapterTraining.Config t) {
      return new Settings(l, t, k, maxTokens, retrievedWords, maxReplay, holdoutFraction, holdoutMax, holdoutMinNew,
          tolerance, seed);
    }

    public Settings withK(int n) {
      return new Settings(lora, training, n, maxTokens, retrievedWords, maxReplay, holdoutFraction, holdoutMax,
          holdoutMinNew, tolerance, seed);
    }

    public Settings withMaxReplay(int max) {
      return new Settings(lora, training, k, maxTokens, retrievedWords, max, holdoutFraction, holdoutMax,
          holdoutMinNew, tolerance, seed);
    }

    public Settings withTolerance(double t) {
      return new Settings(lora, training, k, maxTokens, retrievedWords, maxReplay, holdoutFraction, holdoutMax,
          holdoutMinNew, t, seed);
    }

    /** RAG and PAG examples hold the k retrieved items (PAG: beside the profile, OPPU's --k 1 --add_profile). */
    ExampleBuilder.Options examples(Variant variant) {
      return new ExampleBuilder.Options(variant, variant == Variant.PLAIN ? 0 : k, maxTokens, retrievedWords);
    }
  }

  /** The result of an update; {@code adapter} is non-null only when accepted (the caller owns and closes it). */
  public record Outcome(boolean accepted, String reason, LoraAdapter adapter, long coveredSeq, int itemsTrained,
      int newItemsTrained, int heldOut, double lossBefore, double lossAfter, double heldOutBefore,
      double heldOutAfter, long trainMillis, List<Item> newlyCovered, long targetTokens, long tokens) {}

  private final LoraLm lm;
  private final TokenEncoder encoder;
  private final Settings settings;

  public UserAdapterUpdater(LoraLm lm, TokenEncoder encoder, Settings settings) {
    this.lm = lm;
    this.encoder = encoder;
    this.settings = settings;
  }

  public Settings settings() {
    return settings;
  }

  /**
   * Trains a candidate for (user, task, variant).
   *
   * @param history the user's retained history for the task, any order (sorted by seq here)
   * @param newFromSeq items with seq >= this are new since {@code previous}
   * @param profile the user's profile, prepended to every example of the pag variant (ignored by the others)
   * @param previous the user's current adapter (not modified), or null for a first version
   * @param version the version number the candidate would get (mixes into the seed)
   */
  public Outcome update(String userId, Task task, Variant variant, List<Item> history, long newFromSeq,
      String profile, LoraAdapter previous, long version, AdapterTraining.StepListener listener) {
    return update(userId, task, variant, history, newFromSeq, Long.MIN_VALUE, profile, previous, version, listener);
  }

  /**
   * As above; older items with seq below {@code replayFromSeq} (where the user's current behavior began, once a
   * shift was detected) stay in the history, for retrieval, but are not replayed: they contradict the new behavior.
   */
  public Outcome update(String userId, Task task, Variant variant, List<Item> history, long newFromSeq,
      long replayFromSeq, String profile, LoraAdapter previous, long version, AdapterTraining.StepListener listener) {
    Prepared p = prepare(new Request(userId, task, variant, history, newFromSeq, replayFromSeq, profile, previous,
        version));
    if (p.early() != null) {
      return p.early();
    }
    LoraAdapter candidate = p.candidate();
    List<TokenizedExample> heldExamples = p.heldExamples();
    boolean keep = false;
    try {
      int bs = settings.training().batchSize();
      int pad = encoder.padId();
      double heldBefore = heldExamples.isEmpty() ? Double.NaN
          : reference(p, AdapterTraining.meanLoss(lm, candidate, heldExamples, bs, pad));
      AdapterTraining.Result r =
          AdapterTraining.train(lm, candidate, p.trainExamples(), settings.training(), pad, p.seed(), listener);
      double heldAfter = heldExamples.isEmpty() || !r.finite() ? Double.NaN
          : AdapterTraining.meanLoss(lm, candidate, heldExamples, bs, pad);
      Outcome o = judge(p, heldBefore, r, heldAfter);
      keep = o.accepted();
      return o;
    } finally {
      if (!keep) {
        candidate.close();
      }
    }
  }

  /** The arguments of one {@link #update} (see there), for {@link #updateMany}. */
  public record Request(String userId, Task task, Variant variant, List<Item> history, long newFromSeq,
      long replayFromSeq, String profile, LoraAdapter previous, long version) {}

  /**
   * {@link #update} for several users (e.g. the waiting triggers of one task and variant) with their trainings in
   * one batch ({@link MultiUserTraining}) and their held-out losses in shared passes; each user keeps its own seed,
   * examples, optimizer, validation and outcome, as its own update has them. Outcomes in request order.
   */
  public List<Outcome> updateMany(List<Request> requests) {
    return updateMany(requests, null);
  }

  /** As above, with a listener of the batched steps ({@link MultiUserTraining#train}). */
  public List<Outcome> updateMany(List<Request> requests, AdapterTraining.StepListener listener) {
    List<Prepared> prepared = new ArrayList<>();
    Outcome[] out = new Outcome[requests.size()];
    List<Integer> training = new ArrayList<>();
    try {
      for (int i = 0; i < requests.size(); i++) {
        Prepared p = prepare(requests.get(i));
        prepared.add(p);
        if (p.early() != null) {
          out[i] = p.early();
        } else {
          training.add(i);
        }
      }
      if (!training.isEmpty()) {
        int bs = settings.training().batchSize();
        int pad = encoder.padId();
        List<LoraAdapter> candidates = training.stream().map(i -> prepared.get(i).candidate()).toList();
        List<List<TokenizedExample>> held = training.stream().map(i -> prepared.get(i).heldExamples()).toList();
        double[] heldBefore = MultiUserTraining.meanLosses(lm, candidates, held, bs, pad);
        for (int j = 0; j < training.size(); j++) {
          if (!held.get(j).isEmpty()) {
            heldBefore[j] = reference(prepared.get(training.get(j)), heldBefore[j]);
          }
        }
        List<AdapterTraining.Result> results = MultiUserTraining.train(lm, training.stream()
            .map(i -> new MultiUserTraining.Job(prepared.get(i).candidate(), prepared.get(i).trainExamples(),
                prepared.get(i).seed())).toList(), settings.training(), pad, listener);
        List<Integer> finite = new ArrayList<>();
        for (int j = 0; j < training.size(); j++) {
          if (results.get(j).finite() && !held.get(j).isEmpty()) {
            finite.add(j);
          }
        }
        double[] heldAfter = new double[training.size()];
        java.util.Arrays.fill(heldAfter, Double.NaN);
        double[] measured = MultiUserTraining.meanLosses(lm, finite.stream().map(candidates::get).toList(),
            finite.stream().map(held::get).toList(), bs, pad);
        for (int j = 0; j < finite.size(); j++) {
          heldAfter[finite.get(j)] = measured[j];
        }
        for (int j = 0; j < training.size(); j++) {
          int i = training.get(j);
          out[i] = judge(prepared.get(i), heldBefore[j], results.get(j), heldAfter[j]);
        }
      }
      return java.util.Arrays.asList(out);
    } finally {
      for (int i = 0; i < prepared.size(); i++) {
        LoraAdapter c = prepared.get(i).candidate();
        if (c != null && (out[i] == null || out[i].adapter() != c)) {
          c.close();
        }
      }
    }
  }

  /** An update's data before training: {@code early} is set when there is nothing to train. */
  private record Prepared(Outcome early, long seed, List<Item> items, List<Integer> trainNew,
      List<TokenizedExample> trainExamples, List<TokenizedExample> heldExamples, long coveredSeq, long newFromSeq,
      LoraAdapter candidate, boolean thinPrevious) {}

  /**
   * The held-out loss a candidate must not exceed (beyond the tolerance): the previous version's. A thin previous
   * version (fewer items than a validated update needs, e.g. the one made as the user's first events arrived) is no
   * reference to be held to: the candidate must beat it OR the task model alone, so a refusal cannot strand the user
   * on an adapter of one item.
   */
  private double reference(Prepared p, double previousHeldLoss) {
    if (p.heldExamples().isEmpty() || !p.thinPrevious()) {
      return previousHeldLoss;
    }
    // no adapter: the task model alone
    return Math.max(previousHeldLoss,
        AdapterTraining.meanLoss(lm, null, p.heldExamples(), settings.training().batchSize(), encoder.padId()));
  }

  private Prepared prepare(Request q) {
    String userId = q.userId();
    Task task = q.task();
    Variant variant = q.variant();
    long newFromSeq = q.newFromSeq();
    long replayFromSeq = q.replayFromSeq();
    LoraAdapter previous = q.previous();
    List<Item> items = new ArrayList<>(q.history());
    items.sort(Comparator.comparingLong(Item::seq));
    List<Integer> older = new ArrayList<>();
    List<Integer> fresh = new ArrayList<>();
    int coveredBefore = 0; // items the previous version stands for
    for (int i = 0; i < items.size(); i++) {
      long seq = items.get(i).seq();
      if (seq >= newFromSeq) {
        fresh.add(i);
      } else {
        coveredBefore++;
        if (seq >= replayFromSeq) {
          older.add(i);
        }
      }
    }
    if (fresh.isEmpty()) {
      return new Prepared(rejected("no new items since seq " + newFromSeq, newFromSeq - 1), 0, null, null, null,
          null, 0, newFromSeq, null, false);
    }
    long seed = seed(settings.seed(), userId, task.id(), variant.id(), q.version());
    int holdout = fresh.size() >= settings.holdoutMinNew()
        ? (int) Math.max(1, Math.min(settings.holdoutMax(), Math.round(fresh.size() * settings.holdoutFraction())))
        : 0;
    List<Integer> trainNew = fresh.subList(0, fresh.size() - holdout);
    Set<Integer> heldOut = new HashSet<>(fresh.subList(fresh.size() - holdout, fresh.size()));
    Set<Integer> train = new HashSet<>(trainNew);
    Random rnd = new Random(seed);
    List<Integer> replay = new ArrayList<>(older);
    java.util.Collections.shuffle(replay, rnd);
    train.addAll(replay.subList(0, Math.min(settings.maxReplay(), replay.size())));

    List<Map<String, String>> fields = items.stream().map(Item::fields).toList();
    ExampleBuilder builder = new ExampleBuilder(task, settings.examples(variant), encoder);
    List<TokenizedExample> trainExamples = builder.build(fields, q.profile(), train::contains);
    List<TokenizedExample> heldExamples = builder.build(fields, q.profile(), heldOut::contains);
    long coveredSeq = items.get(trainNew.get(trainNew.size() - 1)).seq();

    LoraAdapter candidate = previous != null
        ? previous.copy(lm.manager())
        : LoraAdapter.create(lm.config(), settings.lora(), seed, lm.manager());
    boolean thinPrevious = previous != null && coveredBefore < settings.holdoutMinNew();
    return new Prepared(null, seed, items, trainNew, trainExamples, heldExamples, coveredSeq, newFromSeq, candidate,
        thinPrevious);
  }

  /** The validation rule: the outcome of a trained candidate (holding it when accepted). */
  private Outcome judge(Prepared p, double heldBefore, AdapterTraining.Result r, double heldAfter) {
    List<TokenizedExample> heldExamples = p.heldExamples();
    List<TokenizedExample> trainExamples = p.trainExamples();
    List<Item> items = p.items();
    List<Integer> trainNew = p.trainNew();
    LoraAdapter candidate = p.candidate();
    long coveredSeq = p.coveredSeq();
    long newFromSeq = p.newFromSeq();
    boolean keep = false;
    String reason;
    if (!r.finite()) {
      reason = "rejected: training produced non-finite loss or weights";
    } else if (!heldExamples.isEmpty() && !Double.isFinite(heldAfter)) {
      reason = "rejected: non-finite held-out loss";
    } else if (!heldExamples.isEmpty() && heldAfter > heldBefore * (1 + settings.tolerance())) {
      reason = String.format(java.util.Locale.ROOT,
          "rejected: held-out loss %.4f worse than the previous version's %.4f beyond tolerance %.2f",
          heldAfter, heldBefore, settings.tolerance());
    } else {
      reason = "published";
      keep = true;
    }
    List<Item> covered = trainNew.stream().map(items::get).toList();
    return new Outcome(keep, reason, keep ? candidate : null, keep ? coveredSeq : newFromSeq - 1,
        trainExamples.size(), trainNew.size(), heldExamples.size(), r.lossBefore(), r.lossAfter(), heldBefore,
        heldAfter, r.millis(), keep ? covered : List.of(), r.targetTokens(), r.tokens());
  }

  private static Outcome rejected(String reason, long coveredSeq) {
    return new Outcome(false, reason, null, coveredSeq, 0, 0, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 0,
        List.of(), 0, 0);
  }

  /** A stable seed per (configured seed, user, task, variant, version): independent of other users and of order. */
  public static long seed(long base, String userId, String task, String variant, long version) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update((base + "|" + userId + "|" + task + "|" + variant + "|" + version).getBytes(StandardCharsets.UTF_8));
      byte[] d = md.digest();
      long s = 0;
      for (int i = 0; i < 8; i++) {
        s = (s << 8) | (d[i] & 0xff);
      }
      return s;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
