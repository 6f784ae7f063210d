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
   * @param tolerance accepted if held-out loss <= previous * (1 + tolerance); when the previous version stands for
   *     fewer than {@code holdoutMinNew} items (it was never validated itself), previous = the larger of its held-out
   *     loss and the task model's
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

    ExampleBuilder.Options examples(Variant variant) {
      return new ExampleBuilder.Options(variant, variant == Variant.RAG ? k : 0, maxTokens, retrievedWords);
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
    List<Item> items = new ArrayList<>(history);
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
      return rejected("no new items since seq " + newFromSeq, newFromSeq - 1);
    }
    long seed = seed(settings.seed(), userId, task.id(), variant.id(), version);
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
    List<TokenizedExample> trainExamples = builder.build(fields, profile, train::contains);
    List<TokenizedExample> heldExamples = builder.build(fields, profile, heldOut::contains);
    long coveredSeq = items.get(trainNew.get(trainNew.size() - 1)).seq();

    LoraAdapter candidate = previous != null
        ? previous.copy(lm.manager())
        : LoraAdapter.create(lm.config(), settings.lora(), seed, lm.manager());
    boolean keep = false;
    try {
      int bs = settings.training().batchSize();
      int pad = encoder.padId();
      double heldBefore = heldExamples.isEmpty() ? Double.NaN
          : AdapterTraining.meanLoss(lm, candidate, heldExamples, bs, pad);
      if (!heldExamples.isEmpty() && previous != null && coveredBefore < settings.holdoutMinNew()) {
        // a thin previous version (fewer items than a validated update needs, e.g. the one made as the user's first
        // event arrived) is no reference to be held to: the candidate must beat it OR the task model alone, so a
        // refusal cannot strand the user on an adapter of one item
        try (LoraAdapter none = LoraAdapter.create(lm.config(), settings.lora(), seed, lm.manager())) {
          heldBefore = Math.max(heldBefore, AdapterTraining.meanLoss(lm, none, heldExamples, bs, pad));
        }
      }
      AdapterTraining.Result r =
          AdapterTraining.train(lm, candidate, trainExamples, settings.training(), pad, seed, listener);
      double heldAfter = heldExamples.isEmpty() || !r.finite() ? Double.NaN
          : AdapterTraining.meanLoss(lm, candidate, heldExamples, bs, pad);
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
    } finally {
      if (!keep) {
        candidate.close();
      }
    }
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
