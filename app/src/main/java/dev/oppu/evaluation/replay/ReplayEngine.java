package dev.oppu.evaluation.replay;

import dev.oppu.broker.ClientConfig;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.metrics.LampMetrics;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * Replays LaMP data through a running OPPU system: each user's history as behavior events in time order, then (once
 * the evaluated users' adapters cover their history, or the wait times out) every query once per mode as a request;
 * collects the responses and scores them with LaMP's metrics. It only talks to Kafka, with the client settings it is
 * given, so the services may run in this JVM or anywhere else.
 */
public final class ReplayEngine {

  /**
   * @param modes report names (see {@link Modes})
   * @param adapterTimeout how long to wait for adapters to cover the published history (zero: do not wait)
   * @param answerTimeout how long to wait for all responses after the last request was sent
   * @param k retrieved items for the RAG modes (null: the server's configuration)
   * @param quiet how long the system must stay idle (no training pending or finishing) before the wait for
   *     adapters ends with some history uncovered: the system's trigger policy decides what it trains
   */
  public record Options(List<String> modes, Duration adapterTimeout, Duration answerTimeout, Integer k,
      Duration quiet, Progress progress, PrintStream log) {
    public Options {
      modes = Modes.parse(modes);
    }

    public static Options defaults() {
      return new Options(Modes.ALL, Duration.ofMinutes(10), Duration.ofMinutes(5), null, Duration.ofSeconds(30),
          Progress.none(), nullStream());
    }

    public Options withModes(List<String> m) {
      return new Options(m, adapterTimeout, answerTimeout, k, quiet, progress, log);
    }

    public Options withProgress(Progress p, PrintStream out) {
      return new Options(modes, adapterTimeout, answerTimeout, k, quiet, p, out);
    }

    public Options withTimeouts(Duration adapters, Duration answers) {
      return new Options(modes, adapters, answers, k, quiet, progress, log);
    }

    public Options withQuiet(Duration q) {
      return new Options(modes, adapterTimeout, answerTimeout, k, q, progress, log);
    }

    public Options withK(Integer newK) {
      return new Options(modes, adapterTimeout, answerTimeout, newK, quiet, progress, log);
    }
  }

  private final ClientConfig client;
  private final Topics topics;
  private final Options options;

  public ReplayEngine(ClientConfig client, Topics topics, Options options) {
    this.client = client;
    this.topics = topics;
    this.options = options;
  }

  /** The whole replay: publish, wait for adapters, ask, score. */
  public ReplayResult run(List<ReplayData.Dataset> datasets) {
    try (ReplaySession session = new ReplaySession(client, topics)) {
      return run(session, datasets, datasets);
    }
  }

  /**
   * Publishes the histories of {@code publish}, waits until the adapters of its users that have queries cover
   * them, then asks {@code ask}'s queries in every mode and scores them.
   */
  public ReplayResult run(ReplaySession session, List<ReplayData.Dataset> publish, List<ReplayData.Dataset> ask) {
    checkUniqueRequestIds(ask, options.modes());
    long t0 = System.nanoTime();
    List<Behavior> events = events(publish, System.currentTimeMillis());
    List<ReplaySession.Published> published = session.publish(events, options.progress());
    long t1 = System.nanoTime();
    options.log().printf("published %d behavior events of %d users%n", published.size(),
        publish.stream().mapToInt(d -> d.users().size()).sum());

    List<String> variants = Modes.variants(options.modes());
    ReplaySession.Coverage coverage = null;
    if (!variants.isEmpty() && !options.adapterTimeout().isZero()) {
      List<ReplaySession.Target> targets = targets(publish, variants, events);
      coverage = session.awaitCoverage(targets, options.adapterTimeout(), options.quiet(), options.progress());
      logCoverage(coverage);
    }
    long t2 = System.nanoTime();

    List<Request> requests = new ArrayList<>();
    for (ReplayData.Dataset d : ask) {
      requests.addAll(requests(d, options.modes(), options.k()));
    }
    ReplaySession.Answers answers = session.ask(requests, options.answerTimeout(), options.progress());
    long t3 = System.nanoTime();

    Map<String, ReplayResult.Lag> lags = new LinkedHashMap<>();
    for (String v : variants) {
      lags.put(v, lag(session.lagsMillis(published, v), published.size())
          .withBreakdown(session.lagBreakdown(published, v)));
    }
    ReplayResult.Timing timing = new ReplayResult.Timing(published.size(), (t1 - t0) / 1e9, (t2 - t1) / 1e9,
        requests.size(), (t3 - t2) / 1e9);
    ReplayResult result = score(ask, options.modes(), answers.responses(), coverage, lags, timing);
    logAnswers(result);
    return result;
  }

