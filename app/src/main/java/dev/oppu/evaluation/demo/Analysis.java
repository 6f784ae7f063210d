package dev.oppu.evaluation.demo;

import dev.oppu.evaluation.replay.ReplayData;
import dev.oppu.evaluation.replay.ReplayResult;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.metrics.LampMetrics;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Breakdowns of a measured replay: ground-truth ceilings and scores per user activity level. */
public final class Analysis {

  public static final String CEILING_CROWD = "ceiling: crowd majority";
  public static final String CEILING_TRUE = "ceiling: true preference";
  public static final List<String> LEVELS = List.of("few", "medium", "many");

  private Analysis() {}

  /**
   * The ground truth's answers scored like a mode, on the same queries: the crowd's majority answer (the best a
   * model without the user can do) and each user's true preference (the best a personalized model can do).
   */
  public static Map<String, Map<String, Map<String, Double>>> ceilings(List<ReplayData.Dataset> datasets,
      Map<String, String> crowd, Map<String, String> truePref) {
    Map<String, Map<String, Map<String, Double>>> out = new LinkedHashMap<>();
    for (ReplayData.Dataset d : datasets) {
      Map<String, String> golds = golds(d);
      if (golds == null || golds.isEmpty()) {
        continue;
      }
      for (var row : List.of(Map.entry(CEILING_CROWD, crowd), Map.entry(CEILING_TRUE, truePref))) {
        Map<String, String> preds = new LinkedHashMap<>();
        for (String id : golds.keySet()) {
          String a = row.getValue().get(id);
          if (a != null) {
            preds.put(id, a);
          }
        }
        if (preds.size() == golds.size()) {
          out.computeIfAbsent(row.getKey(), k -> new LinkedHashMap<>())
              .put(d.task().id(), LampMetrics.evaluate(d.task(), golds, preds));
        }
      }
    }
    return out;
  }

  /**
   * Scores per activity level: a task's users sorted by history size and cut into three groups of (nearly) equal
   * size; each group's queries scored in each mode that answered all of them.
   */
  public static Map<String, Map<String, Map<String, DemoResults.Group>>> byActivity(
      List<ReplayData.Dataset> datasets, ReplayResult r) {
    Map<String, Map<String, Map<String, DemoResults.Group>>> out = new LinkedHashMap<>();
    for (ReplayData.Dataset d : datasets) {
      List<ReplayData.User> users = new ArrayList<>(d.users());
      users.removeIf(u -> u.queries().isEmpty());
      users.sort(Comparator.comparingInt((ReplayData.User u) -> u.history().size()).thenComparing(ReplayData.User::id));
      int n = users.size();
      for (String mode : r.predictions().keySet()) {
        Map<String, String> preds = r.predictions().get(mode).getOrDefault(d.task().id(), Map.of());
        Map<String, DemoResults.Group> levels = new LinkedHashMap<>();
        for (int level = 0; level < LEVELS.size() && n >= LEVELS.size(); level++) {
          List<ReplayData.User> group = users.subList(level * n / 3, (level + 1) * n / 3);
          levels.put(LEVELS.get(level), group(d.task(), group, preds));
        }
        if (!levels.isEmpty()) {
          out.computeIfAbsent(mode, m -> new LinkedHashMap<>()).put(d.task().id(), levels);
        }
      }
    }
    return out;
  }

  private static DemoResults.Group group(Task task, List<ReplayData.User> users, Map<String, String> preds) {
    Map<String, String> golds = new LinkedHashMap<>();
    Map<String, String> answered = new LinkedHashMap<>();
    boolean complete = true;
    for (ReplayData.User u : users) {
      for (ReplayData.Query q : u.queries()) {
        golds.put(q.id(), q.gold());
        String p = preds.get(q.id());
        complete &= p != null && q.gold() != null;
        if (p != null) {
          answered.put(q.id(), p);
        }
      }
    }
    int min = users.stream().mapToInt(u -> u.history().size()).min().orElse(0);
    int max = users.stream().mapToInt(u -> u.history().size()).max().orElse(0);
    Map<String, Double> metrics = complete && !golds.isEmpty() ? LampMetrics.evaluate(task, golds, answered) : Map.of();
    return new DemoResults.Group(users.size(), min, max, golds.size(), metrics);
  }

  /** query id -> gold, or null when a gold is missing. */
  static Map<String, String> golds(ReplayData.Dataset d) {
    Map<String, String> golds = new LinkedHashMap<>();
    for (ReplayData.User u : d.users()) {
      for (ReplayData.Query q : u.queries()) {
        if (q.gold() == null) {
          return null;
        }
        golds.put(q.id(), q.gold());
      }
    }
    return golds;
  }
}
