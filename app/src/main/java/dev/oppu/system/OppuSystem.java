package dev.oppu.system;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.lamp.Task;
import dev.oppu.model.TaskModels;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.GivenProfiles;
import dev.oppu.serving.Mode;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.ServingConfig;
import dev.oppu.serving.StreamsApp;
import dev.oppu.streams.IngestConfig;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.service.TrainerService;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;

/**
 * The running system, assembled in one place: the Kafka client settings and topics, the Kafka Streams application
 * (ingestion + serving, {@link StreamsApp}) with the models it serves, and the trainer service with the models it
 * trains on. {@code oppu run streams}, {@code oppu run trainer}, the demo, replay and the benchmarks all start the
 * system through this class, so its defaults are written here once:
 * <ul>
 *   <li>model {@value #DEFAULT_MODEL} with its task adapters at {@code <model>/}{@value #TASK_ADAPTERS} (trainer and
 *       serving read the same folder, so serving accepts what the trainer trains), device {@value #DEFAULT_DEVICE};
 *   <li>the adapter store ({@code oppu.adapter.store}, default {@value #DEFAULT_ADAPTER_STORE}), one for both parts;
 *   <li>the adapter variants ingestion triggers training for: {@code oppu.ingest.variants}, by default the variant
 *       the default serving mode reads (OPPU+RAG: {@code rag}), so a request that names no mode uses what was trained;
 *   <li>the adapters-by-user repartition as many partitions as the user-keyed topics;
 *   <li>Streams' internal topics replicated as the registry's ({@code oppu.topic.replication.factor},
 *       {@code oppu.topic.min.insync.replicas}; unset: the broker's defaults).
 * </ul>
 *
 * <pre>
 * OppuSystem system = OppuSystem.builder(client).models(Models.of(dir)).ensureTopics(4).build();
 * try (ServingModels served = system.loadServingModels(); StreamsApplication app = system.streams(served).start();
 *     TrainerPart trainer = system.trainer()) { trainer.startThread(); ... }
 * </pre>
 */
public final class OppuSystem {
  public static final String DEFAULT_MODEL = "models/default";
  /** Folder of a model's task adapters, {@code <model>/task-adapters/<LaMP id>/}, as {@code adapt-task} writes. */
  public static final String TASK_ADAPTERS = "task-adapters";
  public static final String DEFAULT_DEVICE = "auto";
  /** The precision models compute in; the only one that runs (see {@code DeviceOptions}). */
  public static final String DEFAULT_DTYPE = "float32";
  public static final String DEFAULT_ADAPTER_STORE = ServingConfig.DEFAULT_ADAPTER_STORE;
  public static final long DEFAULT_SEED = 42;

  /**
   * The model both parts run.
   *
   * @param taskAdapters folder of PEFT task adapters per task id; null: every task on the bare base
   * @param device {@code auto}, {@code cpu} or {@code gpu}
   */
  public record Models(Path model, Path taskAdapters, String device) {
    public Models {
      Objects.requireNonNull(model, "model");
      device = device == null ? DEFAULT_DEVICE : device;
    }

    /** {@code model} with its own task adapters (when it has them), on the default device. */
    public static Models of(Path model) {
      return new Models(model, OppuSystem.taskAdapters(model, null), DEFAULT_DEVICE);
    }
  }

  /** The task adapters folder: {@code given}, else {@code <model>/task-adapters} when it exists, else null. */
  public static Path taskAdapters(Path model, Path given) {
    if (given != null) {
      return given;
    }
    Path own = model.resolve(TASK_ADAPTERS);
    return Files.isDirectory(own) ? own : null;
  }

  /** The adapter store: {@code given}, else the {@code oppu.adapter.store} setting, else the default. */
  public static Path adapterStore(Path given, Properties settings) {
    if (given != null) {
      return given;
    }
    return Path.of(settings.getProperty(ServingConfig.ADAPTER_STORE, DEFAULT_ADAPTER_STORE));
  }

  /** The variant a mode's requests are answered with; {@code plain} for modes without a user adapter. */
  public static String trainedVariant(Mode mode) {
    return mode.variant() != null ? mode.variant() : "plain";
  }

  private final Builder b;
  private final Properties settings;
  private final ServingConfig serving;
  private final IngestConfig ingest;

