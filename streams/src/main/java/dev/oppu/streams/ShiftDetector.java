package dev.oppu.streams;

import dev.oppu.lamp.Task;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.lucene.analysis.Analyzer;

/**
 * Behavior-shift scores. A classification (or rating) user is described by the distribution of their labels, a
 * generation user by the distribution of the terms of what they wrote (the label field: headline, title, tweet).
 * The trainer fills {@code AdapterVersion.labelDistribution} with {@link #distribution} over the items it trained
 * on, so both sides describe a user the same way.
 */
public final class ShiftDetector {
  private ShiftDetector() {}

  /**
   * A scored shift: the total-variation distance of the recent new items from what the adapter was trained on, whether
   * it counts as a shift, and whether it also ends the old behavior (older items are no longer replayed).
   */
  public record Shift(double score, boolean generation, boolean shifted, boolean endsOldBehavior) {}

  /** A user's items of one task by seq: {@code [from, to)}. */
  public interface Items {
    List<Map<String, String>> between(long from, long to);
  }

  /**
   * The triggers' shift rule (also what {@code bench shift} runs): once at least {@code shiftMinItems} items arrived
   * since the adapter ({@code [newFrom, nextSeq)}) and its distribution is known, the newest {@code shiftWindow} of
   * them are compared with {@code trainedOn}; past the task kind's threshold it is a shift, and it ends the old
   * behavior as {@link IngestConfig#endsOldBehavior} says for an old behavior known from {@code knownItems} items.
   * Empty when not scored.
   */
  public static Optional<Shift> score(IngestConfig config, Task task, Analyzer analyzer, long newFrom, long nextSeq,
      Map<String, Double> trainedOn, long knownItems, Items items) {
    if (nextSeq - newFrom < config.shiftMinItems() || trainedOn.isEmpty()) {
      return Optional.empty();
    }
    long from = Math.max(newFrom, nextSeq - config.shiftWindow());
    double tvd = totalVariation(distribution(task, items.between(from, nextSeq), analyzer), trainedOn);
    boolean generation = task.kind() == Task.Kind.GENERATION;
    boolean shifted = tvd >= (generation ? config.termShiftThreshold() : config.labelShiftThreshold());
    return Optional.of(new Shift(tvd, generation, shifted,
        shifted && config.endsOldBehavior(tvd, generation, knownItems)));
  }

  /** The normalized label (or term) distribution of some history items of a task. */
  public static Map<String, Double> distribution(Task task, Iterable<Map<String, String>> items, Analyzer analyzer) {
    Map<String, Double> counts = new LinkedHashMap<>();
    double total = 0;
    for (Map<String, String> item : items) {
      String label = item.get(task.labelField());
      if (label == null) {
        continue;
      }
      if (task.kind() == Task.Kind.GENERATION) {
        for (String term : TextAnalysis.terms(analyzer, label)) {
          counts.merge(term, 1.0, Double::sum);
          total++;
        }
      } else {
        counts.merge(normalizeLabel(task, label), 1.0, Double::sum);
        total++;
      }
    }
    if (total > 0) {
      double t = total;
      counts.replaceAll((k, v) -> v / t);
    }
    return counts;
  }

  /** Labels as compared: trimmed; ratings as numbers ("4.0" and "4" are the same label). */
  public static String normalizeLabel(Task task, String label) {
    String s = label.trim();
    if (task == Task.PRODUCT_RATING) {
      try {
        double v = Double.parseDouble(s);
        if (v == Math.rint(v)) {
          return Long.toString((long) v);
        }
      } catch (NumberFormatException e) {
        return s;
      }
    }
    return s;
  }

  /** Total-variation distance, 0 (same) to 1 (disjoint); inputs need not be normalized. */
  public static double totalVariation(Map<String, Double> p, Map<String, Double> q) {
    double sp = p.values().stream().mapToDouble(Double::doubleValue).sum();
    double sq = q.values().stream().mapToDouble(Double::doubleValue).sum();
    if (sp <= 0 || sq <= 0) {
      return sp == sq ? 0 : 1;
    }
    Set<String> keys = new HashSet<>(p.keySet());
    keys.addAll(q.keySet());
    double d = 0;
    for (String k : keys) {
      d += Math.abs(p.getOrDefault(k, 0.0) / sp - q.getOrDefault(k, 0.0) / sq);
    }
    return d / 2;
  }
}
