package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.evaluation.replay.LampDatasets;
import dev.oppu.evaluation.replay.Modes;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.evaluation.replay.ReplayData;
import dev.oppu.evaluation.replay.ReplayEngine;
import dev.oppu.evaluation.replay.ReplayOutput;
import dev.oppu.evaluation.replay.ReplayResult;
import dev.oppu.evaluation.replay.ResultsTable;
import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.LampData;
import dev.oppu.schemas.Topics;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.evaluation.demo.DemoSystem;
import dev.oppu.evaluation.demo.InProcessSystem;
import dev.oppu.evaluation.demo.ModelPrep;
import dev.oppu.trainer.TrainerDefaults;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code oppu replay}: LaMP files to behavior events and requests through a running system; LaMP's metrics per mode.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
    description = {
        "Replays LaMP data through a running OPPU system: publishes each user's history as behavior events in time"
            + " order, waits until the users' adapters cover it, sends every query once per mode, waits for the"
            + " answers and scores them with LaMP's metrics.",
        "Against --bootstrap (or --kafka-config, $KAFKA_BOOTSTRAP_SERVERS) the services must be running there;"
            + " without one, an embedded broker and the services start in this JVM with --model.",
        "The data: --data DIR (OPPU's processed files or LaMP's released ones; the evaluated users are OPPU's"
            + " user_top_100_history, LaMP's dev questions, or in a time-based split the --most-active N users with"
            + " the most history) or --questions FILE with --outputs FILE.",
        "Writes <out>/predictions/<mode>/<task>_outputs.json (LaMP's format), <out>/golds/<task>_outputs.json (the"
            + " evaluated queries' golds, for oppu eval), <out>/results.json"
            + " ({mode: {task: {metric: value}}}) and <out>/replay.json (counts, adaptation lag, timing)."})
public final class ReplayCommand implements Callable<Integer> {

  @Option(names = "--task", required = true, description = "LaMP task: LaMP_1, LaMP_2N, LaMP_2M, LaMP_3, LaMP_4,"
      + " LaMP_5, LaMP_7 (or OPPU's task name).")
  String task;

  /** --data DIR, or --questions FILE [--outputs FILE]; which users are evaluated (LampData). */
  @Mixin
  DataOptions data = new DataOptions();

  /** The name --questions had before --data existed; the same option. */
  @Option(names = "--users", paramLabel = "FILE", hidden = true)
  Path users;

  @Option(names = "--modes", split = ",", paramLabel = "MODE",
      description = "Modes to ask, comma-separated (default: all six: ${DEFAULT-VALUE}).",
      defaultValue = "non-personalized,RAG,PAG,OPPU,OPPU+RAG,OPPU+PAG")
  List<String> modes;

  @Option(names = "--out", defaultValue = "replay-out", paramLabel = "DIR", description = "Output folder.")
  Path out;

  @Mixin
  KafkaOptions kafka;

  @Option(names = "--adapter-timeout", defaultValue = "600", paramLabel = "SECONDS",
      description = "How long to wait for adapters to cover the history (0: do not wait). Default ${DEFAULT-VALUE}.")
  long adapterTimeoutSeconds;

  @Option(names = "--answer-timeout", defaultValue = "300", paramLabel = "SECONDS",
      description = "How long to wait for all answers. Default ${DEFAULT-VALUE}.")
  long answerTimeoutSeconds;

  @Option(names = "--quiet", defaultValue = "30", paramLabel = "SECONDS",
      description = "Stop waiting for adapters once no training is pending and none finished for this long (the"
          + " system's trigger policy, oppu.ingest.*, decides what it trains). Default ${DEFAULT-VALUE}.")
  long quietSeconds;

  @Option(names = "--k", paramLabel = "N", description = "Retrieved items for RAG modes (default: the server's).")
  Integer k;

  @Option(names = "--no-progress", description = "No progress bars.")
  boolean noProgress;

  /** Without a cluster: the model of the services this command starts in-process with an embedded broker. */
  @Mixin
  ModelOptions model = new ModelOptions();

  @Mixin
  DeviceOptions device = new DeviceOptions();

  @Override
  public Integer call() throws Exception {
    device.check(); // refuse a device or dtype that cannot run before anything starts
    Task t = Task.of(task);
    ReplayData.Dataset dataset = dataset(t);
    if (!kafka.given()) {
      return embedded(t, dataset);
    }
    ClientConfig client = kafka.clientConfig();
    Topics topics = kafka.topics();
    return replay(t, dataset, client, topics);
  }

