package dev.oppu.evaluation.demo;

import dev.oppu.broker.ClientConfig;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.ServingConfig;
import dev.oppu.streams.IngestConfig;
import dev.oppu.system.OppuSystem;
import dev.oppu.system.ServingModels;
import dev.oppu.system.StreamsApplication;
import dev.oppu.system.TrainerPart;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.service.TrainerService;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.kafka.streams.StreamsConfig;

/**
 * The real services in this JVM, assembled by {@link OppuSystem} as {@code oppu run streams} and {@code oppu run
 * trainer} assemble them: the streams application (ingestion + serving) and the trainer service on its own thread,
 * both talking to the cluster only through Kafka. Serving and training each load their own copy of the task models
 * (base + merged task adapter), as separate processes would; state and the adapter store live in the work folder.
 */
public final class InProcessSystem implements DemoSystem {

  /**
   * @param modelDir base model (Hugging Face layout: config.json, model.safetensors, tokenizer.json)
   * @param taskAdapters folder with one PEFT task adapter per task id (null: the bare base)
   */
  public record Models(Path modelDir, Path taskAdapters, String description, String device) {
    OppuSystem.Models system() {
      return new OppuSystem.Models(modelDir, taskAdapters, device);
    }
  }

  private final String description;
  private final List<String> setup;
  private OppuSystem system;
  private final ServingModels served;
  private volatile StreamsApplication streams;
  private final TrainerPart trainer;

  private InProcessSystem(String description, List<String> setup, OppuSystem system, ServingModels served,
      StreamsApplication streams, TrainerPart trainer) {
    this.description = description;
    this.setup = setup;
    this.system = system;
    this.served = served;
    this.streams = streams;
    this.trainer = trainer;
  }

  /** A launcher for the given models and per-user training settings. */
  public static DemoSystem.Launcher launcher(Models models, UserAdapterUpdater.Settings userTraining) {
    return (client, topics, settings, trainUsers, work, progress) ->
        start(models, userTraining, client, topics, settings, List.copyOf(trainUsers.keySet()), work);
  }

  static InProcessSystem start(Models m, UserAdapterUpdater.Settings userTraining, ClientConfig client,
      Topics topics, Properties settings, List<Task> tasks, Path work) throws Exception {
    Files.createDirectories(work);
    OppuSystem system = OppuSystem.builder(client)
        .topics(topics)
        .settings(settings)
        .models(m.system())
        .tasks(tasks.isEmpty() ? EnumSet.noneOf(Task.class) : EnumSet.copyOf(tasks))
        .adapterStore(work.resolve("adapter-store"))
        .stateDir(work.resolve("streams-state"))
        .streamsProperty(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100")
        .userTraining(userTraining)
        .build();
    ServingModels served = system.loadServingModels();
    TrainerPart trainer = null;
    StreamsApplication streams = null;
    try {
      trainer = system.trainer();
      List<String> setup = new ArrayList<>();
      for (Task t : tasks) {
        ModelBatchGenerator.TaskModel tm = served.load(t);
        trainer.models().get(t.id()); // load before the clock of the replay starts
        setup.add(String.format(Locale.ROOT, "%s task model: base %s, task adapter %s", t.id(),
            shortFp(tm.baseFingerprint()), shortFp(tm.taskFingerprint())));
      }
      IngestConfig ingest = system.ingest();
      ServingConfig serving = system.serving();
      setup.add(String.format(Locale.ROOT, "ingestion: variants %s, first training at %d items, retraining after %d"
          + " new items or a shift; serving: greedy, %s, max batch %d, at most %d new tokens", ingest.variants(),
          ingest.firstMinItems(), ingest.newItemsMax(), serving.constrained()
              ? "label tasks answer with the most likely label of their list (constrained decoding)"
              : "free generation for every task", serving.maxBatch(), serving.maxNewTokens()));
      setup.add(String.format(Locale.ROOT, "per-user training: LoRA r=%d alpha=%.0f on %s, %s, replaying at most %d"
          + " older items", userTraining.lora().r(), userTraining.lora().alpha(), userTraining.lora().targetModules(),
          userTraining.training().describe(), userTraining.maxReplay()));
      streams = system.streams(served).start().awaitRunning(Duration.ofMinutes(2));
      trainer.startThread();
      return new InProcessSystem(m.description(), setup, system, served, streams, trainer);
    } catch (Exception | Error e) {
      if (trainer != null) {
        trainer.close();
      }
      served.close();
      throw e;
    }
  }

  /** Restarts the streams application with new settings; its state stays in the local stores and changelogs. */
  @Override
  public boolean restartStreams(Properties settings) throws Exception {
    streams.close(Duration.ofSeconds(30));
    system = system.withSettings(settings);
    streams = system.streams(served).start().awaitRunning(Duration.ofMinutes(2));
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
    if (trainer.failure() != null) {
      out.add("the trainer service stopped: " + trainer.failure());
    }
    return out;
  }

  public TrainerService.Stats trainerStats() {
    return trainer.stats();
  }

  @Override
  public void close() throws Exception {
    trainer.stop();
    streams.close(Duration.ofSeconds(30));
    served.close();
    trainer.close();
  }
}
