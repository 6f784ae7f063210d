package dev.oppu.lamp.metrics;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * LaMP's evaluation ({@code eval/evaluation.py} of LaMP and of OPPU), re-implemented:
 * <ul>
 *   <li>outputs and golds are whitespace-stripped (Python's {@code str.strip()}) and matched by id; the two id sets
 *       must be equal;</li>
 *   <li>LaMP_1/2N/2M: {@code accuracy} and macro {@code f1} over the task's fixed label list. An answer off the list
 *       maps to -1 (always wrong); F1 is sklearn's {@code f1_score(average='macro', labels=<all labels>)}, so a label
 *       that occurs neither in the golds nor in the answers counts with F1 = 0;</li>
 *   <li>LaMP_3: {@code mae} and {@code rmse}; an answer that Python's {@code float()} cannot parse scores as 1 or 5,
 *       whichever is farther from the gold (5 on a tie, as LaMP's {@code abs(1-y) > abs(5-y)} test gives);</li>
 *   <li>LaMP_4/5/7: {@code rouge1} and {@code rougeL} F-measure, averaged over examples.</li>
 * </ul>
 * Deliberate differences, each on input LaMP's data never contains: a gold off the label list (LaMP would map it to
 * -1 and count a -1 answer right) or a non-numeric LaMP_3 gold (LaMP crashes) is an error; a duplicate id is an
 * error (LaMP keeps the last); an answer "nan" or "inf" (which Python parses, making the mean undefined) is scored as
 * unparseable. {@code evaluate}'s rouge reports the median of 1,000 bootstrap means, a random number close to the
 * plain mean; we report the plain mean, as the SPEC asks.
 */
public final class LampMetrics {

  private LampMetrics() {}

  /**
   * Scores predictions against golds, both id -> output. Returns the task's two figures in a fixed order:
   * {@code accuracy, f1} or {@code mae, rmse} or {@code rouge1, rougeL}.
   */
  public static Map<String, Double> evaluate(Task task, Map<String, String> golds, Map<String, String> preds) {
    checkIds(golds.keySet(), preds.keySet());
    List<String> g = new ArrayList<>(golds.size());
    List<String> p = new ArrayList<>(golds.size());
    for (Map.Entry<String, String> e : golds.entrySet()) {
      g.add(e.getValue());
      p.add(preds.get(e.getKey()));
    }
    return switch (task.kind()) {
      case CLASSIFICATION -> classification(task.labels(), g, p);
      case REGRESSION -> regression(g, p);
      case GENERATION -> generation(g, p);
    };
  }

  /** The names {@link #evaluate} returns for a task, in order. */
  public static List<String> metricNames(Task task) {
    return switch (task.kind()) {
      case CLASSIFICATION -> List.of("accuracy", "f1");
      case REGRESSION -> List.of("mae", "rmse");
      case GENERATION -> List.of("rouge1", "rougeL");
    };
  }

  /** The id sets must be equal; the error names the missing and the extra ids (the first few of each). */
  public static void checkIds(java.util.Set<String> goldIds, java.util.Set<String> predIds) {
    if (goldIds.equals(predIds)) {
      return;
    }
    TreeSet<String> missing = new TreeSet<>(goldIds);
    missing.removeAll(predIds);
    TreeSet<String> extra = new TreeSet<>(predIds);
    extra.removeAll(goldIds);
    StringBuilder sb = new StringBuilder("prediction ids do not match gold ids:");
    if (!missing.isEmpty()) {
      sb.append(' ').append(missing.size()).append(" missing from the predictions ").append(firstFew(missing));
    }
    if (!extra.isEmpty()) {
      sb.append(missing.isEmpty() ? " " : "; ").append(extra.size()).append(" not among the golds ")
          .append(firstFew(extra));
    }
    throw new LampInputException(sb.toString());
  }

  private static String firstFew(TreeSet<String> ids) {
    List<String> few = new ArrayList<>();
    for (String id : ids) {
      if (few.size() == 5) {
        few.add("...");
        break;
      }
      few.add(id);
    }
    return few.toString();
  }

  /** Accuracy and macro-F1 over {@code labels}; answers off the list are wrong. Lists are aligned. */
  public static Map<String, Double> classification(List<String> labels, List<String> golds, List<String> preds) {
    requireAligned(golds, preds);
    int k = labels.size();
    int[] tp = new int[k];
    int[] fp = new int[k];
    int[] fn = new int[k];
    int correct = 0;
    for (int i = 0; i < golds.size(); i++) {
      String goldText = pyStrip(golds.get(i));
      int gold = labels.indexOf(goldText);
      if (gold < 0) {
        throw new LampInputException("gold '" + goldText + "' is not one of the task's labels " + labels);
      }
      int pred = labels.indexOf(pyStrip(preds.get(i)));
      if (pred == gold) {
        correct++;
        tp[gold]++;
      } else {
        fn[gold]++;
        if (pred >= 0) {
          fp[pred]++;
        }
      }
    }
    double f1Sum = 0;
    for (int c = 0; c < k; c++) {
      int denom = 2 * tp[c] + fp[c] + fn[c];
      f1Sum += denom == 0 ? 0.0 : 2.0 * tp[c] / denom; // sklearn: ill-defined F1 (no gold, no answer) is 0
    }
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("accuracy", golds.isEmpty() ? 0.0 : correct / (double) golds.size());
    out.put("f1", k == 0 ? 0.0 : f1Sum / k);
    return out;
  }

  /** MAE and RMSE of LaMP_3 answers; see {@link #ratingValue}. Lists are aligned. */
  public static Map<String, Double> regression(List<String> golds, List<String> preds) {
    requireAligned(golds, preds);
    double abs = 0;
    double sq = 0;
    for (int i = 0; i < golds.size(); i++) {
      String goldText = pyStrip(golds.get(i));
      Double gold = parsePythonFloat(goldText);
      if (gold == null || !Double.isFinite(gold)) {
        throw new LampInputException("gold '" + goldText + "' is not a number");
      }
      double d = ratingValue(preds.get(i), gold) - gold;
      abs += Math.abs(d);
      sq += d * d;
    }
    int n = Math.max(golds.size(), 1);
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("mae", abs / n);
    out.put("rmse", Math.sqrt(sq / n));
    return out;
  }

  /**
   * The number an answer stands for: its value if it parses as a (finite) Python float, otherwise 1 or 5, whichever
   * is farther from the gold (5 when both are as far, e.g. gold 3).
   */
  public static double ratingValue(String answer, double gold) {
    Double v = parsePythonFloat(pyStrip(answer));
    if (v != null && Double.isFinite(v)) {
      return v;
    }
    return Math.abs(1 - gold) > Math.abs(5 - gold) ? 1.0 : 5.0;
  }

  /** Mean ROUGE-1 and ROUGE-L F-measure. Lists are aligned. */
  public static Map<String, Double> generation(List<String> golds, List<String> preds) {
    requireAligned(golds, preds);
    double r1 = 0;
    double rl = 0;
    for (int i = 0; i < golds.size(); i++) {
      List<String> target = Rouge.tokenize(pyStrip(golds.get(i)));
      List<String> prediction = Rouge.tokenize(pyStrip(preds.get(i)));
      r1 += Rouge.rouge1(target, prediction).fmeasure();
      rl += Rouge.rougeL(target, prediction).fmeasure();
    }
    int n = Math.max(golds.size(), 1);
    Map<String, Double> out = new LinkedHashMap<>();
    out.put("rouge1", r1 / n);
    out.put("rougeL", rl / n);
    return out;
  }

  private static void requireAligned(List<String> golds, List<String> preds) {
    if (golds.size() != preds.size()) {
      throw new IllegalArgumentException(golds.size() + " golds but " + preds.size() + " predictions");
    }
  }

  // Python's float() syntax on ASCII digits: digit groups may contain single underscores; no hex, no 'd'/'f' suffix.
  private static final String DIGITS = "[0-9](?:_?[0-9])*";
  private static final Pattern PY_FLOAT = Pattern.compile(
      "[+-]?(?:(?:" + DIGITS + ")(?:\\.(?:" + DIGITS + ")?)?|\\.(?:" + DIGITS + "))(?:[eE][+-]?" + DIGITS + ")?");
  private static final Pattern PY_SPECIAL = Pattern.compile("[+-]?(?:inf|infinity|nan)", Pattern.CASE_INSENSITIVE);

  /** What Python's {@code float(s)} returns for an already stripped string, or null where it raises. */
  static Double parsePythonFloat(String s) {
    if (PY_FLOAT.matcher(s).matches()) {
      return Double.parseDouble(s.replace("_", ""));
    }
    if (PY_SPECIAL.matcher(s).matches()) {
      String lower = s.toLowerCase(java.util.Locale.ROOT);
      if (lower.endsWith("nan")) {
        return Double.NaN;
      }
      return lower.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
    }
    return null;
  }

  /** Python's {@code str.strip()}: removes the characters Python counts as whitespace from both ends. */
  public static String pyStrip(String s) {
    if (s == null) {
      return "";
    }
    int from = 0;
    int to = s.length();
    while (from < to && isPythonSpace(s.charAt(from))) {
      from++;
    }
    while (to > from && isPythonSpace(s.charAt(to - 1))) {
      to--;
    }
    return s.substring(from, to);
  }

  static boolean isPythonSpace(char c) {
    return (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680
        || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
  }
}
