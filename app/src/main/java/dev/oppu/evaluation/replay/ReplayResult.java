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
  public record Lag(int events, int covered, long p50Millis, long p99Millis, long maxMillis, LagBreakdown breakdown) {
    public Lag(int events, int covered, long p50Millis, long p99Millis, long maxMillis) {
      this(events, covered, p50Millis, p99Millis, maxMillis, null);
    }

    public Lag withBreakdown(LagBreakdown b) {
      return new Lag(events, covered, p50Millis, p99Millis, maxMillis, b);
    }
  }

  /**
   * An adaptation lag split in three (see {@code ReplaySession.lagBreakdown}): until the covering version's trigger,
   * queued for the trainer, training and publishing. {@code share} is the part's sum over the sum of the lags;
   * {@code versions} the distinct covering versions and {@code trainingMillis} their summed training times.
   */
  public record LagBreakdown(int events, Part untilTrigger, Part queued, Part training, int versions,
      long trainingMillis) {
    public record Part(long p50Millis, long p99Millis, double share) {}

    /** One line for the console: each part's p99 and share. */
    public String summary() {
      return String.format(java.util.Locale.ROOT,
          "until the trigger p99 %.1f s (%.0f%%), queued for the trainer p99 %.1f s (%.0f%%), training p99 %.1f s"
              + " (%.0f%%)", untilTrigger.p99Millis() / 1e3, 100 * untilTrigger.share(), queued.p99Millis() / 1e3,
          100 * queued.share(), training.p99Millis() / 1e3, 100 * training.share());
    }

    public static LagBreakdown of(long[] untilTrigger, long[] queued, long[] training, int versions,
        long trainingMillis) {
      double total = 0;
      for (int i = 0; i < untilTrigger.length; i++) {
        total += untilTrigger[i] + queued[i] + training[i];
      }
      return new LagBreakdown(untilTrigger.length, part(untilTrigger, total), part(queued, total),
          part(training, total), versions, trainingMillis);
    }

    private static Part part(long[] millis, double total) {
      if (millis.length == 0) {
        return new Part(0, 0, 0);
      }
      long[] sorted = millis.clone();
      java.util.Arrays.sort(sorted);
      long sum = 0;
      for (long m : millis) {
        sum += m;
      }
      return new Part(percentile(sorted, 50), percentile(sorted, 99), total > 0 ? sum / total : 0);
    }

    /** Nearest-rank percentile of sorted values. */
    static long percentile(long[] sorted, double p) {
      int rank = (int) Math.ceil(p / 100.0 * sorted.length);
      return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }
  }

  /** Wall time of each phase, in seconds. */
  public record Timing(int eventsPublished, double publishSeconds, double adaptSeconds, int requests,
      double answerSeconds) {}
}
