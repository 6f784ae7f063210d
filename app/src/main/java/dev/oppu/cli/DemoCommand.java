package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.evaluation.demo.DemoReport;
import dev.oppu.evaluation.demo.DemoResults;
import dev.oppu.evaluation.demo.DemoRunner;
import dev.oppu.evaluation.demo.DemoSystem;
import dev.oppu.evaluation.demo.InProcessSystem;
import dev.oppu.evaluation.demo.ModelPrep;
import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.evaluation.replay.ResultsTable;
import dev.oppu.lamp.Task;
import dev.oppu.trainer.TrainerDefaults;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code oppu demo}: SPEC section 4 end to end on embedded defaults. */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Runs OPPU end to end: an embedded Kafka broker (unless --bootstrap), synthetic LaMP data with planted"
            + " preferences and shifts, the default base model and task adapters (made once and cached), the streams"
            + " application and the trainer in this JVM, the replay of every mode, and the adaptation curve after a"
            + " planted shift.",
        "With --data DIR (or --tasks T --questions F --outputs G) the table is measured on that data instead:"
            + " LaMP's released files or OPPU's processed ones, evaluated users as replay takes them (capped by --users"
            + " and --queries), non-evaluated ones (at most --train-users) for task adapters not yet cached; no"
            + " ceilings and no shift curve (the data has no ground truth and no planted shift).",
        "Prints the table of modes x metrics and writes results.json, report.md, demo.json, PNG plots, predictions"
            + " and the data to --out."})
public final class DemoCommand implements Callable<Integer> {

  @Option(names = "--out", defaultValue = "demo-out", paramLabel = "DIR", description = "Output folder (${DEFAULT-VALUE}).")
  Path out;

  @Mixin
  KafkaOptions kafka;

  @Option(names = "--tasks", split = ",", defaultValue = "LaMP_2M,LaMP_7",
      description = "Tasks of the table (${DEFAULT-VALUE}), or all: the seven; the shift curve uses the first"
          + " classification task.")
  List<String> tasks;

  @Mixin
  DataOptions data = new DataOptions();

  @Option(names = "--users", defaultValue = "8", description = "Evaluated users per task (${DEFAULT-VALUE}).")
  int users;

  @Option(names = "--queries", defaultValue = "4", description = "Queries per evaluated user (${DEFAULT-VALUE}).")
  int queries;

  @Option(names = "--train-users", defaultValue = "40",
      description = "Non-evaluated users per task: they train the task adapter when it is not cached (${DEFAULT-VALUE}).")
  int trainUsers;

  @Option(names = "--shift-users", defaultValue = "5",
      description = "Users with a planted shift for the adaptation curve; 0 skips it (${DEFAULT-VALUE}).")
  int shiftUsers;

  @Option(names = "--shift-queries", defaultValue = "12",
      description = "Queries per shifted user, asked at every step (${DEFAULT-VALUE}).")
  int shiftQueries;

  @Option(names = "--steps", split = ",", defaultValue = "0,10,20",
      description = "Post-shift events per user at which the curve is measured (${DEFAULT-VALUE}).")
  List<Integer> steps;

  @Option(names = "--modes", split = ",", defaultValue = "non-personalized,RAG,PAG,OPPU,OPPU+RAG,OPPU+PAG",
      description = "Modes to measure (default: all six).")
  List<String> modes;

  @Mixin
  SeedOptions seed = new SeedOptions();

  /** The base model, pretrained here once when missing; its task adapters are made once and cached. */
  @Mixin
  ModelOptions model = new ModelOptions();

  @Mixin
  DeviceOptions device = new DeviceOptions();

  @Option(names = "--partitions", defaultValue = "2", description = "Partitions per topic (${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--adapter-timeout", paramLabel = "SECONDS",
      description = "Longest wait for adapters in each phase (default: 300 per task, at least 600).")
  Long adapterTimeout;

  @Option(names = "--answer-timeout", defaultValue = "300", paramLabel = "SECONDS",
      description = "Longest wait for the answers in each phase (${DEFAULT-VALUE}).")
  long answerTimeout;

  @Option(names = "--free-generation",
      description = "Label tasks generate freely instead of answering with the most likely label of their list.")
  boolean freeGeneration;

  @Option(names = "--no-progress", description = "No progress bars.")
  boolean noProgress;

