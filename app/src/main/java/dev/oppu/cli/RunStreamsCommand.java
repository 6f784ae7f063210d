package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.lamp.Task;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.StreamsApp;
import dev.oppu.system.OppuSystem;
import dev.oppu.system.ServingModels;
import dev.oppu.system.StreamsApplication;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.streams.KafkaStreams;
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

  @Mixin
  ModelOptions model = new ModelOptions();

  @Mixin
  DeviceOptions device = new DeviceOptions();

  @Option(names = "--tasks", split = ",", paramLabel = "TASK",
      description = "Tasks to serve (default: all seven); each served task holds a copy of the model in memory.")
  List<String> tasks;

  @Mixin
  ServingOptions serving = new ServingOptions();

  @Option(names = "--application-id", defaultValue = StreamsApp.APPLICATION_ID,
      description = "Kafka Streams application id (default: ${DEFAULT-VALUE}).")
  String applicationId;

  @Option(names = "--state-dir", paramLabel = "DIR",
      description = "Where RocksDB state lives (default: Kafka Streams' default under java.io.tmpdir).")
  Path stateDir;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "" + TopicAdmin.DEFAULT_PARTITIONS,
      description = "Partitions of topics it has to create (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Mixin
  AdapterStoreOptions adapterStore = new AdapterStoreOptions();

  @Option(names = "--no-create-topics", description = "Do not create missing oppu topics first.")
  boolean noCreateTopics;

  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  private final CountDownLatch stopped = new CountDownLatch(1);

  /** Stops a running {@link #call()} as Ctrl-C would (for callers that run the command in-process). */
  void stop() {
    stopped.countDown();
  }

  /**
   * The system this command runs: its options over the {@code oppu.*} settings (-X, --kafka-config), the defaults
   * written in {@link OppuSystem} and {@code ServingConfig} (constrained decoding of label tasks; ingestion trains
   * the variant the default mode serves unless {@code oppu.ingest.variants} says otherwise). Creates missing topics
   * unless {@code --no-create-topics}.
   */
  OppuSystem system(ClientConfig client) {
    Set<Task> served = EnumSet.allOf(Task.class);
    if (tasks != null && !tasks.isEmpty()) {
      served = EnumSet.copyOf(Task.list(tasks));
    }
    return OppuSystem.builder(client)
        .models(model.with(device))
        .tasks(served)
        .adapterStore(adapterStore.given())
        .serving(serving::apply)
        .generation(serving.sampling()
            ? new ModelBatchGenerator.Options(0.1, 10, 0.9, System.nanoTime(),
                ModelBatchGenerator.Options.SCORE_BATCH)
            : ModelBatchGenerator.Options.greedy())
        .applicationId(applicationId)
        .stateDir(stateDir)
        .ensureTopics(noCreateTopics ? 0 : partitions)
        .build();
  }

  @Override
  public Integer call() throws Exception {
    device.check(); // refuse a device or dtype that cannot run before anything starts
    PrintWriter out = spec.commandLine().getOut();
    ClientConfig client = kafka.clientConfig();
    OppuSystem system = system(client);
    Set<Task> servedTasks = system.tasks();
    try (ServingModels models = system.loadServingModels();
        StreamsApplication app = system.streams(models)) {
      KafkaStreams streams = app.kafkaStreams();
      CountDownLatch stopped = this.stopped;
      streams.setStateListener((now, before) -> {
        if (now == KafkaStreams.State.RUNNING) {
          out.printf("oppu streams: running (application %s, bootstrap %s, model %s, task adapters %s, default mode"
                  + " %s, training variants %s, batch <= %d / %d ms, tasks %s)%n", applicationId,
              client.bootstrapServers(), system.models().model(), system.models().taskAdapters() == null ? "none"
                  : system.models().taskAdapters(), system.serving().defaultMode(), system.ingest().variants(),
              system.serving().maxBatch(), system.serving().maxWaitMs(), servedTasks);
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
      app.start();
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
}
