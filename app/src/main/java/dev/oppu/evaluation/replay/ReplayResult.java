package dev.oppu.evaluation.replay;

import java.util.List;
import java.util.Map;

/**
 * Everything one replay measured. {@code metrics} holds only the (mode, task) pairs whose every query was answered
 * and that have golds: a mode that was not fully measured is not scored (its counts in {@code stats} say why).
 *
 * @param metrics mode -> task -> metric -> value (LaMP's metrics)
 * @param stats mode -> task -> counts of what happened to the requests
 * @param predictions mode -> task -> query id -> output, answered requests only
 * @param users task -> query id -> user id, for per-user breakdowns
 * @param coverage the wait for adapters (null when it was skipped)
 * @param lags variant -> adaptation lag summary of the replayed events
 */
public record ReplayResult(
    Map<String, Map<String, Map<String, Double>>> metrics,
    Map<String, Map<String, Stats>> stats,
    Map<String, Map<String, Map<String, String>>> predictions,
    Map<String, Map<String, String>> users,
    ReplaySession.Coverage coverage,
    Map<String, Lag> lags,
    Timing timing) {

  /** What happened to one (mode, task)'s requests. */
  public record Stats(int queries, int answered, int errors, int cold, int missing, List<String> firstMissing,
      Map<String, Integer> errorReasons) {
    public boolean complete() {
      return answered == queries;
    }
  }

  /** Adaptation lag: a behavior's broker timestamp to the publication of the first adapter version covering it. */
  public record Lag(int events, int covered, long p50Millis, long p99Millis, long maxMillis) {}

  /** Wall time of each phase, in seconds. */
  public record Timing(int eventsPublished, double publishSeconds, double adaptSeconds, int requests,
      double answerSeconds) {}
}