  private OppuSystem(Builder b, Properties settings, ServingConfig serving, IngestConfig ingest) {
    this.b = b;
    this.settings = settings;
    this.serving = serving;
    this.ingest = ingest;
  }

  public static Builder builder(ClientConfig client) {
    return new Builder(client);
  }

  public ClientConfig client() {
    return b.client;
  }

  public Topics topics() {
    return b.topics;
  }

  public Models models() {
    return b.models;
  }

  public ServingConfig serving() {
    return serving;
  }

  public IngestConfig ingest() {
    return ingest;
  }

  public String applicationId() {
    return b.applicationId;
  }

  public Set<Task> tasks() {
    return b.tasks;
  }

  public UserAdapterUpdater.Settings userTraining() {
    return b.userTraining;
  }

  /** The same system with other {@code oppu.*} settings (e.g. to restart the streams application reconfigured). */
  public OppuSystem withSettings(Properties settings) {
    Builder copy = b.copy();
    copy.settings = new Properties();
    copy.settings.putAll(settings);
    copy.ensurePartitions = 0;
    copy.topicPartitions = b.topicPartitions;
    return copy.build();
  }

  /** Serving's copy of the task models and the batch generator over them (shareable by several applications). */
  public ServingModels loadServingModels() throws IOException {
    return ServingModels.load(b.models, b.tasks, b.generation, serving.adapterStore());
  }

  /** The Kafka Streams application (ingestion + serving) on {@code served}, not started. */
  public StreamsApplication streams(ServingModels served) throws IOException {
    Properties overrides = b.client.streams(b.applicationId);
    if (b.stateDir != null) {
      overrides.put(StreamsConfig.STATE_DIR_CONFIG, b.stateDir.toString());
    }
    overrides.putAll(dev.oppu.streams.RefusedRecordHandler.settings(b.topics, ingest.limits()));
    // changelogs and repartition topics replicated as the registry's topics (oppu.topic.replication.factor, ...)
    overrides.putAll(TopicAdmin.streamsReplication(settings));
    overrides.putAll(b.streamsProperties);
    for (String k : b.settings.stringPropertyNames()) {
      if (!k.startsWith("oppu.")) {
        overrides.put(k, b.settings.getProperty(k));
      }
    }
    return StreamsApplication.of(b.topics, ingest, serving, served, GivenProfiles.from(settings),
        StreamsApp.config(b.applicationId, b.client.bootstrapServers(), serving, overrides));
  }

  /** The trainer service with its own copy of the task models; run it with {@link TrainerPart#run()}. */
  public TrainerPart trainer() throws IOException {
    TaskModels models = new TaskModels(b.models.model(), b.models.taskAdapters(),
        TaskModels.device(b.models.device()));
    TrainerService service = new TrainerService(b.client, b.topics, models, b.userTraining,
        new TrainerService.Settings(TrainerService.GROUP_ID, "oppu-trainer-" + b.trainerInstance, b.inlineLimit,
            serving.adapterStore(), null, serving.limits(), TrainerService.batchUsers(settings)));
    return new TrainerPart(models, service);
  }

  /**
   * A Kafka Streams application of another topology (benchmarks' baselines and ingestion-only runs): every Kafka
   * Streams instance this program runs is made here.
   */
  public static KafkaStreams application(Topology topology, Properties config) {
    return new KafkaStreams(topology, config);
  }

  /** How to build the system; every setting has the default above. */
  public static final class Builder {
    private final ClientConfig client;
    private Topics topics;
    private Properties settings = new Properties();
    private Models models = Models.of(Path.of(DEFAULT_MODEL));
    private Set<Task> tasks = EnumSet.allOf(Task.class);
    private Path adapterStore;
    private UnaryOperator<ServingConfig> servingOverrides = UnaryOperator.identity();
    private ModelBatchGenerator.Options generation = ModelBatchGenerator.Options.greedy();
    private String applicationId = StreamsApp.APPLICATION_ID;
    private Path stateDir;
    private Properties streamsProperties = new Properties();
    private int ensurePartitions;
    private int topicPartitions;
    private UserAdapterUpdater.Settings userTraining = TrainerDefaults.user();
    private String trainerInstance = "0";
    private int inlineLimit = AdapterPayload.DEFAULT_INLINE_LIMIT;

    private Builder(ClientConfig client) {
      this.client = client;
    }

