package dev.oppu.lamp.synth;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.synth.Vocabulary.Topic;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Citation (see {@link Synth}): home topics, and cited topics a user picks. */
final class CitationGen implements Gen<CitationGen.CitePref, CitationGen.CiteQuery> {

  record CitePref(int[] home, int[] cited) {}

  record CiteQuery(int paperTopic, String title, String[] options, int[] optionTopics) {}

  private final List<Topic> topics = Vocabulary.RESEARCH;

  @Override
  public CitePref newPref(SplittableRandom r) {
    int[] four = Gen.distinct(r, topics.size(), 4);
    return new CitePref(new int[] {four[0], four[1]}, new int[] {four[2], four[3]});
  }

  @Override
  public CitePref shift(SplittableRandom r, CitePref old) {
    while (true) {
      int[] two = Gen.distinct(r, topics.size(), 2);
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

  /**
   * The two topics the user cited most often off their paper's own topic are taken as the cited ones (ties: the
   * smaller topic number); the query is answered as {@link #answer} would with them.
   */
  @Override
  public String fromHistory(List<Map.Entry<CiteQuery, String>> history, CiteQuery query) {
    int[] counts = new int[topics.size()];
    for (Map.Entry<CiteQuery, String> e : history) {
      CiteQuery q = e.getKey();
      int picked = q.optionTopics()["[1]".equals(e.getValue()) ? 0 : 1];
      if (picked != q.paperTopic()) {
        counts[picked]++;
      }
    }
    int first = -1;
    int second = -1;
    for (int t = 0; t < counts.length; t++) {
      if (counts[t] > 0 && (first < 0 || counts[t] > counts[first])) {
        second = first;
        first = t;
      } else if (counts[t] > 0 && (second < 0 || counts[t] > counts[second])) {
        second = t;
      }
    }
    return answer(new CitePref(new int[0], new int[] {first, second}), query);
  }

  @Override
  public String corrupt(SplittableRandom r, CiteQuery l, String answer) {
    return "[1]".equals(answer) ? "[2]" : "[1]";
  }

  @Override
  public Map<String, String> item(CiteQuery l, String label) {
    // the user's own paper, and the reference they picked for it
    return Gen.fields("title", l.title(), "citation", l.options()["[1]".equals(label) ? 0 : 1]);
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

  private static boolean contains(int[] xs, int x) {
    for (int v : xs) {
      if (v == x) {
        return true;
      }
    }
    return false;
  }
}
