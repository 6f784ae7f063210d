package dev.oppu.evaluation.demo;

import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.evaluation.replay.ReplayData;
import dev.oppu.evaluation.replay.ReplayEngine;
import dev.oppu.evaluation.replay.ReplaySession;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.metrics.LampMetrics;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The adaptation curve after a planted shift, measured through the running system. Each shifted user has a twin
 * ({@code <user>~frozen}) that received the same pre-shift history and nothing after it, so the twin's adapter is the
 * user's adapter frozen before the shift, trained and served by the same code. After the pre-shift histories are
 * covered, the post-shift events are published in steps; after each step (once the users' adapters cover it) the
 * users' and the twins' queries are asked in OPPU mode and scored against the users' current (post-shift) answers.
 */
public final class ShiftExperiment {

  public static final String TWIN_SUFFIX = "~frozen";

  private final ReplayData.Dataset shifted;
  private final DemoData data;
  private final List<DemoData.Split> splits = new ArrayList<>();

  public ShiftExperiment(DemoData data) {
    this.data = data;
    this.shifted = data.shifted();
    for (ReplayData.User u : shifted.users()) {
      splits.add(data.split(u));
    }
  }

  public Task task() {
    return shifted.task();
  }

  /** The users' pre-shift parts (published with the main replay). */
  public ReplayData.Dataset preShift() {
    return new ReplayData.Dataset(task(), splits.stream().map(DemoData.Split::pre).toList());
  }

  /** The twins: same pre-shift history, own ids, query ids suffixed so their request ids differ. */
  public ReplayData.Dataset twins() {
    List<ReplayData.User> out = new ArrayList<>();
    for (DemoData.Split s : splits) {
      List<ReplayData.Query> qs = s.pre().queries().stream()
          .map(q -> new ReplayData.Query(q.id() + TWIN_SUFFIX, q.input(), q.gold())).toList();
      out.add(new ReplayData.User(s.pre().id() + TWIN_SUFFIX, s.pre().history(), qs));
    }
    return new ReplayData.Dataset(task(), out);
  }

  /**
   * Publishes the users' pre-shift histories and the twins', and waits until their plain adapters cover them. Run it
   * after the main table, with only the plain variant trained: the curve measures OPPU alone, so the shifted users
   * and twins need no rag or pag adapters.
   */
  public ReplaySession.Coverage prepare(ReplaySession session, Duration adapterTimeout, Duration quiet,
      Progress progress, PrintStream log) {
    List<ReplayData.Dataset> both = List.of(preShift(), twins());
    List<Behavior> events = ReplayEngine.events(both, System.currentTimeMillis());
    session.publish(events, progress);
    ReplaySession.Coverage c = session.awaitCoverage(ReplayEngine.targets(both, List.of("plain"), events),
        adapterTimeout, quiet, progress);
    log.printf("shift: %d of %d pre-shift adapters (users and frozen twins) cover their history%n", c.covered(),
        c.total());
    return c;
  }

  public int maxPostShiftEvents() {
    return splits.stream().mapToInt(s -> s.post().size()).min().orElse(0);
  }

  /**
   * Runs the steps; {@code steps} are cumulative post-shift event counts per user (0 first). Call after the
   * pre-shift histories of users and twins are covered.
   */
  public DemoResults.ShiftCurve run(ReplaySession session, List<Integer> steps, int recoveryTarget,
      Duration adapterTimeout, Duration quiet, Duration answerTimeout, Progress progress, PrintStream log,
      List<long[]> lagsOut) {
    Map<String, String> truth = new LinkedHashMap<>();
    Map<String, String> pre = new LinkedHashMap<>();
    for (DemoData.Split s : splits) {
      for (ReplayData.Query q : s.pre().queries()) {
        truth.put(q.id(), data.trueAnswer().get(q.id()));
        pre.put(q.id(), data.preShiftAnswer().get(q.id()));
      }
    }
    List<DemoResults.Point> points = new ArrayList<>();
    Double preLevel = null;
    Double nonPersonalized = null;
    int sent = 0;
    List<ReplaySession.Published> postEvents = new ArrayList<>();
    for (int step : steps) {
      int upTo = Math.min(step, maxPostShiftEvents());
      if (upTo > sent) {
        List<Behavior> events = new ArrayList<>();
        List<ReplaySession.Target> targets = new ArrayList<>();
        for (DemoData.Split s : splits) {
          Behavior last = null;
          for (ReplayData.Item item : s.post().subList(sent, upTo)) {
            long t = item.dateMillis() != null ? item.dateMillis() : System.currentTimeMillis();
            last = ReplayEngine.behavior(task(), s.pre().id(), item, t);
            events.add(last);
          }
          targets.add(new ReplaySession.Target(s.pre().id(), task().id(), "plain", last.getEventId()));
        }
        postEvents.addAll(session.publish(events, progress));
        ReplaySession.Coverage c = session.awaitCoverage(targets, adapterTimeout, quiet, progress);
        if (c.covered() < c.total()) {
          log.printf("shift step %d: %d of %d adapters cover the step (%s)%n", upTo, c.covered(), c.total(),
              c.uncovered().values().stream().findFirst().orElse(""));
        }
        sent = upTo;
      }
      boolean first = points.isEmpty();
      final String at = "@" + sent;
      List<Request> reqs = new ArrayList<>();
      for (DemoData.Split s : splits) {
        for (ReplayData.Query q : s.pre().queries()) {
          reqs.add(request(q.id() + at, s.pre().id(), q.input(), Modes.OPPU));
          reqs.add(request(q.id() + TWIN_SUFFIX + at, s.pre().id() + TWIN_SUFFIX, q.input(), Modes.OPPU));
          if (first) {
            reqs.add(request(q.id() + at, s.pre().id(), q.input(), Modes.NON_PERSONALIZED));
          }
        }
      }
      ReplaySession.Answers a = session.ask(reqs, answerTimeout, progress);
      Double cont = accuracy(a.responses(), truth, id -> Modes.requestId(id + at, Modes.OPPU));
      Double frozen = accuracy(a.responses(), truth, id -> Modes.requestId(id + TWIN_SUFFIX + at, Modes.OPPU));
      if (first) {
        preLevel = accuracy(a.responses(), pre, id -> Modes.requestId(id + at, Modes.OPPU));
        nonPersonalized = accuracy(a.responses(), truth, id -> Modes.requestId(id + at, Modes.NON_PERSONALIZED));
      }
      points.add(new DemoResults.Point(sent, cont, frozen, nonPersonalized, truth.size()));
      log.printf("shift step %d events: continuous %s, frozen %s, non-personalized %s%n", sent, cont, frozen,
          nonPersonalized);
    }
    long[] lags = session.lagsMillis(postEvents, "plain");
    lagsOut.add(lags);
    var lag = ReplayEngine.lag(lags, postEvents.size());
    Map<String, Double> lagSummary = new LinkedHashMap<>();
    lagSummary.put("p50", (double) lag.p50Millis());
    lagSummary.put("p99", (double) lag.p99Millis());
    return new DemoResults.ShiftCurve(task().id(), splits.size(), preLevel == null ? Double.NaN : preLevel, points,
        recoveryTarget, lagSummary);
  }

  private Request request(String id, String user, String input, String mode) {
    return Request.newBuilder().setRequestId(Modes.requestId(id, mode)).setUserId(user).setTask(task().id())
        .setInput(input).setMode(mode).setRequestTime(Instant.now()).build();
  }

  /** Accuracy over all queries, or null when some query got no output (then the step was not fully measured). */
  private Double accuracy(Map<String, Response> responses, Map<String, String> golds,
      java.util.function.Function<String, String> requestId) {
    Map<String, String> preds = new LinkedHashMap<>();
    for (String id : golds.keySet()) {
      Response r = responses.get(requestId.apply(id));
      if (r == null || r.getOutput() == null) {
        return null;
      }
      preds.put(id, r.getOutput());
    }
    if (golds.values().stream().anyMatch(g -> g == null)) {
      return null;
    }
    return LampMetrics.evaluate(task(), golds, preds).get("accuracy");
  }
}
