package dev.oppu.lamp;

import dev.oppu.lamp.metrics.Rouge;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * PAG profiles built from the history itself, where no profile file is given (OPPU writes them with a 7B chat model;
 * we cannot run one). Deterministic: the same items give the same text. A profile states, per task:
 * <ul>
 *   <li>classification (movie, news, citation): the user's most frequent labels with their shares;</li>
 *   <li>rating: the share of each score and the mean score;</li>
 *   <li>generation (headline, title, tweet): the typical answer length in words, a frequent first or last word of the
 *       answers (a personal prefix or sign-off), and whether answers are written in lower case;</li>
 *   <li>every task: the salient terms of the user's items, by tf-idf against a crowd's document frequencies when one
 *       is given ({@link Crowd}), by frequency otherwise. Generation tasks take them from the answers, the others from
 *       the item's input text.</li>
 * </ul>
 */
public final class Profiles {

  /** Labels and terms a profile lists at most. */
  public static final int TOP_LABELS = 3;
  public static final int TOP_TERMS = 8;

  private static final Set<String> STOP = Set.of("the", "and", "for", "with", "that", "this", "from", "into", "are",
      "was", "were", "has", "have", "had", "but", "not", "its", "his", "her", "their", "they", "them", "who", "what",
      "when", "where", "which", "will", "would", "can", "our", "out", "all", "one", "about", "after", "over", "than",
      "then", "there", "these", "those", "been", "being", "also", "more", "most", "some", "such", "very", "just",
      "you", "your", "she", "him", "how", "why", "while", "each", "both", "any", "only", "own", "same", "too");

  /** Document frequencies of terms over a crowd's items: the idf side of tf-idf. */
  public record Crowd(int documents, Map<String, Integer> documentFrequency) {
    /** Counts, for each term, the items (of any users) whose salient text contains it. */
    public static Crowd of(Task task, Iterable<Map<String, String>> items) {
      Map<String, Integer> df = new HashMap<>();
      int n = 0;
      for (Map<String, String> item : items) {
        n++;
        for (String t : new HashSet<>(terms(salientText(task, item)))) {
          df.merge(t, 1, Integer::sum);
        }
      }
      return new Crowd(n, df);
    }
  }

  private Profiles() {}

  /** A profile from the history alone (salient terms by frequency). */
  public static String fromHistory(Task task, List<Map<String, String>> items) {
    return fromHistory(task, items, null);
  }

  /** A profile from the history, salient terms by tf-idf against {@code crowd} (null: by frequency). */
  public static String fromHistory(Task task, List<Map<String, String>> items, Crowd crowd) {
    if (items.isEmpty()) {
      return "No history yet.";
    }
    List<String> parts = new ArrayList<>();
    switch (task.kind()) {
      case CLASSIFICATION -> parts.add(labelShares(task, items));
      case REGRESSION -> {
        parts.add(labelShares(task, items));
        double sum = 0;
        int n = 0;
        for (Map<String, String> it : items) {
          try {
            sum += Double.parseDouble(it.getOrDefault("score", "").trim());
            n++;
          } catch (NumberFormatException ignored) {
            // a malformed score is left out of the mean; validateItem rejects such items upstream
          }
        }
        if (n > 0) {
          parts.add(String.format(Locale.ROOT, "Mean score %.1f.", sum / n));
        }
      }
      case GENERATION -> parts.add(answerStyle(task, items));
    }
    List<String> salient = salientTerms(task, items, crowd);
    if (!salient.isEmpty()) {
      parts.add("Salient terms: " + String.join(", ", salient) + ".");
    }
    return String.join(" ", parts);
  }

  private static String labelShares(Task task, List<Map<String, String>> items) {
    String field = task == Task.CITATION ? null : task.labelField();
    if (task == Task.CITATION) {
      // citation items carry the cited paper, not a label: the user's cited topics show in the salient terms
      return "Cites " + items.size() + " papers.";
    }
    Map<String, Integer> counts = new HashMap<>();
    for (Map<String, String> it : items) {
      String v = it.get(field);
      if (v != null && !v.isBlank()) {
        counts.merge(v.trim(), 1, Integer::sum);
      }
    }
    int total = counts.values().stream().mapToInt(Integer::intValue).sum();
    List<Map.Entry<String, Integer>> top = top(counts, TOP_LABELS);
    List<String> shown = new ArrayList<>();
    for (Map.Entry<String, Integer> e : top) {
      shown.add(e.getKey() + " (" + Math.round(100.0 * e.getValue() / total) + "%)");
    }
    String what = switch (task) {
      case MOVIE_TAGGING -> "Most used tags: ";
      case NEWS_CATEGORIZE -> "Most used categories: ";
      default -> "Most given scores: ";
    };
    return what + String.join(", ", shown) + ".";
  }