  /**
   * All datasets' histories as behavior events, in time order: users whose items all carry dates are ordered by date;
   * the others keep file order, their items spaced one second apart from {@code baseMillis}. One user's events always
   * keep their order (they share a partition).
   */
  public static List<Behavior> events(List<ReplayData.Dataset> datasets, long baseMillis) {
    record Keyed(long sortKey, int order, Behavior b) {}
    List<Keyed> all = new ArrayList<>();
    int order = 0;
    for (ReplayData.Dataset d : datasets) {
      for (ReplayData.User u : d.users()) {
        List<ReplayData.Item> items = u.inTimeOrder();
        boolean dated = items.stream().allMatch(i -> i.dateMillis() != null);
        for (int i = 0; i < items.size(); i++) {
          ReplayData.Item item = items.get(i);
          long synthetic = baseMillis + i * 1000L;
          long sortKey = dated ? item.dateMillis() : synthetic;
          long eventTime = item.dateMillis() != null ? item.dateMillis() : synthetic;
          all.add(new Keyed(sortKey, order++, behavior(d.task(), u.id(), item, eventTime)));
        }
      }
    }
    all.sort(Comparator.comparingLong(Keyed::sortKey).thenComparingInt(Keyed::order));
    List<Behavior> out = new ArrayList<>(all.size());
    for (Keyed k : all) {
      out.add(k.b());
    }
    return out;
  }

  /** One history item as a behavior; the event id is stable, so re-publishing the same item is a duplicate. */
  public static Behavior behavior(Task task, String userId, ReplayData.Item item, long eventTimeMillis) {
    return Behavior.newBuilder()
        .setEventId(eventId(task, userId, item.id()))
        .setUserId(userId)
        .setTask(task.id())
        .setEventTime(Instant.ofEpochMilli(eventTimeMillis))
        .setItemId(item.id())
        .setFields(new LinkedHashMap<>(item.fields()))
        .build();
  }

  public static String eventId(Task task, String userId, String itemId) {
    return task.id() + "/" + userId + "/" + itemId;
  }

  /** One request per query per mode, request id = query id + "/" + mode. */
  public static List<Request> requests(ReplayData.Dataset d, List<String> modes, Integer k) {
    List<Request> out = new ArrayList<>();
    Instant now = Instant.now();
    for (ReplayData.User u : d.users()) {
      for (ReplayData.Query q : u.queries()) {
        for (String mode : modes) {
          out.add(Request.newBuilder()
              .setRequestId(Modes.requestId(q.id(), mode))
              .setUserId(u.id())
              .setTask(d.task().id())
              .setInput(q.input())
              .setMode(mode)
              .setK(k)
              .setRequestTime(now)
              .build());
        }
      }
    }
    return out;
  }

  /** Per user with history, per variant: the adapter must cover the user's last published event. */
  public static List<ReplaySession.Target> targets(List<ReplayData.Dataset> datasets, List<String> variants,
      List<Behavior> events) {
    Map<String, String> lastEvent = new LinkedHashMap<>();
    for (Behavior b : events) {
      lastEvent.put(b.getTask() + "\u0000" + b.getUserId(), b.getEventId());
    }
    List<ReplaySession.Target> out = new ArrayList<>();
    for (ReplayData.Dataset d : datasets) {
      for (ReplayData.User u : d.users()) {
        String last = lastEvent.get(d.task().id() + "\u0000" + u.id());
        if (last == null || u.queries().isEmpty()) {
          continue; // no history: the request is answered cold, by design
        }
        for (String v : variants) {
          out.add(new ReplaySession.Target(u.id(), d.task().id(), v, last));
        }
      }
    }
    return out;
  }