    private Builder copy() {
      Builder c = new Builder(client);
      c.topics = topics;
      c.settings = settings;
      c.models = models;
      c.tasks = tasks;
      c.adapterStore = adapterStore;
      c.servingOverrides = servingOverrides;
      c.generation = generation;
      c.applicationId = applicationId;
      c.stateDir = stateDir;
      c.streamsProperties = streamsProperties;
      c.ensurePartitions = ensurePartitions;
      c.topicPartitions = topicPartitions;
      c.userTraining = userTraining;
      c.trainerInstance = trainerInstance;
      c.inlineLimit = inlineLimit;
      return c;
    }

    /** Topic names (default: from the client's {@code oppu.topic.<key>} settings). */
    public Builder topics(Topics t) {
      this.topics = t;
      return this;
    }

    /**
     * {@code oppu.*} settings (ingestion, serving, profiles, adapter store) over the client's own; other keys are
     * Kafka Streams settings of the application (e.g. {@code num.stream.threads}).
     */
    public Builder settings(Properties s) {
      this.settings = new Properties();
      this.settings.putAll(s);
      return this;
    }

    public Builder models(Models m) {
      this.models = m;
      return this;
    }

    /** Tasks served (default: all seven); each served task holds a copy of the model. */
    public Builder tasks(Set<Task> t) {
      this.tasks = t.isEmpty() ? EnumSet.noneOf(Task.class) : EnumSet.copyOf(t);
      return this;
    }

    /** The adapter store (null: {@code oppu.adapter.store}, else {@value #DEFAULT_ADAPTER_STORE}). */
    public Builder adapterStore(Path store) {
      this.adapterStore = store;
      return this;
    }

    /** Changes to the serving configuration read from the settings (command-line options, a bench's settings). */
    public Builder serving(UnaryOperator<ServingConfig> overrides) {
      this.servingOverrides = overrides;
      return this;
    }

    public Builder generation(ModelBatchGenerator.Options o) {
      this.generation = o;
      return this;
    }

    public Builder applicationId(String id) {
      this.applicationId = id;
      return this;
    }

    /** Where the application's RocksDB state lives (default: Kafka Streams' default). */
    public Builder stateDir(Path dir) {
      this.stateDir = dir;
      return this;
    }

    /** One Kafka Streams setting of the application (before the non-{@code oppu.*} keys of the settings). */
    public Builder streamsProperty(String key, String value) {
      this.streamsProperties.setProperty(key, value);
      return this;
    }

    /** Creates missing topics with {@code partitions} when building (0: leave the topics as they are). */
    public Builder ensureTopics(int partitions) {
      this.ensurePartitions = partitions;
      return this;
    }

    /** The per-user training recipe (default: {@link TrainerDefaults#user()}). */
    public Builder userTraining(UserAdapterUpdater.Settings s) {
      this.userTraining = s;
      return this;
    }

    /** The trainer's instance id: its transactional id is {@code oppu-trainer-<id>} (default 0). */
    public Builder trainerInstance(String id) {
      this.trainerInstance = id;
      return this;
    }

    /** Largest adapter sent inline in its record; larger ones go through the adapter store. */
    public Builder inlineLimit(int bytes) {
      this.inlineLimit = bytes;
      return this;
    }

    /** Ensures the topics (when asked) and derives the serving and ingestion configurations. */
    public OppuSystem build() {
      Properties all = client.raw();
      all.putAll(settings);
      if (topics == null) {
        topics = Topics.from(all);
      }
      if (ensurePartitions > 0) {
        topicPartitions = TopicAdmin.ensureTopics(client.raw(), topics, ensurePartitions).partitions()
            .getOrDefault(topics.behaviors.name(), 0);
      }
      ServingConfig serving = servingOverrides.apply(
          ServingConfig.from(all).withAdapterStore(OppuSystem.adapterStore(adapterStore, all)));
      IngestConfig ingest = IngestConfig.from(all);
      if (!all.containsKey(IngestConfig.PREFIX + "variants")) {
        ingest = ingest.withVariants(List.of(trainedVariant(serving.defaultMode())));
      }
      if (ingest.adapterPartitions() == 0 && topicPartitions > 0) {
        ingest = ingest.withAdapterPartitions(topicPartitions); // adapters-by-user must match the user-keyed topics
      }
      return new OppuSystem(this, all, serving, ingest);
    }
  }
}