  private static String answerStyle(Task task, List<Map<String, String>> items) {
    String noun = switch (task) {
      case NEWS_HEADLINE -> "Headlines";
      case SCHOLARLY_TITLE -> "Titles";
      default -> "Tweets";
    };
    List<Integer> lengths = new ArrayList<>();
    Map<String, Integer> first = new HashMap<>();
    Map<String, Integer> last = new HashMap<>();
    int lower = 0;
    for (Map<String, String> it : items) {
      String answer = it.getOrDefault(task.labelField(), "").trim();
      String[] words = answer.split("\\s+");
      lengths.add(answer.isEmpty() ? 0 : words.length);
      if (!answer.isEmpty()) {
        first.merge(words[0].toLowerCase(Locale.ROOT), 1, Integer::sum);
        last.merge(words[words.length - 1].toLowerCase(Locale.ROOT), 1, Integer::sum);
      }
      if (!answer.isEmpty() && answer.equals(answer.toLowerCase(Locale.ROOT))) {
        lower++;
      }
    }
    lengths.sort(Integer::compare);
    StringBuilder sb = new StringBuilder(noun).append(" are typically ").append(lengths.get(lengths.size() / 2))
        .append(" words long (").append(lengths.get(0)).append('-').append(lengths.get(lengths.size() - 1))
        .append(").");
    int n = items.size();
    if (first.isEmpty()) {
      return sb.toString();
    }
    Map.Entry<String, Integer> f = top(first, 1).get(0);
    if (n >= 2 && f.getValue() * 10 >= n * 3) {
      sb.append(" They often start with \"").append(f.getKey()).append("\" (")
          .append(Math.round(100.0 * f.getValue() / n)).append("%).");
    }
    Map.Entry<String, Integer> l = top(last, 1).get(0);
    if (n >= 2 && l.getValue() * 10 >= n * 3) {
      sb.append(" They often end with \"").append(l.getKey()).append("\" (")
          .append(Math.round(100.0 * l.getValue() / n)).append("%).");
    }
    if (lower * 10 >= n * 8) {
      sb.append(" Written in lower case.");
    }
    return sb.toString();
  }

  private static List<String> salientTerms(Task task, List<Map<String, String>> items, Crowd crowd) {
    Map<String, Integer> tf = new HashMap<>();
    for (Map<String, String> it : items) {
      for (String t : terms(salientText(task, it))) {
        tf.merge(t, 1, Integer::sum);
      }
    }
    Map<String, Double> score = new HashMap<>();
    for (Map.Entry<String, Integer> e : tf.entrySet()) {
      double idf = crowd == null ? 1.0
          : Math.log((crowd.documents() + 1.0) / (crowd.documentFrequency().getOrDefault(e.getKey(), 0) + 1.0)) + 1.0;
      score.put(e.getKey(), e.getValue() * idf);
    }
    List<String> terms = new ArrayList<>(score.keySet());
    terms.sort(Comparator.comparing((String t) -> -score.get(t)).thenComparing(Comparator.naturalOrder()));
    return terms.subList(0, Math.min(TOP_TERMS, terms.size()));
  }

  static String salientText(Task task, Map<String, String> item) {
    if (task.kind() == Task.Kind.GENERATION) {
      return item.getOrDefault(task.labelField(), "");
    }
    if (task == Task.CITATION) {
      return item.getOrDefault("citation", item.getOrDefault("abstract", "")) + " " + item.getOrDefault("title", "");
    }
    return item.getOrDefault(task.inputField(), "");
  }

  static List<String> terms(String text) {
    List<String> out = new ArrayList<>();
    for (String t : Rouge.tokenize(text)) {
      if (t.length() >= 3 && !STOP.contains(t) && !t.chars().allMatch(Character::isDigit)) {
        out.add(t);
      }
    }
    return out;
  }

  private static List<Map.Entry<String, Integer>> top(Map<String, Integer> counts, int k) {
    List<Map.Entry<String, Integer>> all = new ArrayList<>(counts.entrySet());
    all.sort(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
    return all.subList(0, Math.min(k, all.size()));
  }
}
