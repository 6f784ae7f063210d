package dev.oppu.bench;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.metrics.LampMetrics;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.TaskModels;
import dev.oppu.serving.BatchGenerator;
import dev.oppu.serving.Mode;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.PromptAssembler;
import dev.oppu.serving.RequestValidator;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.ShiftDetector;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.examples.Variant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code oppu bench shift}: the adaptation curve after a planted shift, without Kafka. Each shifted user's plain
 * adapter goes through the updates the streaming trainer would make when the demo publishes a batch of events at
 * once (one update as the first event arrives, then one for the rest, and again for items held out for validation),
 * by the trainer's own {@link UserAdapterUpdater}; answers come from serving's generator. The adapter at 0 post-shift
 * events is kept as the frozen baseline. The tool for tuning the trainer's replay policy in minutes instead of a
 * demo run; the demo measures the same curve through the running system.
 */
@Command(name = "shift", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Offline adaptation curve after a planted shift: continuous vs frozen adapters (OPPU mode).",
        "Last line: one JSON object; ratio = continuous accuracy over frozen accuracy at the last step."})
public final class ShiftBench implements Callable<Integer> {

  @Mixin
  OfflineModels offline;

  @Option(names = "--task", defaultValue = "LaMP_2M", description = "a classification task (${DEFAULT-VALUE})")
  String taskName;

  @Option(names = "--users", defaultValue = "5", description = "users with a planted shift (${DEFAULT-VALUE})")
  int users;

  @Option(names = "--queries", defaultValue = "20", description = "queries per user (${DEFAULT-VALUE})")
  int queries;

  @Option(names = "--steps", split = ",", defaultValue = "0,10,20",
      description = "post-shift events per user at which the curve is measured (${DEFAULT-VALUE})")
  List<Integer> steps;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @Mixin
  dev.oppu.cli.AdapterTrainingOptions training;

  @Option(names = "--max-replay", description = "older items replayed per update at most (default: the trainer's)")
  Integer maxReplay;

  @Option(names = "--regime-margin", description = "oppu.ingest.regime-margin for the shift rule (default: the"
      + " ingestion's)")
  Double regimeMargin;

  @Option(names = "--tolerance", description = "held-out validation tolerance (default: the trainer's)")
  Double tolerance;

  /** One user's adapter through its updates. */
  private static final class UserState {
    final List<UserAdapterUpdater.Item> items = new ArrayList<>();
    LoraAdapter adapter;
    long covered = -1;
    long version;
    long regimeFrom = Long.MIN_VALUE;
    int updates;
    int shifts;
    int rejected;
  }

  @Override
  public Integer call() throws Exception {
    Task task = Task.of(taskName);
    if (task.kind() != Task.Kind.CLASSIFICATION) {
      throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
          "bench shift measures accuracy: give a classification task (LaMP_1, LaMP_2M, LaMP_2N), not " + task.id());
    }
    UserAdapterUpdater.Settings d = TrainerDefaults.user();
    UserAdapterUpdater.Settings s = d.withTraining(training.lora(d.lora()), training.training(d.training()))
        .withMaxReplay(maxReplay != null ? maxReplay : d.maxReplay())
        .withTolerance(tolerance != null ? tolerance : d.tolerance());
    SynthDataset data = Synth.generate(task, Synth.Params.defaults().withUsers(users).withTrainUsers(0)
        .withQueries(queries).withShift(true).withSeed(seedOption.seed()));
    Map<String, Integer> shiftAt = new LinkedHashMap<>();
    data.userTruth().forEach(u -> shiftAt.put(u.userId(), u.shiftIndex()));
    Map<String, String> post = new LinkedHashMap<>();
    Map<String, String> pre = new LinkedHashMap<>();
    data.queryTruth().forEach(q -> {
      post.put(q.id(), q.personal());
      pre.put(q.id(), q.preShift());
    });
    int maxPost = data.users().stream().mapToInt(u -> u.profile().size() - shiftAt.get(u.userId())).min().orElse(0);

