package dev.oppu.cli.demo;

import dev.oppu.broker.ClientConfig;
import dev.oppu.lamp.Task;
import dev.oppu.model.TextTokenizer;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.AdapterCache;
import dev.oppu.serving.GivenProfiles;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.ServingConfig;
import dev.oppu.serving.StreamsApp;
import dev.oppu.streams.IngestConfig;
import dev.oppu.trainer.TaskModels;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.service.TrainerService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The real services in this JVM: the streams application (ingestion + serving, {@link StreamsApp}) and the trainer
 * service ({@link TrainerService}) on its own thread, both talking to the cluster only through Kafka, exactly as
 * {@code oppu run streams} and {@code oppu run trainer} would as separate processes. Serving and training each load
 * their own copy of the task models (base + merged task adapter), as separate processes would.
 */
public final class InProcessSystem implements DemoSystem {

  /**
   * @param modelDir base model (Hugging Face layout: config.json, model.safetensors, tokenizer.json)
   * @param taskAdapters folder with one PEFT task adapter per task id (null: the bare base)
   */
  public record Models(Path modelDir, Path taskAdapters, String description, String device) {}

  private final String description;
  private final List<String> setup;
  private volatile KafkaStreams streams;
  private ClientConfig client;
  private Topics topics;
  private Path work;
  private final TrainerService trainer;
  private final Thread trainerThread;
  private final AtomicReference<Throwable> trainerFailure;
  private final TaskModels trainModels;
  private final TaskModels serveModels;
  private final TextTokenizer tokenizer;
  private final ModelBatchGenerator generator;

  private InProcessSystem(String description, List<String> setup, KafkaStreams streams, TrainerService trainer,
      Thread trainerThread, AtomicReference<Throwable> trainerFailure, TaskModels trainModels,
      TaskModels serveModels, TextTokenizer tokenizer, ModelBatchGenerator generator) {
    this.description = description;
    this.setup = setup;
    this.streams = streams;
    this.trainer = trainer;
    this.trainerThread = trainerThread;
    this.trainerFailure = trainerFailure;
    this.trainModels = trainModels;
    this.serveModels = serveModels;
    this.tokenizer = tokenizer;
    this.generator = generator;
  }

  /** A launcher for the given models and per-user training settings. */
  public static DemoSystem.Launcher launcher(Models models, UserAdapterUpdater.Settings userTraining) {
    return (client, topics, settings, trainUsers, work, progress) ->
        start(models, userTraining, client, topics, settings, List.copyOf(trainUsers.keySet()), work);
  }

  static InProcessSystem start(Models m, UserAdapterUpdater.Settings userTraining, ClientConfig client,
      Topics topics, Properties settings, List<Task> tasks, Path work) throws Exception {
    Files.createDirectories(work);
    TaskModels trainModels = new TaskModels(m.modelDir(), m.taskAdapters(), m.device());
    TaskModels serveModels = new TaskModels(m.modelDir(), m.taskAdapters(), m.device());
    Map<Task, ModelBatchGenerator.TaskModel> byTask = new LinkedHashMap<>();
    List<String> setup = new ArrayList<>();
    for (Task t : tasks) {
      TaskModels.TaskModel tm = serveModels.forTask(t);
      byTask.put(t, new ModelBatchGenerator.TaskModel(tm.lm().model(), tm.baseFingerprint(), tm.taskFingerprint()));
      trainModels.forTask(t); // load before the clock of the replay starts
      setup.add(String.format(Locale.ROOT, "%s task model: base %s, task adapter %s", t.id(),
          shortFp(tm.baseFingerprint()), shortFp(tm.taskFingerprint())));
    }
    TextTokenizer tokenizer = TextTokenizer.load(m.modelDir(), byTask.values().iterator().next().model().config());
    Path adapterStore = work.resolve("adapter-store");
    ModelBatchGenerator generator = new ModelBatchGenerator(new java.util.EnumMap<>(byTask)::get, tokenizer,
        ModelBatchGenerator.Options.greedy(), adapterStore);

    IngestConfig ingest = IngestConfig.from(settings);
    ServingConfig serving = ServingConfig.from(settings);
    setup.add(String.format(Locale.ROOT, "ingestion: variants %s, first training at %d items, retraining after %d new"
        + " items or a shift; serving: greedy, %s, max batch %d, at most %d new tokens", ingest.variants(),
        ingest.firstMinItems(), ingest.newItemsMax(), serving.constrained()
            ? "label tasks answer with the most likely label of their list (constrained decoding)"
            : "free generation for every task", serving.maxBatch(), serving.maxNewTokens()));
    setup.add(String.format(Locale.ROOT, "per-user training: LoRA r=%d alpha=%.0f on %s, %d epoch(s), batch %d,"
        + " replaying at most %d older items", userTraining.lora().r(), userTraining.lora().alpha(),
        userTraining.lora().targetModules(), userTraining.training().epochs(), userTraining.training().batchSize(),
        userTraining.maxReplay()));

    KafkaStreams streams = startStreams(client, topics, settings, generator, work);

    TrainerService trainer = new TrainerService(client, topics, trainModels, userTraining,
        TrainerService.Settings.defaults(adapterStore));
    AtomicReference<Throwable> trainerFailure = new AtomicReference<>();
    Thread thread = new Thread(() -> {
      try {
        // PyTorch's grad mode is per thread and on by default in a new one; DJL turns it off only on the thread that
        // initialized the engine (here: main). Left on, the optimizer's in-place updates of LoRA leaves fail.
        ai.djl.pytorch.jni.JniUtils.setGradMode(false);
        trainer.run();
      } catch (Throwable t) {
        trainerFailure.set(t);
      }
    }, "oppu-trainer");
    thread.setDaemon(true);
    thread.start();

    String description = m.description();
    InProcessSystem sys = new InProcessSystem(description, setup, streams, trainer, thread, trainerFailure,
        trainModels, serveModels, tokenizer, generator);
    sys.client = client;
    sys.topics = topics;
    sys.work = work;
    return sys;
  }

