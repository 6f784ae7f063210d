package dev.oppu.lamp.synth;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.data.UserData;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Synthetic LaMP data with latent per-user preferences, for any of the seven tasks. Deterministic by seed: each user
 * draws from its own random stream (seed, task, pool, index), so adding users does not change the others.
 *
 * <p><b>Users.</b> Every user is drawn from the same population; {@link Params#users} of them are evaluated (their
 * queries are scored), {@link Params#trainUsers} are not: their text pretrains the base model and their items train
 * the task adapter (OPPU's {@code user_others}). Evaluated users have activity levels in the proportions OPPU
 * analyses: user i is "few" (8-16 history items) when i mod 5 is 0 or 2, "medium" (24-48) when it is 1 or 3, "many"
 * (64-128) when it is 4. Non-evaluated users are "medium".
 *
 * <p><b>Preferences</b> (the latent truth, written to {@code truth.json}):
 * <ul>
 *   <li>movie tagging, news categorization: items come from 15 latent kinds, each with its own vocabulary; the crowd
 *       gives kind k the task's k-th label. A user favours 4 kinds (weights .4/.3/.2/.1, 90% of their items; the
 *       rest uniform) and tags their 2nd and 4th favourite kinds with a personal label of their own (about 37% of
 *       their items; across the population the crowd's label stays each kind's majority);</li>
 *   <li>product rating: a review is written from a latent quality q (1-5, uniform) whose sentiment words show in the
 *       text; the crowd scores q; a user scores q + bias, clamped to 1..5, bias in -2..2 (0 with probability .2);</li>
 *   <li>news headline, scholarly title, tweet paraphrase: the crowd answer is made of the text's key words; a user has
 *       a style: a prefix word (probability .7), a closing word or phrase (.7, at least one of the two), a length
 *       (short, medium, long) and a case (Title Case or lower case);</li>
 *   <li>citation: a user writes on 2 home topics and cites 2 other topics; a query offers a reference on the paper's
 *       own topic (the crowd's choice) and one on another topic, which in half the queries is one the user cites (and
 *       picks).</li>
 * </ul>
 * Labels of history items and golds are noisy with probability {@link Params#noise} (classification: another label;
 * rating: one step off; citation: the other option; generation: none).
 *
 * <p><b>Shift</b> ({@link Params#shift}): every evaluated user changes preference at a point in time: their history
 * holds their activity level's items before it, then {@link Params#postShiftItems} items after it, and the queries
 * follow the new preference. Classification users move their personal labels to their 1st and 3rd favourite
 * kinds (the 2nd and 4th return to the crowd's labels), raters get a bias at least 2 away,
 * writers a new prefix and closing, citers 2 new cited topics.
 *
 * <p><b>Dates.</b> History items are dated (ISO dates from 2021-01-01, 1 to 3 days apart); queries come after the
 * last item.
 *
 * <p>This class holds the users, activity levels, shift and noise, the same for every task; each task's preferences
 * and texts are its {@link Gen}: {@link ClassGen}, {@link RatingGen}, {@link StyleGen}, {@link CitationGen}.
 */
public final class Synth {

  /** File names written into {@code <out>/<task_name>/}. */
  public static final String USERS_FILE = "users.json";
  public static final String LABELS_FILE = "users_labels.json";
  public static final String TRAIN_USERS_FILE = "train_users.json";
  public static final String TRUTH_FILE = "truth.json";
  public static final String CROWD_PREDS_FILE = "crowd_preds.json";
  public static final String PERSONAL_PREDS_FILE = "personal_preds.json";
  public static final String PRE_SHIFT_PREDS_FILE = "pre_shift_preds.json";
  /** Optional copies in LaMP's own form (time-based: one entry per query, with user_id and dated profile). */
  public static final String LAMP_QUESTIONS_FILE = "lamp_questions.json";
  public static final String LAMP_OUTPUTS_FILE = "lamp_outputs.json";

  /** The generator's parameters; {@link #defaults()} are the documented defaults. */
  public record Params(int users, int trainUsers, int queries, int trainQueries, long seed, boolean shift,
      int postShiftItems, double noise) {

    public static Params defaults() {
      return new Params(20, 40, 8, 4, 42L, false, 30, 0.05);
    }

    public Params withUsers(int n) {
      return new Params(n, trainUsers, queries, trainQueries, seed, shift, postShiftItems, noise);
    }

    public Params withTrainUsers(int n) {
      return new Params(users, n, queries, trainQueries, seed, shift, postShiftItems, noise);
    }

    public Params withQueries(int n) {
      return new Params(users, trainUsers, n, trainQueries, seed, shift, postShiftItems, noise);
    }

    public Params withSeed(long s) {
      return new Params(users, trainUsers, queries, trainQueries, s, shift, postShiftItems, noise);
    }

    public Params withShift(boolean on) {
      return new Params(users, trainUsers, queries, trainQueries, seed, on, postShiftItems, noise);
    }

    public Params {
      if (users < 0 || trainUsers < 0 || queries < 1 || trainQueries < 0 || postShiftItems < 0 || noise < 0
          || noise > 1) {
        throw new IllegalArgumentException("bad synth parameters");
      }
    }
  }

  /** Activity levels: history sizes drawn uniformly in [min, max]. */
  public enum Activity {
    FEW(8, 16), MEDIUM(24, 48), MANY(64, 128);
    final int min;
    final int max;

    Activity(int min, int max) {
      this.min = min;
      this.max = max;
    }

    static Activity ofEvaluated(int i) {
      return switch (i % 5) {
        case 0, 2 -> FEW;
        case 1, 3 -> MEDIUM;
        default -> MANY;
      };
    }
  }

  private Synth() {}

  /** Generates one task's data set. */
  public static SynthDataset generate(Task task, Params p) {
    return run(task, p, generator(task));
  }

  private static Gen<?, ?> generator(Task task) {
    return switch (task) {
      case MOVIE_TAGGING -> new ClassGen(task, Vocabulary.MOVIE);
      case NEWS_CATEGORIZE -> new ClassGen(task, Vocabulary.NEWS);
      case PRODUCT_RATING -> new RatingGen();
      case NEWS_HEADLINE, SCHOLARLY_TITLE, TWEET_PARAPHRASE -> new StyleGen(task);
      case CITATION -> new CitationGen();
    };
  }

  private static <P, L> SynthDataset run(Task task, Params p, Gen<P, L> gen) {
    List<UserData> evaluated = new ArrayList<>();
    List<UserData> train = new ArrayList<>();
    List<SynthDataset.UserTruth> userTruth = new ArrayList<>();
    List<SynthDataset.QueryTruth> queryTruth = new ArrayList<>();
    for (int pool = 0; pool < 2; pool++) {
      boolean isEval = pool == 0;
      int count = isEval ? p.users() : p.trainUsers();
      for (int i = 0; i < count; i++) {
        SplittableRandom r = new SplittableRandom(mix(p.seed(), task.ordinal(), pool, i));
        String uid = String.format(Locale.ROOT, isEval ? "u%04d" : "t%04d", i);
        Activity activity = isEval ? Activity.ofEvaluated(i) : Activity.MEDIUM;
        P before = gen.newPref(r);
        boolean shifted = isEval && p.shift();
        P after = shifted ? gen.shift(r, before) : before;
        int n = activity.min + r.nextInt(activity.max - activity.min + 1);
        int total = n + (shifted ? p.postShiftItems() : 0);
        LocalDate date = LocalDate.of(2021, 1, 1).plusDays(r.nextInt(30));
        List<HistoryItem> history = new ArrayList<>();
        List<Map.Entry<L, String>> evidence = new ArrayList<>(); // the current preference's items, for fromHistory
        String shiftDate = null;
        for (int h = 0; h < total; h++) {
          P pref = h < n ? before : after;
          L latent = gen.latent(r, pref);
          String label = noisy(r, gen, latent, gen.answer(pref, latent), p.noise());
          if (!shifted || h >= n) {
            evidence.add(Map.entry(latent, label));
          }
          date = date.plusDays(1 + r.nextInt(3));
          if (h == n && shifted) {
            shiftDate = date.toString();
          }
          history.add(new HistoryItem(String.format(Locale.ROOT, "%s-h%03d", uid, h), date.toString(),
              gen.item(latent, label)));
        }
        List<Query> queries = new ArrayList<>();
        int qn = isEval ? p.queries() : p.trainQueries();
        for (int q = 0; q < qn; q++) {
          L latent = gen.latent(r, after);
          String personal = gen.answer(after, latent);
          String gold = noisy(r, gen, latent, personal, p.noise());
          String qid = String.format(Locale.ROOT, "%s-q%02d", uid, q);
          queries.add(new Query(qid, gen.input(latent), gold));
          if (isEval) {
            queryTruth.add(new SynthDataset.QueryTruth(qid, uid, gold, gen.crowd(latent), personal,
                shifted ? gen.answer(before, latent) : null, gen.fromHistory(evidence, latent)));
          }
        }
        UserData u = new UserData(uid, history, queries);
        (isEval ? evaluated : train).add(u);
        userTruth.add(new SynthDataset.UserTruth(uid, isEval, activity.name().toLowerCase(Locale.ROOT), total,
            gen.describe(before), shifted ? n : -1, shiftDate, shifted ? gen.describe(after) : null));
      }
    }
    return new SynthDataset(task, p, evaluated, train, userTruth, queryTruth);
  }

  private static <P, L> String noisy(SplittableRandom r, Gen<P, L> gen, L latent, String answer, double noise) {
    return r.nextDouble() < noise ? gen.corrupt(r, latent, answer) : answer;
  }

  static long mix(long seed, long a, long b, long c) {
    long h = seed;
    for (long v : new long[] {a, b, c}) {
      h = (h ^ v) * 0x9E3779B97F4A7C15L;
      h ^= h >>> 31;
    }
    return h;
  }
}
