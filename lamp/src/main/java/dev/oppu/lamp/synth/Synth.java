package dev.oppu.lamp.synth;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Vocabulary.Topic;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
        String shiftDate = null;
        for (int h = 0; h < total; h++) {
          P pref = h < n ? before : after;
          L latent = gen.latent(r, pref);
          String label = noisy(r, gen, latent, gen.answer(pref, latent), p.noise());
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
                shifted ? gen.answer(before, latent) : null));
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

  /** One task's generator: a preference P, and the latent content L of one item or query. */
  interface Gen<P, L> {
    P newPref(SplittableRandom r);

    P shift(SplittableRandom r, P old);

    /** Draws what an item is about (its kind, quality, topic, words) as this user's interests make it. */
    L latent(SplittableRandom r, P pref);

    /** The user's noise-free answer. */
    String answer(P pref, L latent);

    /** The crowd-majority answer. */
    String crowd(L latent);

    /** A wrong answer, for label noise. */
    String corrupt(SplittableRandom r, L latent, String answer);

    /** The history item's fields, with this answer as its label. */
    Map<String, String> item(L latent, String label);

    /** The query's LaMP input. */
    String input(L latent);

    Map<String, Object> describe(P pref);
  }

  // ------------------------------------------------------------------------------------ movie tagging, news

  record ClassPref(int[] favourites, int[] labelOf) {}

  record KindText(int kind, String text) {}

  static final class ClassGen implements Gen<ClassPref, KindText> {
    private static final double[] WEIGHTS = {0.4, 0.3, 0.2, 0.1};
    private final Task task;
    private final List<Topic> kinds;
    private final List<String> labels;

    ClassGen(Task task, List<Topic> kinds) {
      this.task = task;
      this.kinds = kinds;
      this.labels = task.labels();
    }

    @Override
    public ClassPref newPref(SplittableRandom r) {
      int[] fav = distinct(r, kinds.size(), 4);
      int[] labelOf = new int[kinds.size()];
      for (int k = 0; k < labelOf.length; k++) {
        labelOf[k] = k;
      }
      // the 2nd and 4th favourites (.27 + .09 of the items): enough to matter, little enough that across the
      // population the crowd's label stays each kind's majority
      labelOf[fav[1]] = otherThan(r, labels.size(), fav[1]);
      labelOf[fav[3]] = otherThan(r, labels.size(), fav[3]);
      return new ClassPref(fav, labelOf);
    }

    @Override
    public ClassPref shift(SplittableRandom r, ClassPref old) {
      // the personal kinds move: the 1st and 3rd favourites get personal labels, the 2nd and 4th go back to the
      // crowd's, so every favourite kind changes its answer
      int[] fav = old.favourites();
      int[] labelOf = old.labelOf().clone();
      labelOf[fav[1]] = fav[1];
      labelOf[fav[3]] = fav[3];
      labelOf[fav[0]] = otherThan(r, labels.size(), fav[0]);
      labelOf[fav[2]] = otherThan(r, labels.size(), fav[2]);
      return new ClassPref(fav, labelOf);
    }

    @Override
    public KindText latent(SplittableRandom r, ClassPref pref) {
      int kind;
      double u = r.nextDouble();
      if (u < 0.1) {
        kind = r.nextInt(kinds.size());
      } else {
        double acc = 0.1;
        kind = pref.favourites()[3];
        for (int j = 0; j < 4; j++) {
          acc += 0.9 * WEIGHTS[j];
          if (u < acc) {
            kind = pref.favourites()[j];
            break;
          }
        }
      }
      Topic t = kinds.get(kind);
      Texts.Keys k = Texts.keys(r, t, t.verbs());
      String text;
      if (task == Task.MOVIE_TAGGING) {
        String first = "a " + k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2() + ".";
        text = Texts.text(r, first, Texts.MOVIE, t, kinds, null, 30 + r.nextInt(50), null);
      } else {
        String first = "the " + k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2() + " in the " + k.place()
            + " on " + Texts.pick(r, Vocabulary.TIMES) + ".";
        text = Texts.text(r, first, Texts.NEWS, t, kinds, null, 40 + r.nextInt(60), null);
      }
      return new KindText(kind, text);
    }

    @Override
    public String answer(ClassPref pref, KindText l) {
      return labels.get(pref.labelOf()[l.kind()]);
    }

    @Override
    public String crowd(KindText l) {
      return labels.get(l.kind());
    }

    @Override
    public String corrupt(SplittableRandom r, KindText l, String answer) {
      return labels.get(otherThan(r, labels.size(), labels.indexOf(answer)));
    }

    @Override
    public Map<String, String> item(KindText l, String label) {
      return fields(task.inputField(), l.text(), task.labelField(), label);
    }

    @Override
    public String input(KindText l) {
      return task.lampInput(l.text(), List.of());
    }

    @Override
    public Map<String, Object> describe(ClassPref pref) {
      Map<String, Object> d = new LinkedHashMap<>();
      List<String> fav = new ArrayList<>();
      for (int k : pref.favourites()) {
        fav.add(kinds.get(k).name());
      }
      d.put("favourite_kinds", fav);
      Map<String, String> personal = new LinkedHashMap<>();
      for (int k = 0; k < pref.labelOf().length; k++) {
        if (pref.labelOf()[k] != k) {
          personal.put(kinds.get(k).name(), labels.get(pref.labelOf()[k]));
        }
      }
      d.put("personal_labels", personal);
      return d;
    }
  }

  // ------------------------------------------------------------------------------------ product rating

  record Review(int quality, String text) {}

  static final class RatingGen implements Gen<Integer, Review> {
    @Override
    public Integer newPref(SplittableRandom r) {
      return r.nextDouble() < 0.2 ? 0 : new int[] {-2, -1, 1, 2}[r.nextInt(4)];
    }

    @Override
    public Integer shift(SplittableRandom r, Integer old) {
      while (true) {
        int b = r.nextInt(5) - 2;
        if (Math.abs(b - old) >= 2) {
          return b;
        }
      }
    }

    @Override
    public Review latent(SplittableRandom r, Integer bias) {
      int q = 1 + r.nextInt(5);
      Topic t = Texts.pick(r, Vocabulary.NEWS);
      List<String> sentiment = Vocabulary.SENTIMENT.get(q - 1);
      String first = "this " + Texts.pick(r, t.nouns()) + " is " + Texts.pick(r, sentiment) + ".";
      String text = Texts.text(r, first, Texts.REVIEW, t, Vocabulary.NEWS, sentiment, 30 + r.nextInt(50),
          Vocabulary.SENTIMENT_CLOSING.get(q - 1));
      return new Review(q, text);
    }

    @Override
    public String answer(Integer bias, Review l) {
      return Integer.toString(Math.max(1, Math.min(5, l.quality() + bias)));
    }

    @Override
    public String crowd(Review l) {
      return Integer.toString(l.quality());
    }

    @Override
    public String corrupt(SplittableRandom r, Review l, String answer) {
      int a = Integer.parseInt(answer);
      int step = a == 1 ? 1 : a == 5 ? -1 : (r.nextBoolean() ? 1 : -1);
      return Integer.toString(a + step);
    }

    @Override
    public Map<String, String> item(Review l, String label) {
      return fields("text", l.text(), "score", label);
    }

    @Override
    public String input(Review l) {
      return Task.PRODUCT_RATING.lampInput(l.text(), List.of());
    }

    @Override
    public Map<String, Object> describe(Integer bias) {
      return Map.of("bias", bias);
    }
  }

  // ------------------------------------------------------------------------------------ headline, title, tweet

  record Style(String prefix, String suffix, String length, String letterCase) {}

  record Piece(Texts.Keys keys, String text) {}

  static final class StyleGen implements Gen<Style, Piece> {
    private static final List<String> LENGTHS = List.of("short", "medium", "long");
    private final Task task;
    private final List<String> prefixes;
    private final List<String> suffixes;

    StyleGen(Task task) {
      this.task = task;
      this.prefixes = switch (task) {
        case NEWS_HEADLINE -> Vocabulary.HEADLINE_PREFIXES;
        case SCHOLARLY_TITLE -> Vocabulary.TITLE_PREFIXES;
        default -> Vocabulary.TWEET_OPENERS;
      };
      this.suffixes = switch (task) {
        case NEWS_HEADLINE -> Vocabulary.HEADLINE_SUFFIXES;
        case SCHOLARLY_TITLE -> Vocabulary.TITLE_SUFFIXES;
        default -> Vocabulary.TWEET_HASHTAGS;
      };
    }

    @Override
    public Style newPref(SplittableRandom r) {
      String prefix = r.nextDouble() < 0.7 ? Texts.pick(r, prefixes) : null;
      String suffix = r.nextDouble() < 0.7 || prefix == null ? Texts.pick(r, suffixes) : null;
      return new Style(prefix, suffix, Texts.pick(r, LENGTHS), r.nextBoolean() ? "title" : "lower");
    }

    @Override
    public Style shift(SplittableRandom r, Style old) {
      String prefix;
      do {
        prefix = Texts.pick(r, prefixes);
      } while (prefix.equals(old.prefix()));
      String suffix;
      do {
        suffix = Texts.pick(r, suffixes);
      } while (suffix.equals(old.suffix()));
      return new Style(prefix, suffix, old.length(), old.letterCase());
    }

    @Override
    public Piece latent(SplittableRandom r, Style style) {
      if (task == Task.SCHOLARLY_TITLE) {
        Topic t = Texts.pick(r, Vocabulary.RESEARCH);
        Texts.Keys k = Texts.keys(r, t, List.of());
        String first = "we propose a " + k.a1() + " " + k.n1() + " method for " + k.n2() + " " + k.n3() + ".";
        return new Piece(k, Texts.text(r, first, Texts.ABSTRACT, t, Vocabulary.RESEARCH, null, 50 + r.nextInt(50),
            null));
      }
      Topic t = Texts.pick(r, Vocabulary.NEWS);
      Texts.Keys k = Texts.keys(r, t, t.verbs());
      if (task == Task.NEWS_HEADLINE) {
        String first = "the " + k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2() + " in the " + k.place()
            + " on " + Texts.pick(r, Vocabulary.TIMES) + ".";
        return new Piece(k, Texts.text(r, first, Texts.NEWS, t, Vocabulary.NEWS, null, 40 + r.nextInt(60), null));
      }
      String first = "the " + k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2() + " in the " + k.place() + ".";
      return new Piece(k, Texts.text(r, first, Texts.TWEET_SOURCE, t, Vocabulary.NEWS, null, 30 + r.nextInt(20),
          null));
    }

    private String core(Texts.Keys k, String length) {
      return switch (task) {
        case SCHOLARLY_TITLE -> switch (length) {
          case "short" -> k.n1() + " for " + k.n2();
          case "medium" -> k.a1() + " " + k.n1() + " for " + k.n2();
          default -> k.a1() + " " + k.n1() + " for " + k.n2() + " " + k.n3();
        };
        case NEWS_HEADLINE -> switch (length) {
          case "short" -> k.n1() + " " + k.v1() + " " + k.n2();
          case "medium" -> k.a1() + " " + k.n1() + " " + k.v1() + " " + k.n2();
          default -> k.a1() + " " + k.n1() + " " + k.v1() + " " + k.n2() + " in " + k.place();
        };
        default -> switch (length) {
          case "short" -> k.n1() + " " + k.v1() + " the " + k.n2();
          case "medium" -> k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2();
          default -> k.a1() + " " + k.n1() + " " + k.v1() + " the " + k.n2() + " in the " + k.place();
        };
      };
    }

    @Override
    public String answer(Style s, Piece l) {
      String core = core(l.keys(), s.length());
      String out = switch (task) {
        case NEWS_HEADLINE -> (s.prefix() != null ? s.prefix() + ": " : "") + core
            + (s.suffix() != null ? " " + s.suffix() : "");
        case SCHOLARLY_TITLE -> (s.prefix() != null ? s.prefix() + " " : "") + core
            + (s.suffix() != null ? ": " + s.suffix() : "");
        default -> (s.prefix() != null ? s.prefix() + " " : "") + core + (s.suffix() != null ? " " + s.suffix() : "");
      };
      return "title".equals(s.letterCase()) ? titleCase(out) : out;
    }

    @Override
    public String crowd(Piece l) {
      return titleCase(core(l.keys(), "medium"));
    }

    @Override
    public String corrupt(SplittableRandom r, Piece l, String answer) {
      return answer; // generation golds carry no label noise
    }

    @Override
    public Map<String, String> item(Piece l, String label) {
      return switch (task) {
        case SCHOLARLY_TITLE -> fields("abstract", l.text(), "title", label);
        case NEWS_HEADLINE -> fields("text", l.text(), "title", label);
        default -> fields("text", label); // LaMP_7 history holds the user's own tweets only
      };
    }

    @Override
    public String input(Piece l) {
      return task.lampInput(l.text(), List.of());
    }

    @Override
    public Map<String, Object> describe(Style s) {
      Map<String, Object> d = new LinkedHashMap<>();
      d.put("prefix", s.prefix());
      d.put("suffix", s.suffix());
      d.put("length", s.length());
      d.put("case", s.letterCase());
      return d;
    }
  }

  // ------------------------------------------------------------------------------------ citation

  record CitePref(int[] home, int[] cited) {}

  record CiteQuery(int paperTopic, String title, String[] options, int[] optionTopics) {}

  static final class CitationGen implements Gen<CitePref, CiteQuery> {
    private final List<Topic> topics = Vocabulary.RESEARCH;

    @Override
    public CitePref newPref(SplittableRandom r) {
      int[] four = distinct(r, topics.size(), 4);
      return new CitePref(new int[] {four[0], four[1]}, new int[] {four[2], four[3]});
    }

    @Override
    public CitePref shift(SplittableRandom r, CitePref old) {
      while (true) {
        int[] two = distinct(r, topics.size(), 2);
        boolean ok = true;
        for (int t : two) {
          ok &= !contains(old.home(), t) && !contains(old.cited(), t);
        }
        if (ok) {
          return new CitePref(old.home(), two);
        }
      }
    }

    private String title(SplittableRandom r, int topic) {
      Topic t = topics.get(topic);
      return Texts.fill(r, Texts.pick(r, Texts.RESEARCH_TITLE), t, List.of(t), null);
    }

    @Override
    public CiteQuery latent(SplittableRandom r, CitePref pref) {
      int x = pref.home()[r.nextInt(2)];
      int other;
      if (r.nextBoolean()) {
        other = pref.cited()[r.nextInt(2)];
      } else {
        do {
          other = r.nextInt(topics.size());
        } while (other == x || contains(pref.cited(), other));
      }
      String onTopic = title(r, x);
      String offTopic = title(r, other);
      boolean flip = r.nextBoolean();
      return new CiteQuery(x, title(r, x), flip ? new String[] {offTopic, onTopic} : new String[] {onTopic, offTopic},
          flip ? new int[] {other, x} : new int[] {x, other});
    }

    @Override
    public String answer(CitePref pref, CiteQuery l) {
      boolean c0 = contains(pref.cited(), l.optionTopics()[0]);
      boolean c1 = contains(pref.cited(), l.optionTopics()[1]);
      if (c0 != c1) {
        return c0 ? "[1]" : "[2]";
      }
      return crowd(l);
    }

    @Override
    public String crowd(CiteQuery l) {
      return l.optionTopics()[0] == l.paperTopic() ? "[1]" : "[2]";
    }

    @Override
    public String corrupt(SplittableRandom r, CiteQuery l, String answer) {
      return "[1]".equals(answer) ? "[2]" : "[1]";
    }

    @Override
    public Map<String, String> item(CiteQuery l, String label) {
      // the user's own paper, and the reference they picked for it
      return fields("title", l.title(), "citation", l.options()["[1]".equals(label) ? 0 : 1]);
    }

    @Override
    public String input(CiteQuery l) {
      return Task.CITATION.lampInput(l.title(), List.of(l.options()));
    }

    @Override
    public Map<String, Object> describe(CitePref pref) {
      Map<String, Object> d = new LinkedHashMap<>();
      d.put("home_topics", List.of(topics.get(pref.home()[0]).name(), topics.get(pref.home()[1]).name()));
      d.put("cited_topics", List.of(topics.get(pref.cited()[0]).name(), topics.get(pref.cited()[1]).name()));
      return d;
    }
  }

  // ------------------------------------------------------------------------------------ helpers

  static Map<String, String> fields(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  static String titleCase(String s) {
    StringBuilder sb = new StringBuilder(s.length());
    boolean start = true;
    for (char c : s.toCharArray()) {
      sb.append(start ? Character.toUpperCase(c) : c);
      start = c == ' ';
    }
    return sb.toString();
  }

  static int[] distinct(SplittableRandom r, int n, int k) {
    int[] all = new int[n];
    for (int i = 0; i < n; i++) {
      all[i] = i;
    }
    for (int i = 0; i < k; i++) {
      int j = i + r.nextInt(n - i);
      int t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    return java.util.Arrays.copyOf(all, k);
  }

  static int otherThan(SplittableRandom r, int n, int not) {
    int v = r.nextInt(n - 1);
    return v >= not ? v + 1 : v;
  }

  static boolean contains(int[] xs, int x) {
    for (int v : xs) {
      if (v == x) {
        return true;
      }
    }
    return false;
  }
}