  /** Starts the streams application (ingestion + serving) and waits until it runs. */
  private static KafkaStreams startStreams(ClientConfig client, Topics topics, Properties settings,
      ModelBatchGenerator generator, Path work) throws InterruptedException {
    IngestConfig ingest = IngestConfig.from(settings);
    ServingConfig serving = ServingConfig.from(settings).withAdapterStore(work.resolve("adapter-store"));
    String appId = StreamsApp.APPLICATION_ID;
    Properties overrides = new Properties();
    overrides.putAll(client.streams(appId));
    overrides.put(StreamsConfig.STATE_DIR_CONFIG, work.resolve("streams-state").toString());
    overrides.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
    for (String k : settings.stringPropertyNames()) {
      if (!k.startsWith("oppu.")) {
        overrides.put(k, settings.getProperty(k));
      }
    }
    KafkaStreams streams = new KafkaStreams(StreamsApp.topology(topics, ingest, serving, generator,
        new AdapterCache(serving.cacheMaxAdapters(), serving.cacheMaxBytes()), GivenProfiles.none()),
        StreamsApp.config(appId, client.bootstrapServers(), serving, overrides));
    AtomicReference<Throwable> streamsFailure = new AtomicReference<>();
    streams.setUncaughtExceptionHandler(e -> {
      streamsFailure.set(e);
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
          .SHUTDOWN_CLIENT;
    });
    streams.start();
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    while (streams.state() != KafkaStreams.State.RUNNING) {
      if (streamsFailure.get() != null || streams.state() == KafkaStreams.State.ERROR
          || System.nanoTime() > deadline) {
        streams.close(Duration.ofSeconds(10));
        throw new IllegalStateException("the streams application did not start: "
            + (streamsFailure.get() == null ? streams.state() : streamsFailure.get().getMessage()));
      }
      Thread.sleep(50);
    }
    return streams;
  }

  /** Restarts the streams application with new settings; its state stays in the local stores and changelogs. */
  @Override
  public boolean restartStreams(Properties settings) throws Exception {
    streams.close(Duration.ofSeconds(30));
    streams = startStreams(client, topics, settings, generator, work);
    return true;
  }

  private static String shortFp(String fp) {
    return fp == null ? "none" : fp.length() > 12 ? fp.substring(0, 12) : fp;
  }

  @Override
  public String modelDescription() {
    return description;
  }

  @Override
  public List<String> setup() {
    List<String> out = new ArrayList<>(setup);
    TrainerService.Stats s = trainer.stats();
    out.add(String.format(Locale.ROOT, "trainer so far: %d adapters published, %d refused, %d failed",
        s.published.get(), s.rejected.get(), s.failed.get()));
    if (trainerFailure.get() != null) {
      out.add("the trainer service stopped: " + trainerFailure.get());
    }
    return out;
  }

  public TrainerService.Stats trainerStats() {
    return trainer.stats();
  }

  @Override
  public void close() throws Exception {
    trainer.close();
    trainerThread.join(30_000);
    streams.close(Duration.ofSeconds(30));
    generator.close();
    tokenizer.close();
    trainModels.close();
    serveModels.close();
  }
}
