package dev.oppu.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.StreamsApp;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Soak: replays a long stream of behaviors with requests mixed in through the real services (the streams application
 * and the trainer, as {@link SoakSystem}, in a JVM of their own) while the trainer trains the adapters the stream
 * triggers, samples that process's RSS ({@code /proc/PID/status} VmRSS) every few seconds, and counts losses:
 *
 * <ul>
 *   <li>a behavior is lost when it never reached the history, duplicated when it is in it twice. The history is read
 *       back from its changelog topic (read_committed), the durable copy the stores are restored from; the history
 *       bound is raised above the longest user history so that nothing is evicted and every event must be there;
 *   <li>a request is lost when it was never answered, duplicated when answered twice (responses read_committed).
 * </ul>
 *
 * <p>Every round of synthetic users plants a shift in each user's preferences, and the next round changes them again,
 * so the stream keeps triggering trainings (first adapters, new items, shifts) for the whole run; half the requests go
 * to a few users who are trained first, so serving loads and swaps real adapters, not only the cold path.
 *
 * <p>The parts: this class (options, the run, the report), {@link SoakLoad} (what is sent), {@link SoakChild} (the
 * services' process), {@link SoakRssSampler} and {@link SoakResponses} (what is measured while it runs),
 * {@link SoakAudit} (waiting for the end, counting what arrived).
 *
 * <p>{@code rss_growth} = max RSS in the second half of the run / max RSS in the first half after the warm-up; it is
 * also the {@code ratio}: the first half is the baseline measured in the same run. The run is the time from the first
 * record sent until the streams application has committed every behavior and request and every request is answered.
 */
@Command(name = "soak", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Long replay with training running: lost/duplicated behaviors and answers, RSS growth.")
public final class SoakBench implements Callable<Integer> {

  @Option(names = "--events", defaultValue = "1000000", description = "Behaviors (default ${DEFAULT-VALUE}).")
  int events;

  @Option(names = "--requests", defaultValue = "10000", description = "Requests (default ${DEFAULT-VALUE}).")
  int requests;

  @Option(names = "--users", defaultValue = "4000",
      description = "Synthetic users per round; each round is a fresh synth with the same user ids and new "
          + "preferences, so histories grow and shift (default ${DEFAULT-VALUE}).")
  int users;

  @Option(names = "--partitions", defaultValue = "2", description = "Partitions (default ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--stream-threads", defaultValue = "2", description = "Stream threads (default ${DEFAULT-VALUE}).")
  int streamThreads;

  /** The base model; its task adapter for LaMP_2M is merged in. */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.ModelOptions model = new dev.oppu.cli.ModelOptions();

  /** Where and in what precision the model computes (one default for every command). */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.DeviceOptions device = new dev.oppu.cli.DeviceOptions();


  /**
   * Serving options; the soak's own settings unless given: 4 new tokens, a 500 ms batch wait (requests come one per
   * ~100 behaviors, so a short wait would decode them one by one), mode OPPU+RAG.
   */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.ServingOptions serving = new dev.oppu.cli.ServingOptions();

  @Option(names = "--first-min-items", defaultValue = "10",
      description = "A user's first training at this many items (default ${DEFAULT-VALUE}).")
  int firstMinItems;

  @Option(names = "--new-items-max", defaultValue = "50",
      description = "Retrain after this many new items, shift or not (default ${DEFAULT-VALUE}).")
  int newItemsMax;

  @Option(names = "--epochs", description = "Per-user training epochs (default: the trainer's, 2).")
  Integer epochs;

  @Option(names = "--max-replay", description = "Older items replayed per update (default: the trainer's, 50).")
  Integer maxReplay;

  @Option(names = "--rate", defaultValue = "0",
      description = "Behaviors per second sent (0: as fast as the producer goes; default ${DEFAULT-VALUE}).")
  double rate;

  @Option(names = "--rss-interval-s", defaultValue = "3",
      description = "RSS sampling period in seconds (default ${DEFAULT-VALUE}).")
  double rssIntervalS;

  @Option(names = "--warmup", defaultValue = "0.1",
      description = "Fraction of the run left out of the first half's RSS (default ${DEFAULT-VALUE}).")
  double warmup;

  @Option(names = "--stall-minutes", defaultValue = "10",
      description = "Give up when nothing progresses for this long (default ${DEFAULT-VALUE}).")
  double stallMinutes;

  @Option(names = "--child-jvm-opts", defaultValue = "-Xms1g -Xmx1g -XX:+AlwaysPreTouch",
      description = "JVM options of the streams + trainer process (default: ${DEFAULT-VALUE}: a fixed, pre-touched"
          + " heap, as a service runs, so that RSS growth is not the JVM sizing its heap but what happens outside"
          + " it or a heap that fills up).")
  String childJvmOpts;

  @Option(names = "--child-env", paramLabel = "KEY=VALUE",
      description = "Environment of the streams + trainer process (repeatable), e.g. MALLOC_ARENA_MAX=2.")
  Map<String, String> childEnv = new LinkedHashMap<>();

  @Option(names = "--rss-csv", paramLabel = "FILE",
      description = "Also write every RSS sample (seconds since start, MB) to this CSV file.")
  Path rssCsv;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @Option(names = "--work", description = "Working folder (default: a fresh temporary one, deleted after).")
  Path workOption;


  @Override
  public Integer call() throws Exception {
    device.check();
    if (events < 1 || requests < 0 || users < 1 || warmup < 0 || warmup >= 0.5) {
      throw new IllegalArgumentException("need events >= 1, requests >= 0, users >= 1, 0 <= warmup < 0.5");
    }
    Path modelDir = model.model().toAbsolutePath();
    if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
      throw new IllegalArgumentException("no model at " + modelDir + " (config.json missing)");
    }
    Path work = workOption != null ? Files.createDirectories(workOption) : Files.createTempDirectory("oppu-soak");
    try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.create().start()) {
      return run(broker.clientConfig(), modelDir, work);
    } finally {
      if (workOption == null) {
        RetrieveBench.deleteTree(work);
      }
    }
  }

  private int run(ClientConfig client, Path modelDir, Path work) throws Exception {
    // The data: rounds of synthetic users until there are enough behaviors; the longest history sets the bound.
    SoakLoad load = new SoakLoad(events, requests, users, rate, seedOption.seed());
    SoakLoad.Plan plan = load.plan();
    System.out.printf(Locale.ROOT, "soak: %d behaviors of %d users in %d round(s), longest history %d; %d requests%n",
        events, users, plan.rounds(), plan.longestHistory(), requests);

    Properties names = new Properties();
    String base = "soak-" + Long.toHexString(System.currentTimeMillis());
    for (String key : Topics.KEYS) {
      names.setProperty(Topics.PREFIX + key, base + "." + key);
    }
    Topics topics = Topics.from(names);
    TopicAdmin.ensureTopics(client.raw(), topics, partitions);

    Properties settings = new Properties();
    settings.putAll(client.raw());
    settings.putAll(names);
    settings.setProperty("num.stream.threads", Integer.toString(streamThreads));
    settings.setProperty("oppu.ingest.variants", "rag");
    settings.setProperty("oppu.ingest.max-history", Integer.toString(plan.longestHistory()));
    settings.setProperty("oppu.ingest.first-min-items", Integer.toString(firstMinItems));
    settings.setProperty("oppu.ingest.new-items-max", Integer.toString(newItemsMax));
    settings.setProperty("oppu.ingest.adapter-partitions", Integer.toString(partitions));
    settings.setProperty("oppu.serving.mode", "OPPU+RAG");
    settings.setProperty("oppu.serving.max.new.tokens", Integer.toString(serving.maxNewTokens(4)));
    settings.setProperty("oppu.serving.batch.wait.ms", Long.toString(serving.batchWaitMs(500)));
    serving.putSettings(settings); // any other serving option given
    Path settingsFile = work.resolve("soak.properties");
    try (Writer w = Files.newBufferedWriter(settingsFile)) {
      settings.store(w, "bench soak");
    }

    SoakChild child = SoakChild.start(this, settingsFile, modelDir, work);
    try {
      SoakResponses responses = new SoakResponses(client, topics);
      responses.start();
      SoakRssSampler sampler = new SoakRssSampler(child.process.pid(), rssIntervalS);
      long start = System.nanoTime();
      sampler.start();
      SoakLoad.Watch watch = SoakLoad.watch(child, sampler);
      SoakLoad.Sent sent = load.produce(client, topics, plan, responses, watch);
      boolean complete = SoakAudit.awaitDone(client, topics, StreamsApp.APPLICATION_ID, partitions, events,
          stallMinutes, sent, responses, watch);
      long end = System.nanoTime();
      sampler.stop();
      List<SoakRssSampler.Sample> samples = sampler.samples();
      String finalStatus = child.stop();
      responses.stop();

      SoakAudit.History history = SoakAudit.readHistory(client, topics, StreamsApp.APPLICATION_ID, events);
      long deadLetters = SoakAudit.countRecords(client, topics.deadLetters.name());

      // RSS: first half after the warm-up vs second half, by time.
      long mid = start + (end - start) / 2;
      long warm = start + (long) ((end - start) * warmup);
      long firstMax = 0;
      long secondMax = 0;
      long max = 0;
      for (SoakRssSampler.Sample s : samples) {
        max = Math.max(max, s.rssKb());
        if (s.atNanos() >= warm && s.atNanos() < mid) {
          firstMax = Math.max(firstMax, s.rssKb());
        } else if (s.atNanos() >= mid) {
          secondMax = Math.max(secondMax, s.rssKb());
        }
      }
      double growth = firstMax == 0 ? Double.NaN : (double) secondMax / firstMax;
      if (rssCsv != null) {
        StringBuilder csv = new StringBuilder("seconds,rss_mb\n");
        for (SoakRssSampler.Sample s : samples) {
          csv.append(String.format(Locale.ROOT, "%.1f,%.1f%n", (s.atNanos() - start) / 1e9, s.rssKb() / 1024.0));
        }
        Files.writeString(rssCsv, csv);
      }
      long[] trained = child.publishedByHalf(mid);

      long lostEvents = events - history.found();
      long lostRequests = sent.requests() - responses.answeredCount();
      double seconds = (end - start) / 1e9;
      System.out.printf(Locale.ROOT, "run: %.0f s, %d RSS samples, RSS max %d MB (first half after warm-up %d MB,"
              + " second half %d MB)%n", seconds, samples.size(), max / 1024, firstMax / 1024, secondMax / 1024);
      System.out.printf(Locale.ROOT, "history: %d of %d behaviors, %d twice, %d evicted; responses: %d of %d, %d"
              + " twice, %d errors, %d cold; dead letters %d; trainer: %s%n", history.found(), events, history.dups(),
          history.tombstones(), responses.answeredCount(), sent.requests(), responses.dups.get(), responses.errors.get(),
          responses.cold.get(), deadLetters, finalStatus);

      Map<String, Object> out = new LinkedHashMap<>();
      out.put("bench", "soak");
      out.put("events", events);
      out.put("requests", sent.requests());
      out.put("requests_answered", responses.answeredCount());
      out.put("lost", lostEvents + lostRequests);
      out.put("duplicated", history.dups() + responses.dups.get());
      out.put("lost_events", lostEvents);
      out.put("lost_requests", lostRequests);
      out.put("duplicated_events", history.dups());
      out.put("duplicated_responses", responses.dups.get());
      out.put("error_responses", responses.errors.get());
      out.put("cold_responses", responses.cold.get());
      out.put("dead_letters", deadLetters);
      out.put("max_rss_mb", round1(max / 1024.0));
      out.put("rss_first_half_mb", round1(firstMax / 1024.0));
      out.put("rss_second_half_mb", round1(secondMax / 1024.0));
      out.put("rss_growth", round3(growth));
      out.put("ratio", round3(growth));
      out.put("ratio_is", "rss_growth: second-half max RSS / first-half (after warm-up) max RSS of the same run");
      out.put("rss_samples", samples.size());
      out.put("adapters_published", trained[0] + trained[1]);
      out.put("adapters_published_second_half", trained[1]);
      out.put("duration_s", round1(seconds));
      out.put("events_per_s", Math.round(events / seconds));
      out.put("complete", complete);
      out.put("child_jvm_opts", childJvmOpts);
      System.out.println(new ObjectMapper().writeValueAsString(out));
      return lostEvents + lostRequests == 0 && history.dups() + responses.dups.get() == 0 ? 0 : 1;
    } finally {
      child.destroy();
    }
  }

  private static double round1(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static double round3(double v) {
    return Double.isNaN(v) ? v : Math.round(v * 1000) / 1000.0;
  }
}
