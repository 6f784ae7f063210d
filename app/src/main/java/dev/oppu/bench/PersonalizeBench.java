package dev.oppu.bench;

import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.metrics.LampMetrics;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import dev.oppu.model.TaskModels;
import dev.oppu.serving.BatchGenerator;
import dev.oppu.serving.Mode;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.PromptAssembler;
import dev.oppu.serving.RequestValidator;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.examples.Variant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code oppu bench personalize}: what personalization buys on synthetic data, without Kafka. Each evaluated user's
 * adapters are trained from scratch on their whole history by the trainer's own {@link UserAdapterUpdater}, and every
 * query is answered in all six modes by serving's {@link ModelBatchGenerator} and {@link PromptAssembler}, so the
 * figures are those the streaming system would reach once adapters cover the history. The tool for tuning the
 * per-user and task-adapter hyperparameters in seconds-to-minutes instead of a full replay.
 */
@Command(name = "personalize", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Offline quality of the six modes on synthetic data (adapters trained on whole histories).",
        "Last line: one JSON object; ratio = OPPU's primary metric over non-personalized's (MAE: the inverse)."})
public final class PersonalizeBench implements Callable<Integer> {

  @picocli.CommandLine.Mixin
  OfflineModels offline;

  @Option(names = "--task", defaultValue = "LaMP_2M")
  String taskName;

  @Option(names = "--users", defaultValue = "10", description = "evaluated users (${DEFAULT-VALUE})")
  int users;

  @Option(names = "--queries", defaultValue = "4", description = "queries per user (${DEFAULT-VALUE})")
  int queries;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @Option(names = "--modes", split = ",", defaultValue = "non-personalized,RAG,PAG,OPPU,OPPU+RAG,OPPU+PAG")
  List<String> modes;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.AdapterTrainingOptions training;

  @Option(names = "--k", defaultValue = "1", description = "retrieved items for RAG modes and rag adapters (${DEFAULT-VALUE})")
  int k;

  @Option(names = "--predictions", paramLabel = "FILE",
      description = "also write every answer as a JSON line (mode, query id, the user's activity level, prediction,"
          + " gold and the truth columns); tools/predictions_report.py breaks a file down")
  java.nio.file.Path predictionsFile;

  @Override
  public Integer call() throws Exception {
    Task task = Task.of(taskName);
    List<Mode> modeList = modes.stream().map(Mode::of).toList();
    UserAdapterUpdater.Settings s = settings();
    SynthDataset data = Synth.generate(task, Synth.Params.defaults().withUsers(users).withQueries(queries)
        .withSeed(seedOption.seed()));
    long t0 = System.nanoTime();
    long trainNanos = 0;
    int published = 0;
    int trained = 0;
    Map<Mode, Map<String, String>> preds = new EnumMap<>(Mode.class);
    modeList.forEach(m -> preds.put(m, new LinkedHashMap<>()));
    Map<String, String> golds = new LinkedHashMap<>();
    try (TaskModels models = offline.open()) {
      TaskModels.TaskModel tm = models.get(task.id());
      UserAdapterUpdater updater = OfflineModels.updater(models, tm, s);
      ModelBatchGenerator gen = OfflineModels.generator(models, tm, task);
      PromptAssembler assembler = new PromptAssembler(s.retrievedWords());
      java.util.Properties sp = new java.util.Properties();
      sp.setProperty(dev.oppu.serving.ServingConfig.PREFIX + "k", Integer.toString(k));
      RequestValidator validator = new RequestValidator(dev.oppu.serving.ServingConfig.from(sp));
      ProgressBar pb = new ProgressBarBuilder().setTaskName("personalize " + task.id())
          .setInitialMax(data.users().size()).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(1000)
          .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build();
      try (pb) {
        for (dev.oppu.lamp.data.UserData u : data.users()) {
          List<Map<String, String>> items = u.profile().stream().map(HistoryItem::fields).toList();
          String profile = Profiles.fromHistory(task, items);
          OfflineUserData userData = new OfflineUserData(u, task, profile);
          Map<String, BatchGenerator.LoadedAdapter> byVariant = new LinkedHashMap<>();
          try {
            for (Mode m : modeList) {
              if (!m.usesAdapter() || byVariant.containsKey(m.variant())) {
                continue;
              }
              Variant v = Variant.of(m.variant());
              List<UserAdapterUpdater.Item> hist = new ArrayList<>();
              for (int i = 0; i < items.size(); i++) {
                hist.add(new UserAdapterUpdater.Item(i, i, items.get(i)));
              }
              long ts = System.nanoTime();
              UserAdapterUpdater.Outcome o = updater.update(u.userId(), task, v, hist, 0,
                  v == Variant.PAG ? profile : null, null, 1, null);
              trainNanos += System.nanoTime() - ts;
              trained++;
              if (o.accepted()) {
                published++;
                byVariant.put(m.variant(), ModelBatchGenerator.loaded(o.adapter(), task));
              } else {
                byVariant.put(m.variant(), null); // answered cold, as serving would
              }
            }
            List<BatchGenerator.Row> rows = new ArrayList<>();
            List<String[]> keys = new ArrayList<>(); // (mode id, query id)
            for (Query q : u.queries()) {
              golds.put(q.id(), q.gold());
              for (Mode m : modeList) {
                String prompt = userData.prompt(assembler, validator, task, q, m);
                BatchGenerator.LoadedAdapter a = m.usesAdapter() ? byVariant.get(m.variant()) : null;
                rows.add(new BatchGenerator.Row(task, prompt, a, 24,
                    task.kind() == Task.Kind.GENERATION ? null : task.labels()));
                keys.add(new String[] {m.id(), q.id()});
              }
            }
            List<String> out = gen.generate(rows);
            for (int i = 0; i < out.size(); i++) {
              preds.get(Mode.of(keys.get(i)[0])).put(keys.get(i)[1], out.get(i));
            }
          } finally {
            byVariant.values().forEach(a -> {
              if (a != null) {
                a.close();
              }
            });
          }
          pb.step();
        }
      }
    }
    if (predictionsFile != null) {
      writePredictions(data, preds, predictionsFile);
    }
    Map<String, Map<String, Double>> metrics = new LinkedHashMap<>();
    for (Mode m : modeList) {
      metrics.put(m.id(), LampMetrics.evaluate(task, golds, preds.get(m)));
    }
    metrics.putAll(data.ceilings());
    String primary = LampMetrics.metricNames(task).get(0);
    Map<String, Map<String, Map<String, Double>>> table = new LinkedHashMap<>();
    metrics.forEach((mode, m) -> table.put(mode, Map.of(task.id(), m)));
    System.out.print(dev.oppu.evaluation.replay.ResultsTable.render(table));
    double ratio = Double.NaN;
    if (metrics.containsKey("OPPU") && metrics.containsKey("non-personalized")) {
      double o = metrics.get("OPPU").get(primary);
      double np = metrics.get("non-personalized").get(primary);
      ratio = primary.equals("mae") ? np / o : o / np;
    }
    var json = new LinkedHashMap<String, Object>();
    json.put("bench", "personalize");
    json.put("task", task.id());
    json.put("users", data.users().size());
    json.put("queries", golds.size());
    json.put("settings", String.format(Locale.ROOT, "%s, r %d on %s, k %d", s.training().describe(), s.lora().r(),
        s.lora().targetModules(), k));
    json.put("metrics", metrics);
    json.put("agreement", agreement(data, preds, primary));
    json.put("adapters_trained", trained);
    json.put("adapters_published", published);
    json.put("train_s", Math.round(trainNanos / 1e8) / 10.0);
    json.put("total_s", Math.round((System.nanoTime() - t0) / 1e8) / 10.0);
    json.put("primary_metric", primary);
    json.put("ratio", ratio);
    System.out.println(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(json));
    return 0;
  }

