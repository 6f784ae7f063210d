package dev.oppu.evaluation.demo;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.evaluation.replay.LampDatasets;
import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.evaluation.replay.ReplayData;
import dev.oppu.evaluation.replay.ReplayEngine;
import dev.oppu.evaluation.replay.ReplayResult;
import dev.oppu.evaluation.replay.ReplaySession;
import dev.oppu.evaluation.replay.ResultsTable;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.LampFiles;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import dev.oppu.schemas.Topics;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * SPEC section 4's demo end to end: broker (embedded unless a cluster is given), synthetic data (or the user's own,
 * {@code --data}), the services, the replay of every mode, the adaptation curve after a planted shift (synthetic data
 * only), and the report.
 */
public final class DemoRunner {

  /**
   * @param tasks tasks of the main table (LaMP_2M first: the shift curve is measured on the first classification
   *     task)
   * @param users evaluated users per task; {@code trainUsers} non-evaluated users per task (base + task adapter)
   * @param queries queries per evaluated user
   * @param shiftUsers users with a planted shift (0: no shift curve)
   * @param shiftQueries queries per shifted user (each asked at every step, for the user and the frozen twin)
   * @param steps cumulative post-shift events per user at which the shift curve is measured
   * @param data per task, the data the user gave ({@code demo --data}); null: synthetic data. Given data has no
   *     ground truth and no planted shift, so the report has no ceilings and no shift curve; {@code users},
   *     {@code queries} and {@code trainUsers} cap it (users with a query first, in file order)
   */
  public record Options(Path out, ClientConfig cluster, List<Task> tasks, int users, int trainUsers, int queries,
      int shiftUsers, int shiftQueries, List<Integer> steps, int recoveryTarget, long seed, List<String> modes, int partitions,
      boolean constrained, Duration adapterTimeout, Duration answerTimeout, Duration quiet, Progress progress,
      PrintStream log, Map<Task, GivenData> data) {

    /** On synthetic data. */
    public Options(Path out, ClientConfig cluster, List<Task> tasks, int users, int trainUsers, int queries,
        int shiftUsers, int shiftQueries, List<Integer> steps, int recoveryTarget, long seed, List<String> modes,
        int partitions, boolean constrained, Duration adapterTimeout, Duration answerTimeout, Duration quiet,
        Progress progress, PrintStream log) {
      this(out, cluster, tasks, users, trainUsers, queries, shiftUsers, shiftQueries, steps, recoveryTarget, seed,
          modes, partitions, constrained, adapterTimeout, answerTimeout, quiet, progress, log, null);
    }
  }

  /**
   * One task's given data.
   *
   * @param description where it came from (one line, for the setup list)
   * @param evaluated the evaluated users, their queries with golds
   * @param train the non-evaluated users (they adapt the task when its adapter is not cached)
   */
  public record GivenData(String description, List<UserData> evaluated, List<UserData> train) {}

  private final Options o;
  private final DemoSystem.Launcher launcher;
  private final Map<String, Double> phases = new LinkedHashMap<>();
  private long phaseStart;

  public DemoRunner(Options options, DemoSystem.Launcher launcher) {
    this.o = options;
    this.launcher = launcher;
  }

