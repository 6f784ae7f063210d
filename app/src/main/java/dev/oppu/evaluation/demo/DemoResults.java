package dev.oppu.evaluation.demo;

import dev.oppu.evaluation.replay.ReplayResult;
import java.util.List;
import java.util.Map;

/**
 * Everything a demo run measured, as the report writer takes it. Every figure here comes from that run.
 *
 * @param model what model served and trained (name, size, where it came from)
 * @param setup one line per setting that shaped the run (tasks, users, trigger policy...)
 * @param replay the main replay: metrics per mode and task, counts, adaptation lag
 * @param ceilings row name -> task -> metric -> value: the ground truth's answers scored like a mode
 * @param byActivity mode -> task -> activity level (few, medium, many) -> the group's scores
 * @param shift the adaptation curve after the planted shift (null when the data has no shifted users)
 * @param lagsMillis variant -> every measured adaptation lag, for the plot
 * @param phaseSeconds phase -> wall seconds, in order
 * @param data what data was replayed, for the report's first sentence (null: the synthetic data)
 */
public record DemoResults(
    String model,
    List<String> setup,
    ReplayResult replay,
    Map<String, Map<String, Map<String, Double>>> ceilings,
    Map<String, Map<String, Map<String, Group>>> byActivity,
    ShiftCurve shift,
    Map<String, long[]> lagsMillis,
    Map<String, Double> phaseSeconds,
    String data) {

  /** On the demo's synthetic data. */
  public DemoResults(String model, List<String> setup, ReplayResult replay,
      Map<String, Map<String, Map<String, Double>>> ceilings, Map<String, Map<String, Map<String, Group>>> byActivity,
      ShiftCurve shift, Map<String, long[]> lagsMillis, Map<String, Double> phaseSeconds) {
    this(model, setup, replay, ceilings, byActivity, shift, lagsMillis, phaseSeconds, null);
  }

  /** The users of one activity level: their history sizes, how many queries, and the scores over those queries. */
  public record Group(int users, int minItems, int maxItems, int queries, Map<String, Double> metrics) {}

  /**
   * Accuracy on the shifted users' queries against the number of post-shift events each user has sent.
   *
   * @param task the classification task the curve is measured on
   * @param users shifted users measured
   * @param preShiftLevel the continuously updated adapters' accuracy on the same users before the shift (their
   *     queries answered by the pre-shift preference)
   * @param points one per step
   * @param recoveryTargetEvents SPEC section 5: back within 5 points of the pre-shift level within this many events
   */
  public record ShiftCurve(String task, int users, double preShiftLevel, List<Point> points, int recoveryTargetEvents,
      Map<String, Double> lagP50P99Millis) {

    /** The first step whose continuous accuracy is within 5 points of the pre-shift level, or -1. */
    public int recoveredAtEvents() {
      for (Point p : points) {
        if (p.events() > 0 && p.continuous() != null && p.continuous() >= preShiftLevel - 0.05) {
          return p.events();
        }
      }
      return -1;
    }

    /** SPEC section 5: continuous adapters recover within the target while frozen ones (when measured) do not. */
    public boolean meetsTarget() {
      int at = recoveredAtEvents();
      return at >= 0 && at <= recoveryTargetEvents && !Boolean.FALSE.equals(frozenStaysBelow());
    }

    /** Whether the frozen adapters stay below the 5-point band at the target step (the SPEC's contrast). */
    public Boolean frozenStaysBelow() {
      Point at = null;
      for (Point p : points) {
        if (p.events() <= recoveryTargetEvents) {
          at = p;
        }
      }
      return at == null || at.frozen() == null ? null : at.frozen() < preShiftLevel - 0.05;
    }
  }

  /** Accuracies after {@code events} post-shift events per user; null where that series was not measured. */
  public record Point(int events, Double continuous, Double frozen, Double nonPersonalized, int queries) {}
}
