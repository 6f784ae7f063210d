package dev.oppu.lamp.synth;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Vocabulary.Topic;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Movie tagging and news categorization (see {@link Synth}): latent kinds, favourite kinds, personal labels. */
final class ClassGen implements Gen<ClassGen.ClassPref, ClassGen.KindText> {

  record ClassPref(int[] favourites, int[] labelOf) {}

  record KindText(int kind, String text) {}

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
    int[] fav = Gen.distinct(r, kinds.size(), 4);
    int[] labelOf = new int[kinds.size()];
    for (int k = 0; k < labelOf.length; k++) {
      labelOf[k] = k;
    }
    // the 2nd and 4th favourites (.27 + .09 of the items): enough to matter, little enough that across the
    // population the crowd's label stays each kind's majority
    labelOf[fav[1]] = Gen.otherThan(r, labels.size(), fav[1]);
    labelOf[fav[3]] = Gen.otherThan(r, labels.size(), fav[3]);
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
    labelOf[fav[0]] = Gen.otherThan(r, labels.size(), fav[0]);
    labelOf[fav[2]] = Gen.otherThan(r, labels.size(), fav[2]);
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

  /**
   * The majority label of the user's items of the query's kind (ties: the crowd's if tied, else the newest's); with no
   * such item, the crowd's.
   */
  @Override
  public String fromHistory(List<Map.Entry<KindText, String>> history, KindText query) {
    Map<String, Integer> votes = new HashMap<>();
    Map<String, Integer> newest = new HashMap<>();
    for (int i = 0; i < history.size(); i++) {
      if (history.get(i).getKey().kind() == query.kind()) {
        votes.merge(history.get(i).getValue(), 1, Integer::sum);
        newest.put(history.get(i).getValue(), i);
      }
    }
    String crowd = crowd(query);
    Comparator<String> rank = Comparator.<String>comparingInt(votes::get)
        .thenComparing(l -> l.equals(crowd)).thenComparingInt(newest::get);
    return votes.isEmpty() ? crowd : Collections.max(votes.keySet(), rank);
  }

  @Override
  public String corrupt(SplittableRandom r, KindText l, String answer) {
    return labels.get(Gen.otherThan(r, labels.size(), labels.indexOf(answer)));
  }

  @Override
  public Map<String, String> item(KindText l, String label) {
    return Gen.fields(task.inputField(), l.text(), task.labelField(), label);
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