    long t0 = System.nanoTime();
    // step index -> query id -> answer, per series
    List<Map<String, String>> cont = new ArrayList<>();
    List<Map<String, String>> frozen = new ArrayList<>();
    Map<String, String> np = new LinkedHashMap<>();
    steps.forEach(x -> {
      cont.add(new LinkedHashMap<>());
      frozen.add(new LinkedHashMap<>());
    });
    int updates = 0;
    int rejected = 0;
    int shifts = 0;
    java.util.Properties ip = new java.util.Properties();
    if (regimeMargin != null) {
      ip.setProperty(IngestConfig.PREFIX + "regime-margin", regimeMargin.toString());
    }
    IngestConfig ingest = IngestConfig.from(ip);
    try (TaskModels models = offline.open()) {
      TaskModels.TaskModel tm = models.get(task.id());
      UserAdapterUpdater updater = OfflineModels.updater(models, tm, s);
      ModelBatchGenerator gen = OfflineModels.generator(models, tm, task);
      PromptAssembler assembler = new PromptAssembler(s.retrievedWords());
      RequestValidator validator = new RequestValidator(dev.oppu.serving.ServingConfig.from(new java.util.Properties()));
      ProgressBar pb = new ProgressBarBuilder().setTaskName("shift " + task.id())
          .setInitialMax((long) data.users().size() * steps.size()).setStyle(ProgressBarStyle.ASCII)
          .setUpdateIntervalMillis(1000).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err))
          .build();
      try (pb) {
        for (dev.oppu.lamp.data.UserData u : data.users()) {
          List<HistoryItem> history = u.profile();
          int shift = shiftAt.get(u.userId());
          UserState st = new UserState();
          OfflineUserData userData = new OfflineUserData(u, task, null);
          LoraAdapter frozenAdapter = null;
          try {
            arrive(updater, task, u.userId(), st, history, shift, ingest);
            int sent = 0;
            for (int i = 0; i < steps.size(); i++) {
              int upTo = Math.min(steps.get(i), maxPost);
              if (upTo > sent) {
                arrive(updater, task, u.userId(), st, history, shift + upTo, ingest);
                sent = upTo;
              }
              if (i == 0) {
                frozenAdapter = st.adapter == null ? null : st.adapter.copy(tm.model().manager());
              }
              List<BatchGenerator.Row> rows = new ArrayList<>();
              List<Map<String, String>> sinks = new ArrayList<>();
              List<String> ids = new ArrayList<>();
              List<BatchGenerator.LoadedAdapter> loaded = new ArrayList<>();
              try {
                BatchGenerator.LoadedAdapter c = load(st.adapter, tm, task, loaded);
                BatchGenerator.LoadedAdapter f = load(frozenAdapter, tm, task, loaded);
                for (Query q : u.queries()) {
                  String prompt = userData.prompt(assembler, validator, task, q, Mode.OPPU);
                  rows.add(new BatchGenerator.Row(task, prompt, c, 8, task.labels()));
                  sinks.add(cont.get(i));
                  ids.add(q.id());
                  rows.add(new BatchGenerator.Row(task, prompt, f, 8, task.labels()));
                  sinks.add(frozen.get(i));
                  ids.add(q.id());
                  if (i == 0) {
                    rows.add(new BatchGenerator.Row(task, userData.prompt(assembler, validator, task, q,
                        Mode.NON_PERSONALIZED), null, 8, task.labels()));
                    sinks.add(np);
                    ids.add(q.id());
                  }
                }
                List<String> out = gen.generate(rows);
                for (int j = 0; j < out.size(); j++) {
                  sinks.get(j).put(ids.get(j), out.get(j));
                }
              } finally {
                loaded.forEach(BatchGenerator.LoadedAdapter::close);
              }
              pb.step();
            }
          } finally {
            updates += st.updates;
            shifts += st.shifts;
            rejected += st.rejected;
            if (st.adapter != null) {
              st.adapter.close();
            }
            if (frozenAdapter != null) {
              frozenAdapter.close();
            }
          }
        }
      }
    }
    double preLevel = accuracy(task, pre, cont.get(0));
    Double npPost = accuracy(task, post, np);
    List<Map<String, Object>> points = new ArrayList<>();
    for (int i = 0; i < steps.size(); i++) {
      Map<String, Object> p = new LinkedHashMap<>();
      p.put("events", Math.min(steps.get(i), maxPost));
      p.put("continuous", accuracy(task, post, cont.get(i)));
      p.put("frozen", accuracy(task, post, frozen.get(i)));
      points.add(p);
      System.out.printf(Locale.ROOT, "%3d events: continuous %.3f  frozen %.3f  (non-personalized %.3f)%n",
          Math.min(steps.get(i), maxPost), p.get("continuous"), p.get("frozen"), npPost);
    }
    int last = steps.size() - 1;
    double c = accuracy(task, post, cont.get(last));
    double f = accuracy(task, post, frozen.get(last));
    boolean met = c >= preLevel - 0.05 && f < preLevel - 0.05;
    System.out.printf(Locale.ROOT, "pre-shift level %.3f (OPPU at 0 events against the pre-shift answers);"
        + " target: continuous within 0.05 of it at %d events, frozen not: %s%n", preLevel,
        Math.min(steps.get(last), maxPost), met ? "met" : "not met");
    var json = new LinkedHashMap<String, Object>();
    json.put("bench", "shift");
    json.put("task", task.id());
    json.put("users", data.users().size());
    json.put("queries", post.size());
    json.put("settings", String.format(Locale.ROOT, "%s, r %d on %s, replay max %d, tolerance %.2f",
        s.training().describe(), s.lora().r(), s.lora().targetModules(), s.maxReplay(), s.tolerance()));
    json.put("pre_shift_level", preLevel);
    json.put("non_personalized", npPost);
    json.put("points", points);
    json.put("updates", updates);
    json.put("rejected", rejected);
    json.put("shifts_detected", shifts);
    json.put("meets_target", met);
    json.put("total_s", Math.round((System.nanoTime() - t0) / 1e8) / 10.0);
    json.put("ratio", f > 0 ? c / f : Double.NaN);
    System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(json));
    return 0;
  }

  /**
   * Items {@code [st.items.size(), upTo)} arrive at once; the trainer updates as the first arrives, then for the
   * rest, then for what it held out, until an update covers everything or is refused. Before each update the
   * ingestion's shift rule ({@link ShiftDetector#score}, the triggers' own code, with {@link IngestConfig} defaults for
   * the shift test) decides whether the trigger moves the user's replay start to its new items.
   */
  private static void arrive(UserAdapterUpdater updater, Task task, String user, UserState st,
      List<HistoryItem> history, int upTo, IngestConfig ingest) {
    org.apache.lucene.analysis.Analyzer analyzer = ingest.newAnalyzer();
    boolean first = true;
    while (st.items.size() < upTo) {
      int until = first ? st.items.size() + 1 : upTo;
      for (int i = st.items.size(); i < until; i++) {
        st.items.add(new UserAdapterUpdater.Item(i, i, history.get(i).fields()));
      }
      first = false;
      while (st.covered < st.items.size() - 1) {
        long newFrom = st.covered + 1;
        if (st.adapter != null) {
          // what the trainer records with the adapter: the covered items since the last shift
          java.util.Map<String, Double> trainedOn = ShiftDetector.distribution(task,
              fields(st.items, Math.max(0, st.regimeFrom), newFrom), analyzer);
          long known = st.covered - Math.max(st.regimeFrom, 0) + 1;
          var shift = ShiftDetector.score(ingest, task, analyzer, newFrom, st.items.size(), trainedOn, known,
              (from, to) -> fields(st.items, from, to));
          if (shift.isPresent() && shift.get().endsOldBehavior()) {
            st.regimeFrom = newFrom;
            st.shifts++;
          }
        }
        UserAdapterUpdater.Outcome o = updater.update(user, task, Variant.PLAIN, st.items, newFrom, st.regimeFrom,
            null, st.adapter, st.version + 1, null);
        st.updates++;
        if (!o.accepted()) {
          st.rejected++;
          break;
        }
        if (st.adapter != null) {
          st.adapter.close();
        }
        st.adapter = o.adapter();
        st.version++;
        st.covered = o.coveredSeq();
      }
    }
  }

  private static List<Map<String, String>> fields(List<UserAdapterUpdater.Item> items, long from, long to) {
    return items.subList((int) from, (int) to).stream().map(UserAdapterUpdater.Item::fields).toList();
  }

  private static BatchGenerator.LoadedAdapter load(LoraAdapter a, TaskModels.TaskModel tm, Task task,
      List<BatchGenerator.LoadedAdapter> owned) {
    if (a == null) {
      return null; // answered cold, as serving would
    }
    BatchGenerator.LoadedAdapter l = ModelBatchGenerator.loaded(a.copy(tm.model().manager()), task);
    owned.add(l);
    return l;
  }

  private static Double accuracy(Task task, Map<String, String> golds, Map<String, String> preds) {
    return LampMetrics.evaluate(task, golds, preds).get("accuracy");
  }
}