  public DemoResults run() throws Exception {
    long t0 = System.nanoTime();
    phaseStart = t0;
    EmbeddedKafkaBroker broker = null;
    try {
      ClientConfig client = o.cluster();
      if (client == null) {
        o.log().println("demo: starting the embedded Kafka broker");
        broker = EmbeddedKafkaBroker.builder().build().start();
        client = broker.clientConfig();
      }
      Topics topics = Topics.from(client.raw());
      TopicAdmin.ensureTopics(client.raw(), topics, o.partitions());
      phase("broker");

      // Data: a steady set per task for the table, a shifted set of the first classification task for the curve.
      List<ReplayData.Dataset> steady = new ArrayList<>();
      Map<String, String> crowd = new LinkedHashMap<>();
      Map<String, String> truth = new LinkedHashMap<>();
      Map<Task, List<UserData>> trainUsers = new LinkedHashMap<>();
      Path dataDir = o.out().resolve("data");
      DemoData shiftData = null;
      Task shiftTask = o.tasks().stream().filter(t -> t.kind() == Task.Kind.CLASSIFICATION).findFirst().orElse(null);
      List<String> dataSetup = new ArrayList<>();
      for (Task task : o.tasks()) {
        if (o.data() != null) {
          // The user's data: capped to the demo's size; ids prefixed per task as the synthetic ones are, so several
          // tasks share one replay without clashing.
          GivenData g = o.data().get(task);
          String prefix = task.id().substring(task.id().indexOf('_') + 1) + "-";
          List<UserData> eval = new ArrayList<>();
          for (UserData u : g.evaluated()) {
            if (!u.queries().isEmpty() && eval.size() < o.users()) {
              eval.add(new UserData(u.userId(), u.profile(),
                  u.queries().subList(0, Math.min(o.queries(), u.queries().size()))));
            }
          }
          steady.add(LampDatasets.from(task, DemoData.renamed(eval, prefix), Map.of(), id -> true));
          List<UserData> train = g.train();
          trainUsers.put(task, train.size() > o.trainUsers() ? train.subList(0, o.trainUsers()) : train);
          dataSetup.add(String.format(Locale.ROOT, "%s; %d of its %d evaluated users (at most %d queries each),"
              + " %d of its %d non-evaluated users for the task adapter; ids prefixed '%s'", g.description(),
              eval.size(), g.evaluated().size(), o.queries(), trainUsers.get(task).size(), train.size(), prefix));
          continue;
        }
        Synth.Params p = Synth.Params.defaults().withUsers(o.users()).withTrainUsers(o.trainUsers())
            .withQueries(o.queries()).withSeed(o.seed());
        SynthDataset s = Synth.generate(task, p);
        String prefix = task.id().substring(task.id().indexOf('_') + 1) + "-";
        DemoData d = DemoData.fromSynth(s, prefix, null, null);
        writeData(dataDir.resolve(task.taskName()), task, DemoData.renamed(s.users(), prefix));
        steady.add(d.steady());
        crowd.putAll(d.crowdAnswer());
        truth.putAll(d.trueAnswer());
        trainUsers.put(task, s.trainUsers());
        if (task == shiftTask && o.shiftUsers() > 0) {
          SynthDataset sh = Synth.generate(task, p.withUsers(o.shiftUsers()).withTrainUsers(0)
              .withQueries(o.shiftQueries()).withShift(true).withSeed(o.seed() + 1));
          String sp = "shift-" + prefix;
          shiftData = DemoData.fromSynth(null, null, sh, sp);
          writeData(dataDir.resolve(task.taskName() + "_shift"), task, DemoData.renamed(sh.users(), sp));
        }
      }
      phase("data");

      Properties settings = new Properties();
      List<String> variants = Modes.variants(o.modes());
      settings.setProperty("oppu.ingest.variants", String.join(",", variants.isEmpty() ? List.of("plain") : variants));
      // Train from a user's first item on, and after each training catch up with everything that arrived meanwhile:
      // the replay publishes whole histories at once, and every user should end up covered.
      settings.setProperty("oppu.ingest.first-min-items", "1");
      settings.setProperty("oppu.ingest.new-items-max", "1");
      // ...and evaluate a user's triggers once their behaviors pause for 2 s: a history published at once trains
      // once with all of it, not from its first item on (then again with the rest).
      settings.setProperty("oppu.ingest.trigger-delay-ms", "2000");
      settings.setProperty("oppu.ingest.adapter-partitions", Integer.toString(o.partitions()));
      // Label tasks answer with the most likely label of the task's list: a small model's free text rarely spells a
      // label exactly, and LaMP scores anything off the list as wrong. Generated titles are short.
      settings.setProperty("oppu.serving.constrained", Boolean.toString(o.constrained()));
      settings.setProperty("oppu.serving.max.new.tokens", "24");
      try (DemoSystem system = launcher.start(client, topics, settings, trainUsers, o.out().resolve("work"),
          o.progress())) {
        phase("model and services");
        List<String> setup = new ArrayList<>();
        for (ReplayData.Dataset d : steady) {
          setup.add(o.data() != null
              ? String.format(Locale.ROOT, "%s: %d evaluated users, %d history items, %d queries",
                  d.task().id(), d.users().size(), d.itemCount(), d.queryCount())
              : String.format(Locale.ROOT, "%s: %d evaluated users, %d history items, %d queries (seed %d)",
                  d.task().id(), d.users().size(), d.itemCount(), d.queryCount(), o.seed()));
        }
        setup.addAll(dataSetup);
        if (o.data() != null) {
          setup.add("given data: no ground truth (no ceiling rows) and no planted shift (no shift curve)");
        }
        setup.add("modes asked: " + String.join(", ", o.modes()));

        ReplayEngine engine = new ReplayEngine(client, topics, ReplayEngine.Options.defaults().withModes(o.modes())
            .withTimeouts(o.adapterTimeout(), o.answerTimeout()).withQuiet(o.quiet())
            .withProgress(o.progress(), o.log()));
        List<ReplayData.Dataset> publish = new ArrayList<>(steady);
        ShiftExperiment shift = null;
        if (shiftData != null) {
          shift = new ShiftExperiment(shiftData);
          setup.add(String.format(Locale.ROOT, "shift curve: %s, %d users with a planted shift (+ their frozen"
              + " twins), %d post-shift events each, measured at %s events", shift.task().id(),
              shiftData.shifted().users().size(), shift.maxPostShiftEvents(), o.steps()));
        }
        ReplayResult replay;
        DemoResults.ShiftCurve curve = null;
        List<long[]> shiftLags = new ArrayList<>();
        try (ReplaySession session = new ReplaySession(client, topics)) {
          o.log().println("demo: replaying histories, then asking every mode");
          replay = engine.run(session, publish, steady);
          phase("replay (main table)");
          o.log().print(ResultsTable.render(replay.metrics()));
          if (shift != null) {
            // The curve measures OPPU (plain variant) only: train just that variant from here on. Its steps measure
            // adaptation event by event, so triggers are evaluated at each event again, as run streams does by
            // default (with the 2 s delay, 10 events trained once instead of as they came: fewer optimizer steps,
            // and the 20-event point fell from 0.817 to 0.800 against a pre-shift level of 0.900, loaded runs).
            Properties plainOnly = new Properties();
            plainOnly.putAll(settings);
            plainOnly.setProperty("oppu.ingest.variants", "plain");
            plainOnly.setProperty("oppu.ingest.trigger-delay-ms", "0");
            if (system.restartStreams(plainOnly)) {
              setup.add("shift curve phase: the streams application restarted to train only the plain variant"
                  + " (the one OPPU mode serves with), evaluating triggers at each event");
            }
            o.log().println("demo: shifted users' pre-shift histories and their frozen twins");
            shift.prepare(session, o.adapterTimeout(), o.quiet(), o.progress(), o.log());
            o.log().println("demo: post-shift events in steps");
            curve = shift.run(session, o.steps(), o.recoveryTarget(), o.adapterTimeout(), o.quiet(),
                o.answerTimeout(), o.progress(), o.log(), shiftLags);
            phase("shift curve");
          }
          Map<String, long[]> lags = new LinkedHashMap<>();
          for (String v : replay.lags().keySet()) {
            lags.put(v, session.lagsMillis(session.published(), v));
          }
          setup.addAll(system.setup());
          var ceilings = Analysis.ceilings(steady, crowd, truth);
          var byActivity = Analysis.byActivity(steady, replay);
          phases.put("total", (System.nanoTime() - t0) / 1e9);
          return new DemoResults(system.modelDescription(), setup, replay, ceilings, byActivity, curve, lags,
              phases, o.data() == null ? null : "the given data ("
                  + String.join(", ", o.tasks().stream().map(Task::id).toList()) + ", see Setup)");
        }
      }
    } finally {
      if (broker != null) {
        broker.close();
      }
    }
  }

  private void phase(String name) {
    long now = System.nanoTime();
    phases.put(name, (now - phaseStart) / 1e9);
    phaseStart = now;
  }

  private static void writeData(Path dir, Task task, List<UserData> users) {
    LampFiles.writeUsers(dir.resolve(Synth.USERS_FILE), LampFiles.UserFormat.OPPU, users);
    Map<String, String> golds = new LinkedHashMap<>();
    for (UserData u : users) {
      u.queries().forEach(q -> golds.put(q.id(), q.gold()));
    }
    LampFiles.writeGolds(dir.resolve(Synth.LABELS_FILE), new dev.oppu.lamp.data.Golds(task.id(), golds));
  }
}
