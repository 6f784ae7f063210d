package dev.oppu.lamp.synth;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One task's generator for {@link Synth}: a preference P, and the latent content L of one item or query. The generators
 * are {@link ClassGen} (movie tagging, news categorization), {@link RatingGen}, {@link StyleGen} (headline, title,
 * tweet) and {@link CitationGen}.
 */
interface Gen<P, L> {
  P newPref(SplittableRandom r);

  P shift(SplittableRandom r, P old);

  /** Draws what an item is about (its kind, quality, topic, words) as this user's interests make it. */
  L latent(SplittableRandom r, P pref);

  /** The user's noise-free answer. */
  String answer(P pref, L latent);

  /** The crowd-majority answer. */
  String crowd(L latent);

  /**
   * The answer a learner gets from the user's own labelled history when it recognises every item's latent content
   * (kind, quality) but knows the user only through those labels: the best any per-user adapter can do on this data.
   * Null where the task has no such estimate.
   */
  default String fromHistory(List<Map.Entry<L, String>> history, L query) {
    return null;
  }

  /** A wrong answer, for label noise. */
  String corrupt(SplittableRandom r, L latent, String answer);

  /** The history item's fields, with this answer as its label. */
  Map<String, String> item(L latent, String label);

  /** The query's LaMP input. */
  String input(L latent);

  Map<String, Object> describe(P pref);

  /** A history item's fields from key, value pairs, in order. */
  static Map<String, String> fields(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return m;
  }

  /** {@code k} distinct numbers of {@code 0..n-1}, in drawing order. */
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
    return Arrays.copyOf(all, k);
  }

  /** A number of {@code 0..n-1} other than {@code not}. */
  static int otherThan(SplittableRandom r, int n, int not) {
    int v = r.nextInt(n - 1);
    return v >= not ? v + 1 : v;
  }
}
