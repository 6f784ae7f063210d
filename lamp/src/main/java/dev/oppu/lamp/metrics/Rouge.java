package dev.oppu.lamp.metrics;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * ROUGE-1 and ROUGE-L as Google's {@code rouge_score} computes them with its default tokenizer (the scorer behind
 * Hugging Face {@code evaluate}'s "rouge", which LaMP uses): lowercase, every run of characters outside
 * {@code [a-z0-9]} separates tokens, no stemming. The first argument is the target (reference).
 */
public final class Rouge {

  /** Precision, recall and F-measure of one prediction against one target. */
  public record Score(double precision, double recall, double fmeasure) {
    static final Score ZERO = new Score(0, 0, 0);

    static Score of(double precision, double recall) {
      double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
      return new Score(precision, recall, f);
    }
  }

  private Rouge() {}

  /** rouge_score's default tokenizer: lowercase, then maximal runs of {@code [a-z0-9]}. */
  public static List<String> tokenize(String text) {
    String lower = text.toLowerCase(Locale.ROOT);
    List<String> tokens = new ArrayList<>();
    int start = -1;
    for (int i = 0; i <= lower.length(); i++) {
      char c = i < lower.length() ? lower.charAt(i) : ' ';
      boolean word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (word && start < 0) {
        start = i;
      } else if (!word && start >= 0) {
        tokens.add(lower.substring(start, i));
        start = -1;
      }
    }
    return tokens;
  }

  /** ROUGE-1: clipped unigram overlap. An empty side scores zero. */
  public static Score rouge1(String target, String prediction) {
    return rouge1(tokenize(target), tokenize(prediction));
  }

  static Score rouge1(List<String> target, List<String> prediction) {
    Map<String, Integer> t = counts(target);
    Map<String, Integer> p = counts(prediction);
    int overlap = 0;
    for (Map.Entry<String, Integer> e : t.entrySet()) {
      overlap += Math.min(e.getValue(), p.getOrDefault(e.getKey(), 0));
    }
    // rouge_score divides by max(count, 1), so an empty side gives 0/1 = 0
    return Score.of(overlap / (double) Math.max(prediction.size(), 1), overlap / (double) Math.max(target.size(), 1));
  }

  /** ROUGE-L: longest common subsequence over tokens (sentence-level, not ROUGE-Lsum). */
  public static Score rougeL(String target, String prediction) {
    return rougeL(tokenize(target), tokenize(prediction));
  }

  static Score rougeL(List<String> target, List<String> prediction) {
    if (target.isEmpty() || prediction.isEmpty()) {
      return Score.ZERO;
    }
    int lcs = lcsLength(target, prediction);
    return Score.of(lcs / (double) prediction.size(), lcs / (double) target.size());
  }

  /** Length of the longest common subsequence; O(n*m) time, O(m) memory. */
  static int lcsLength(List<String> a, List<String> b) {
    int[] prev = new int[b.size() + 1];
    int[] cur = new int[b.size() + 1];
    for (int i = 1; i <= a.size(); i++) {
      String ai = a.get(i - 1);
      for (int j = 1; j <= b.size(); j++) {
        cur[j] = ai.equals(b.get(j - 1)) ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
      }
      int[] swap = prev;
      prev = cur;
      cur = swap;
    }
    return prev[b.size()];
  }

  private static Map<String, Integer> counts(List<String> tokens) {
    Map<String, Integer> m = new HashMap<>();
    for (String t : tokens) {
      m.merge(t, 1, Integer::sum);
    }
    return m;
  }
}