  /** Scores the responses per (mode, task); only complete (mode, task) pairs with golds get metrics. */
  public static ReplayResult score(List<ReplayData.Dataset> datasets, List<String> modes,
      Map<String, Response> responses, ReplaySession.Coverage coverage, Map<String, ReplayResult.Lag> lags,
      ReplayResult.Timing timing) {
    Map<String, Map<String, Map<String, Double>>> metrics = new LinkedHashMap<>();
    Map<String, Map<String, ReplayResult.Stats>> stats = new LinkedHashMap<>();
    Map<String, Map<String, Map<String, String>>> predictions = new LinkedHashMap<>();
    Map<String, Map<String, String>> users = new LinkedHashMap<>();
    for (ReplayData.Dataset d : datasets) {
      Map<String, String> byQuery = new LinkedHashMap<>();
      for (ReplayData.User u : d.users()) {
        for (ReplayData.Query q : u.queries()) {
          byQuery.put(q.id(), u.id());
        }
      }
      users.put(d.task().id(), byQuery);
    }
    for (String mode : modes) {
      for (ReplayData.Dataset d : datasets) {
        Map<String, String> golds = new LinkedHashMap<>();
        Map<String, String> preds = new LinkedHashMap<>();
        int queries = 0;
        int errors = 0;
        int cold = 0;
        List<String> missing = new ArrayList<>();
        Map<String, Integer> reasons = new TreeMap<>();
        boolean allGolds = true;
        for (ReplayData.User u : d.users()) {
          for (ReplayData.Query q : u.queries()) {
            queries++;
            golds.put(q.id(), q.gold());
            allGolds &= q.gold() != null;
            Response r = responses.get(Modes.requestId(q.id(), mode));
            if (r == null) {
              missing.add(q.id());
            } else if (r.getOutput() == null) {
              errors++;
              reasons.merge(r.getError() == null ? "no output" : r.getError(), 1, Integer::sum);
            } else {
              preds.put(q.id(), r.getOutput());
              if (r.getCold()) {
                cold++;
              }
            }
          }
        }
        predictions.computeIfAbsent(mode, m -> new LinkedHashMap<>()).put(d.task().id(), preds);
        ReplayResult.Stats s = new ReplayResult.Stats(queries, preds.size(), errors, cold, missing.size(),
            missing.subList(0, Math.min(10, missing.size())), reasons);
        stats.computeIfAbsent(mode, m -> new LinkedHashMap<>()).put(d.task().id(), s);
        if (s.complete() && allGolds && queries > 0) {
          metrics.computeIfAbsent(mode, m -> new LinkedHashMap<>())
              .put(d.task().id(), LampMetrics.evaluate(d.task(), golds, preds));
        }
      }
    }
    return new ReplayResult(metrics, stats, predictions, users, coverage, lags, timing);
  }

  /** p50/p99/max of measured lags (HdrHistogram, 3 significant digits). */
  public static ReplayResult.Lag lag(long[] lagsMillis, int events) {
    if (lagsMillis.length == 0) {
      return new ReplayResult.Lag(events, 0, 0, 0, 0);
    }
    Histogram h = new Histogram(3);
    for (long l : lagsMillis) {
      h.recordValue(Math.max(0, l));
    }
    return new ReplayResult.Lag(events, lagsMillis.length, h.getValueAtPercentile(50), h.getValueAtPercentile(99),
        h.getMaxValue());
  }

  static void checkUniqueRequestIds(List<ReplayData.Dataset> datasets, List<String> modes) {
    Set<String> seen = new HashSet<>();
    for (ReplayData.Dataset d : datasets) {
      for (ReplayData.User u : d.users()) {
        for (ReplayData.Query q : u.queries()) {
          if (!seen.add(q.id())) {
            throw new IllegalArgumentException("query id '" + q.id() + "' occurs twice (request ids are query id"
                + " + \"/\" + mode, so query ids must be unique across the replayed tasks)");
          }
        }
      }
    }
  }

  private void logCoverage(ReplaySession.Coverage c) {
    if (c.covered() == c.total()) {
      options.log().printf("adapters: all %d (user, task, variant) adapters cover the replayed history%n", c.total());
      return;
    }
    options.log().printf("adapters: %d of %d cover the replayed history, %d more were trained on it with the newest"
        + " items held out or refused%s; those are answered with what they have:%n", c.covered(), c.total(),
        c.processed() - c.covered(),
        c.timedOut() ? " when the wait timed out" : " (the system settled: its trigger policy trains no more)");
    c.uncovered().entrySet().stream().limit(10)
        .forEach(e -> options.log().printf("  %s: %s%n", e.getKey(), e.getValue()));
    if (c.uncovered().size() > 10) {
      options.log().printf("  ... and %d more%n", c.uncovered().size() - 10);
    }
  }

  private void logAnswers(ReplayResult r) {
    for (var byMode : r.stats().entrySet()) {
      for (var e : byMode.getValue().entrySet()) {
        ReplayResult.Stats s = e.getValue();
        if (!s.complete()) {
          options.log().printf("%s %s: %d of %d answered (%d errors %s, %d missing, e.g. %s): not scored%n",
              byMode.getKey(), e.getKey(), s.answered(), s.queries(), s.errors(), s.errorReasons(), s.missing(),
              s.firstMissing());
        }
        if (s.cold() > 0) {
          options.log().printf("%s %s: %d of %d answered cold%n", byMode.getKey(), e.getKey(), s.cold(), s.answered());
        }
      }
    }
  }

  private static PrintStream nullStream() {
    return new PrintStream(java.io.OutputStream.nullOutputStream());
  }
}
