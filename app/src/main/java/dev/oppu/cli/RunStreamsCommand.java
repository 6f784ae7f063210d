package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.AdapterCache;
import dev.oppu.serving.GivenProfiles;
import dev.oppu.serving.Mode;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.ServingConfig;
import dev.oppu.serving.StreamsApp;
import dev.oppu.serving.TaskModelDirectory;
import dev.oppu.streams.IngestConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code oppu run streams}: ingestion and serving in one Kafka Streams application, until Ctrl-C. */
@Command(name = "streams", mixinStandardHelpOptions = true, sortOptions = false,
    description = {
        "Runs one Kafka Streams application holding the ingestion and the serving sub-topologies, co-partitioned by "
            + "user: behaviors become each user's history, BM25 index and train triggers; requests are answered "
            + "from the user's local history, profile and latest adapter, in mixed-adapter micro-batches, "
            + "exactly once (exactly_once_v2). Scale out with more partitions and more instances.",
        "Settings: oppu.serving.* (mode, k, batch.max, batch.wait.ms, max.new.tokens, constrained, cache.adapters, "
            + "cache.bytes, profiles.<task>=FILE ...) and oppu.ingest.* keys, in --kafka-config or with -X; the "
            + "options below override them.",
        ""})
public final class RunStreamsCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR",
      description = "Base model checkpoint directory (config.json, model.safetensors, tokenizer.json).")
  Path model;

  @Option(names = "--task-adapters", paramLabel = "DIR",
      description = "Task adapters in PEFT layout at DIR/<LaMP id>/ (merged into the base per task); a task "
          + "without one is served by the bare base.")
  Path taskAdapters;

  @Option(names = "--tasks", split = ",", paramLabel = "TASK",
      description = "Tasks to serve (default: all seven); each served task holds a copy of the model in memory.")
  List<String> tasks;

  @Option(names = "--mode", paramLabel = "MODE",
      description = "Default mode of requests that name none: non-personalized, RAG, PAG, OPPU, OPPU+RAG, OPPU+PAG "
          + "(default: OPPU+RAG).")
  String mode;

  @Option(names = "--batch-max", paramLabel = "N", description = "Most requests decoded in one batch (default 16).")
  Integer batchMax;

  @Option(names = "--batch-wait-ms", paramLabel = "MS",
      description = "Longest a request waits for its batch to fill (default 20).")
  Long batchWaitMs;

  @Option(names = "--max-new-tokens", paramLabel = "N", description = "Generation budget per answer (default 32).")
  Integer maxNewTokens;

  @Option(names = "--constrained", negatable = true,
      description = "Label tasks (LaMP_1, LaMP_2N, LaMP_2M, LaMP_3) answer with their most likely label.")
  Boolean constrained;

  @Option(names = "--sampling",
      description = "Sample as OPPU does (temperature 0.1, top-k 10, top-p 0.9) instead of greedy decoding.")
  boolean sampling;

  @Option(names = "--application-id", defaultValue = StreamsApp.APPLICATION_ID,
      description = "Kafka Streams application id (default: ${DEFAULT-VALUE}).")
  String applicationId;

  @Option(names = "--state-dir", paramLabel = "DIR",
      description = "Where RocksDB state lives (default: Kafka Streams' default under java.io.tmpdir).")
  Path stateDir;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "" + TopicAdmin.DEFAULT_PARTITIONS,
      description = "Partitions of topics it has to create (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--adapter-store", defaultValue = ServingConfig.DEFAULT_ADAPTER_STORE, paramLabel = "DIR",
      description = "The trainer's store of adapters too large to inline (its --adapter-store): adapter records may"
          + " only point into it; others are dead-lettered (default: ${DEFAULT-VALUE}).")
  Path adapterStore;

  @Option(names = "--no-create-topics", description = "Do not create missing oppu topics first.")
  boolean noCreateTopics;

  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  private final CountDownLatch stopped = new CountDownLatch(1);

  /** Stops a running {@link #call()} as Ctrl-C would (for callers that run the command in-process). */
  void stop() {
    stopped.countDown();
  }

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    ClientConfig client = kafka.clientConfig();
    Properties settings = client.raw();
    Topics topics = Topics.from(settings);
    ServingConfig serving = servingConfig(settings);
    IngestConfig ingest = IngestConfig.from(settings);
    int topicPartitions = noCreateTopics ? 0
        : TopicAdmin.ensureTopics(settings, topics, partitions).partitions().getOrDefault(topics.behaviors.name(), 0);
    if (ingest.adapterPartitions() == 0 && topicPartitions > 0) {
      ingest = ingest.withAdapterPartitions(topicPartitions); // adapters-by-user must match the user-keyed topics
    }
    Set<Task> served = EnumSet.allOf(Task.class);
    if (tasks != null && !tasks.isEmpty()) {
      served = EnumSet.noneOf(Task.class);
      for (String t : tasks) {
        served.add(Task.of(t));
      }
    }
    GivenProfiles profiles = GivenProfiles.from(settings);
    Set<Task> servedTasks = served;
    ModelBatchGenerator.Options gen = sampling
        ? new ModelBatchGenerator.Options(0.1, 10, 0.9, System.nanoTime(), 64) : ModelBatchGenerator.Options.greedy();

    Properties overrides = client.streams(applicationId);
    if (stateDir != null) {
      overrides.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    }
    try (TaskModelDirectory models = new TaskModelDirectory(model, taskAdapters, servedTasks);
        AdapterCache cache = new AdapterCache(serving.cacheMaxAdapters(), serving.cacheMaxBytes())) {
      ModelBatchGenerator generator = new ModelBatchGenerator(models::get, models.tokenizer(), gen,
          serving.adapterStore());
      KafkaStreams streams = new KafkaStreams(
          StreamsApp.topology(topics, ingest, serving, generator, cache, profiles),
          StreamsApp.config(applicationId, client.bootstrapServers(), serving, overrides));
      CountDownLatch stopped = this.stopped;
      streams.setStateListener((now, before) -> {
        if (now == KafkaStreams.State.RUNNING) {
          out.printf("oppu streams: running (application %s, bootstrap %s, default mode %s, batch <= %d / %d ms,"
                  + " tasks %s)%n", applicationId, client.bootstrapServers(), serving.defaultMode(), serving.maxBatch(),
              serving.maxWaitMs(), servedTasks);
          out.flush();
        } else if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
          stopped.countDown();
        }
      });
      Thread hook = new Thread(() -> {
        streams.close();
        stopped.countDown();
      }, "oppu-streams-shutdown");
      Runtime.getRuntime().addShutdownHook(hook);
      streams.start();
      stopped.await();
      streams.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is what stopped us
      }
      return streams.state() == KafkaStreams.State.ERROR ? 1 : 0;
    }
  }

  private ServingConfig servingConfig(Properties settings) {
    ServingConfig c = ServingConfig.from(settings);
    if (!settings.containsKey(ServingConfig.ADAPTER_STORE)) {
      c = c.withAdapterStore(adapterStore);
    }
    if (mode != null) {
      c = c.withDefaultMode(Mode.of(mode));
    }
    if (batchMax != null) {
      c = c.withMaxBatch(batchMax);
    }
    if (batchWaitMs != null) {
      c = c.withMaxWaitMs(batchWaitMs);
    }
    if (maxNewTokens != null) {
      c = c.withMaxNewTokens(maxNewTokens);
    }
    if (constrained != null) {
      c = c.withConstrained(constrained);
    }
    return c;
  }
}