  @Override
  public Integer call() throws Exception {
    device.check(); // refuse a device or dtype that cannot run before anything starts
    long t0 = System.nanoTime();
    // The services' log lines (a line per training) go to a file, so the console shows the progress bars and results.
    // slf4j-simple reads this once, when the first logger is made: nothing has logged yet at this point.
    java.nio.file.Files.createDirectories(out);
    if (System.getProperty("org.slf4j.simpleLogger.logFile") == null) {
      System.setProperty("org.slf4j.simpleLogger.logFile", out.resolve("demo.log").toString());
      System.out.println("demo: service logs go to " + out.resolve("demo.log"));
    }
    List<Task> taskList = Task.list(tasks);
    Progress progress = noProgress ? Progress.none() : Progress.console();
    ClientConfig cluster = externalCluster();
    long[] prepNanos = {0};
    List<String> prepNotes = new ArrayList<>();
    DemoSystem.Launcher launcher = (client, topics, settings, trainUsersByTask, work, p) -> {
      long s = System.nanoTime();
      ModelPrep.Prepared prep = ModelPrep.prepare(model.model(), model.taskAdapters(), taskList, trainUsersByTask, device.device(), p, System.out);
      prepNanos[0] = System.nanoTime() - s;
      prepNotes.addAll(prep.notes());
      return InProcessSystem.launcher(prep.models(), TrainerDefaults.user())
          .start(client, topics, settings, trainUsersByTask, work, p);
    };
    DemoRunner.Options opts = new DemoRunner.Options(out, cluster, taskList, users, trainUsers, queries, shiftUsers,
        shiftQueries, steps, 20, seed.seed(), Modes.parse(modes), partitions, !freeGeneration, adapterWait(adapterTimeout, taskList.size()),
        Duration.ofSeconds(answerTimeout), Duration.ofSeconds(30), progress, System.out,
        given(data, taskList, trainUsers, System.out));
    DemoResults r = new DemoRunner(opts, launcher).run();
    if (!prepNotes.isEmpty()) {
      List<String> setup = new ArrayList<>(r.setup());
      setup.addAll(prepNotes);
      r = new DemoResults(r.model(), setup, r.replay(), r.ceilings(), r.byActivity(), r.shift(), r.lagsMillis(),
          r.phaseSeconds(), r.data());
    }
    DemoReport.write(r, out);
    System.out.println();
    System.out.print(ResultsTable.render(merge(r)));
    if (r.shift() != null) {
      System.out.printf(Locale.ROOT, "shift (%s): pre-shift level %.3f; continuous adapters within 5 points after %s"
          + " events, frozen adapters %s; SPEC target (%d events): %s%n", r.shift().task(), r.shift().preShiftLevel(),
          r.shift().recoveredAtEvents() < 0 ? "no measured number of" : r.shift().recoveredAtEvents(),
          r.shift().frozenStaysBelow() == null ? "not measured"
              : r.shift().frozenStaysBelow() ? "stay below" : "also within",
          r.shift().recoveryTargetEvents(), r.shift().meetsTarget() ? "met" : "not met");
    }
    r.replay().lags().forEach((v, l) -> System.out.printf(Locale.ROOT,
        "adaptation lag (%s): p50 %d ms, p99 %d ms over %d events%s%n", v, l.p50Millis(), l.p99Millis(), l.covered(),
        l.breakdown() == null || l.breakdown().events() == 0 ? "" : "; " + l.breakdown().summary()));
    System.out.printf(Locale.ROOT, "wall time %.0f s (model preparation %.0f s of it); wrote %s%n",
        (System.nanoTime() - t0) / 1e9, prepNanos[0] / 1e9, out.resolve("report.md").toAbsolutePath());
    return 0;
  }

  /**
   * The adapter wait: the trainer makes 3 variants x users adapters per task one after another, so a fixed wait that
   * fits two tasks ends the seven tasks' wait with a third of them unfinished.
   */
  static Duration adapterWait(Long givenSeconds, int tasks) {
    return Duration.ofSeconds(givenSeconds != null ? givenSeconds : Math.max(600, 300L * tasks));
  }

  private static java.util.Map<String, java.util.Map<String, java.util.Map<String, Double>>> merge(DemoResults r) {
    var m = new java.util.LinkedHashMap<>(r.replay().metrics());
    m.putAll(r.ceilings());
    return m;
  }

  /**
   * The data of --data or --questions per task (every task of {@code taskList} must have some), the non-evaluated
   * users capped at {@code trainUsers}; null without either (synthetic data).
   */
  static java.util.Map<Task, DemoRunner.GivenData> given(DataOptions data, List<Task> taskList, int trainUsers,
      java.io.PrintStream log) {
    if (!data.given()) {
      return null;
    }
    java.util.Map<Task, DemoRunner.GivenData> out = new java.util.LinkedHashMap<>();
    data.sources(taskList, true).forEach((t, s) -> {
      String d = s.describe(data.mostActive());
      log.println("demo: " + d);
      // Explicit files other than a time-based split hold only evaluated users: none of them may adapt the task.
      List<dev.oppu.lamp.data.UserData> train = List.of();
      if (!s.sameUsers()) {
        try {
          train = s.nonEvaluated(data.mostActive(), trainUsers);
        } catch (dev.oppu.lamp.LampInputException e) {
          log.println("demo: " + e.getMessage() + "; a missing task adapter cannot be trained");
        }
      }
      out.put(t, new DemoRunner.GivenData(d, s.evaluated(data.mostActive()), train));
    });
    return out;
  }

  /** The cluster given by --bootstrap, --kafka-config or $KAFKA_BOOTSTRAP_SERVERS; null: the embedded broker. */
  private ClientConfig externalCluster() {
    return kafka.given() ? kafka.clientConfig() : null;
  }
}