  /**
   * Each mode's primary metric against the noise-free truth columns instead of the golds: against the crowd's answer
   * it says whether the model recognises what the item is (the task model's job), against the user's own answer
   * whether the adapter learned the user's mapping, with label noise out of the way; against the history answer
   * (where the task has one) whether it learned what the user's own labelled items show.
   */
  static Map<String, Map<String, Double>> agreement(SynthDataset data, Map<Mode, Map<String, String>> preds,
      String primary) {
    Map<String, Map<String, Double>> out = new LinkedHashMap<>();
    Map<String, String> crowd = data.answers(SynthDataset.QueryTruth::crowd).outputs();
    Map<String, String> personal = data.answers(SynthDataset.QueryTruth::personal).outputs();
    Map<String, String> history = data.hasHistory() ? data.answers(SynthDataset.QueryTruth::history).outputs() : null;
    preds.forEach((m, p) -> {
      Map<String, Double> a = new LinkedHashMap<>();
      a.put("crowd", LampMetrics.evaluate(data.task(), crowd, p).get(primary));
      a.put("personal", LampMetrics.evaluate(data.task(), personal, p).get(primary));
      if (history != null) {
        a.put("history", LampMetrics.evaluate(data.task(), history, p).get(primary));
      }
      out.put(m.id(), a);
    });
    return out;
  }

  static void writePredictions(SynthDataset data, Map<Mode, Map<String, String>> preds, java.nio.file.Path file)
      throws java.io.IOException {
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    Map<String, SynthDataset.QueryTruth> truth = new LinkedHashMap<>();
    data.queryTruth().forEach(q -> truth.put(q.id(), q));
    Map<String, String> activity = new LinkedHashMap<>();
    data.userTruth().forEach(u -> activity.put(u.userId(), u.activity()));
    List<String> lines = new ArrayList<>();
    preds.forEach((m, p) -> p.forEach((id, answer) -> {
      SynthDataset.QueryTruth q = truth.get(id);
      var row = new LinkedHashMap<String, Object>();
      row.put("mode", m.id());
      row.put("id", id);
      row.put("activity", activity.get(q.userId()));
      row.put("prediction", answer);
      row.put("gold", q.gold());
      row.put("crowd", q.crowd());
      row.put("personal", q.personal());
      row.put("history", q.history());
      try {
        lines.add(json.writeValueAsString(row));
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }));
    java.nio.file.Files.write(file, lines);
  }

  private UserAdapterUpdater.Settings settings() {
    UserAdapterUpdater.Settings d = TrainerDefaults.user();
    return d.withTraining(training.lora(d.lora()), training.training(d.training())).withK(k);
  }
}