  /** The evaluated users of the data pointed at (--data or --questions, with --users as --questions' old name). */
  private ReplayData.Dataset dataset(Task t) {
    if (users != null) {
      if (data.questions != null) {
        throw new LampInputException("--users is --questions' older name: give one of them");
      }
      data.questions = users;
    }
    if (!data.given()) {
      throw new LampInputException("which data? Give --data DIR, or --questions FILE with --outputs FILE");
    }
    LampData.Source source = data.sources(List.of(t), true).get(t);
    System.out.println(source.describe(data.mostActive()));
    return LampDatasets.from(t, source.evaluated(data.mostActive()), Map.of(), u -> true);
  }

  /** No cluster given: an embedded broker and the services in this JVM, as the demo runs them. */
  private int embedded(Task t, ReplayData.Dataset data) throws Exception {
    Progress progress = noProgress ? Progress.none() : Progress.console();
    try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.builder().build().start()) {
      ClientConfig client = broker.clientConfig();
      Topics topics = Topics.from(client.raw());
      TopicAdmin.ensureTopics(client.raw(), topics, 2);
      ModelPrep.Prepared prep = ModelPrep.prepare(model.model(), model.taskAdapters(), List.of(t), Map.of(), device.device(), progress, System.out);
      prep.notes().forEach(System.out::println);
      Properties settings = new Properties();
      List<String> variants = Modes.variants(Modes.parse(modes));
      settings.setProperty("oppu.ingest.variants", String.join(",", variants.isEmpty() ? List.of("plain") : variants));
      settings.setProperty("oppu.ingest.first-min-items", "1");
      settings.setProperty("oppu.ingest.new-items-max", "1");
      // Train from a user's first item on, but evaluate a user's triggers once their behaviors pause for 2 s: a history
      // published at once trains once with all of it, not from its first item on (then again with the rest).
      settings.setProperty("oppu.ingest.trigger-delay-ms", "2000");
      settings.setProperty("oppu.ingest.adapter-partitions", "2");
      Path work = Files.createTempDirectory("oppu-replay");
      try (DemoSystem system = InProcessSystem.launcher(prep.models(), TrainerDefaults.user())
          .start(client, topics, settings, Map.of(t, List.of()), work, progress)) {
        System.out.println("model: " + system.modelDescription());
        return replay(t, data, client, topics);
      }
    }
  }

  /**
   * The evaluated queries' golds beside the predictions, in LaMP's outputs form ({@code <out>/golds/<task>_outputs.json}):
   * with a time-based split only the most active users are evaluated, so LaMP's own outputs file holds more ids than
   * the predictions and {@code oppu eval} needs this one.
   */
  private void writeGolds(Task t, ReplayData.Dataset data) {
    Map<String, String> golds = new java.util.LinkedHashMap<>();
    data.users().forEach(u -> u.queries().forEach(q -> {
      if (q.gold() != null) {
        golds.put(q.id(), q.gold());
      }
    }));
    if (golds.isEmpty()) {
      return;
    }
    try {
      Files.createDirectories(out.resolve("golds"));
      ReplayOutput.writePredictions(out.resolve("golds").resolve(t.id() + "_outputs.json"), t.id(), golds);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot write the golds to " + out + ": " + e.getMessage(), e);
    }
  }

  private int replay(Task t, ReplayData.Dataset data, ClientConfig client, Topics topics) {
    System.out.printf("replay: %s, %d users, %d history items, %d queries x %d modes -> %s%n", t.id(),
        data.users().size(), data.itemCount(), data.queryCount(), modes.size(), client.bootstrapServers());
    ReplayEngine.Options opts = ReplayEngine.Options.defaults()
        .withModes(Modes.parse(modes))
        .withTimeouts(Duration.ofSeconds(adapterTimeoutSeconds), Duration.ofSeconds(answerTimeoutSeconds))
        .withProgress(noProgress ? Progress.none() : Progress.console(), System.out);
    opts = opts.withK(k).withQuiet(Duration.ofSeconds(quietSeconds));
    ReplayResult r = new ReplayEngine(client, topics, opts).run(List.of(data));
    ReplayOutput.write(r, out);
    writeGolds(t, data);
    System.out.print(ResultsTable.render(r.metrics()));
    r.lags().forEach((v, lag) -> System.out.printf("adaptation lag (%s): p50 %d ms, p99 %d ms over %d of %d events%s%n",
        v, lag.p50Millis(), lag.p99Millis(), lag.covered(), lag.events(),
        lag.breakdown() == null || lag.breakdown().events() == 0 ? "" : "; " + lag.breakdown().summary()));
    System.out.println("wrote " + out.toAbsolutePath());
    boolean complete = r.stats().values().stream().flatMap(m -> m.values().stream())
        .allMatch(ReplayResult.Stats::complete);
    return complete ? 0 : 1;
  }
}
