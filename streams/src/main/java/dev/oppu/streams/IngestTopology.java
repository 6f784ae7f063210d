package dev.oppu.streams;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.schemas.UserCommand;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The ingestion sub-topology: behaviors keyed by user id become a bounded per-(user, task) history (logged RocksDB
 * store), an incrementally maintained BM25 index of it (unlogged RocksDB stores, rebuilt from the history on restore),
 * and train triggers when a user's behavior shifts. Train results and adapter versions flow back in to clear pending
 * triggers and record what each adapter was trained on. The serving sub-topology joins the same application and
 * reads these stores through {@link Bm25Retriever} (connect its processor to {@link StoreNames#RETRIEVAL_STORES}).
 *
 * <p>{@link #build} is the ingestion application alone; the {@code run streams} application puts the same building
 * blocks ({@link #addStores}, {@link #source}, {@link Adapters}, {@link #ingest} and the sinks) together with
 * serving's.
 */
public final class IngestTopology {
  private IngestTopology() {}

  // Aliases of StoreNames for the app code that still reads them here.

  private static final String[] CORE_STORES = {StoreNames.HISTORY_STORE, StoreNames.HISTORY_META_STORE,
      StoreNames.POSTINGS_STORE, StoreNames.INDEX_STATS_STORE, StoreNames.TRAIN_STATE_STORE,
      StoreNames.USER_DELETIONS_STORE};
  private static final String[] CORE_STORES_AND_DEDUP = concat(CORE_STORES, StoreNames.DEDUP_STORE);
  private static final String[] BEHAVIOR_STORES = concat(CORE_STORES_AND_DEDUP, StoreNames.TRIGGER_DUE_STORE);

  public static final String METRIC_GROUP_SCOPE = "oppu-ingest";
  public static final String METRIC_DUPLICATES = "duplicate-events";
  public static final String METRIC_DEAD_LETTERS = "dead-letters";
  public static final String METRIC_TRIGGERS = "train-triggers";

  /** The ingestion application alone (the {@code run streams} application adds serving: see StreamsApp). */
  public static Topology build(Topics t, IngestConfig c) {
    StreamsBuilder b = new StreamsBuilder();
    addStores(b, c);

    // Sources.
    KStream<byte[], byte[]> behaviors = source(b, t.behaviors, "oppu-behaviors");
    KStream<byte[], byte[]> trainResults = source(b, t.trainResults, "oppu-train-results");
    KStream<byte[], byte[]> adapterRecords = source(b, t.adapters, "oppu-adapters");
    KStream<byte[], byte[]> userCommands = source(b, t.userCommands, "oppu-user-commands");

    // Adapters: checked (ingestion never reads weights), repartitioned by user.
    Adapters.Checked adapters = Adapters.check(adapterRecords, t, c.limits(), Adapters.WeightsCheck.NONE);
    KStream<String, AdapterVersion> adaptersByUser = Adapters.byUser(adapters.valid(), t, c.adapterPartitions());

    Ingested ingested = ingest(t, c, behaviors, trainResults, adaptersByUser, userCommands);

    // Sinks (the user commands ingestion applied go nowhere else here).
    toTrainTriggers(ingested.triggers(), t);
    toAdapterTombstones(ingested.deletedAdapters(), t);
    toDeadLetters(t, c.limits(), List.of(adapters.refused(), ingested.deadLetters()));
    return b.build();
  }

  /** Adds the ingestion stores to {@code b}. */
  public static void addStores(StreamsBuilder b, IngestConfig c) {
    for (StoreBuilder<?> s : storeBuilders(c)) {
      b.addStateStore(s);
    }
  }

  /**
   * A topic read as bytes: the processors decode inside, so a poison record becomes a dead letter instead of stopping
   * the application. A topology subscribes each topic once.
   */
  public static KStream<byte[], byte[]> source(StreamsBuilder b, Topics.Topic<?, ?> topic, String name) {
    return b.stream(topic.name(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName(name));
  }

  /**
   * What ingestion sends on, by kind.
   *
   * @param triggers         train triggers, for the trainer
   * @param deadLetters      refused behaviors, train results and user commands
   * @param deletedAdapters  adapters to tombstone (a deleted user's, or a fenced training's), keyed by user
   * @param appliedCommands  every valid user command after ingestion applied it (serving drops the user's requests
   *                         and adapters in the same task)
   */
  public record Ingested(KStream<String, TrainTrigger> triggers, KStream<String, DeadLetter> deadLetters,
      KStream<String, AdapterVersion> deletedAdapters, KStream<String, UserCommand> appliedCommands) {}

  /**
   * Ingestion over the stores of {@link #addStores}: behaviors, train results, adapters (already by user: see
   * {@link Adapters}) and user commands, each through its processor, then split by what comes out.
   */
  public static Ingested ingest(Topics t, IngestConfig c, KStream<byte[], byte[]> behaviors,
      KStream<byte[], byte[]> trainResults, KStream<String, AdapterVersion> adaptersByUser,
      KStream<byte[], byte[]> userCommands) {
    AvroSerde<Behavior> behaviorSerde = (AvroSerde<Behavior>) t.behaviors.valueSerde();
    AvroSerde<TrainResult> resultSerde = (AvroSerde<TrainResult>) t.trainResults.valueSerde();
    AvroSerde<UserCommand> commandSerde = (AvroSerde<UserCommand>) t.userCommands.valueSerde();

    KStream<String, SpecificRecord> fromBehaviors = behaviors.process(() -> new BehaviorProcessor(behaviorSerde, c),
        Named.as("oppu-ingest-behaviors"), BEHAVIOR_STORES);
    KStream<String, SpecificRecord> fromResults = trainResults.process(() -> new TrainResultProcessor(resultSerde, c),
        Named.as("oppu-ingest-train-results"), CORE_STORES);
    KStream<String, SpecificRecord> fromAdapters = adaptersByUser.process(() -> new AdapterProcessors.Apply(c),
        Named.as("oppu-ingest-adapters"), CORE_STORES);
    KStream<String, SpecificRecord> fromCommands = userCommands.process(
        () -> new UserCommandProcessor(commandSerde, c), Named.as("oppu-ingest-user-commands"), CORE_STORES_AND_DEDUP);

    Map<String, KStream<String, SpecificRecord>> out = fromBehaviors
        .merge(fromResults, Named.as("oppu-ingest-merge-results"))
        .merge(fromCommands, Named.as("oppu-ingest-merge-commands"))
        .merge(fromAdapters, Named.as("oppu-ingest-merge-fenced"))
        .split(Named.as("oppu-ingest-out-"))
        .branch((k, v) -> v instanceof TrainTrigger, Branched.as("triggers"))
        .branch((k, v) -> v instanceof DeadLetter, Branched.as("dead"))
        .branch((k, v) -> v instanceof AdapterVersion, Branched.as("deleted-adapters"))
        .branch((k, v) -> v instanceof UserCommand, Branched.as("commands"))
        .noDefaultBranch();
    return new Ingested(
        out.get("oppu-ingest-out-triggers").mapValues(v -> (TrainTrigger) v, Named.as("oppu-triggers-cast")),
        out.get("oppu-ingest-out-dead").mapValues(v -> (DeadLetter) v, Named.as("oppu-dead-letters-cast")),
        out.get("oppu-ingest-out-deleted-adapters").mapValues(v -> (AdapterVersion) v,
            Named.as("oppu-deleted-adapters-cast")),
        out.get("oppu-ingest-out-commands").mapValues(v -> (UserCommand) v, Named.as("oppu-user-commands-applied")));
  }

  /** Sink: train triggers to their topic. */
  public static void toTrainTriggers(KStream<String, TrainTrigger> triggers, Topics t) {
    triggers.to(t.trainTriggers.name(), Produced.with(t.trainTriggers.keySerde(), t.trainTriggers.valueSerde())
        .withName("oppu-train-triggers"));
  }

  /** Sink: deleted adapters leave as tombstones of their compacted key in the adapters topic. */
  public static void toAdapterTombstones(KStream<String, AdapterVersion> deleted, Topics t) {
    deleted.map((k, a) -> KeyValue.<String, AdapterVersion>pair(Topics.adapterKey(a.getUserId(), a.getTask(),
            a.getVariant()), null), Named.as("oppu-adapter-tombstones"))
        .to(t.adapters.name(), Produced.with(t.adapters.keySerde(), t.adapters.valueSerde())
            .withName("oppu-adapters-deleted"));
  }

  /**
   * Sink: every dead letter of the application to the one dead-letters topic, over the output limit refused before
   * the producer (see {@link OutputSizeGuard}).
   */
  public static void toDeadLetters(Topics t, InputLimits limits, List<KStream<String, DeadLetter>> deadLetters) {
    KStream<String, DeadLetter> all = deadLetters.get(0);
    for (int i = 1; i < deadLetters.size(); i++) {
      all = all.merge(deadLetters.get(i), Named.as("oppu-dead-letters-merge-" + i));
    }
    all.to(t.deadLetters.name(), Produced.with(t.deadLetters.keySerde(),
            OutputSizeGuard.guard(t.deadLetters.valueSerde(), limits.maxOutputRecordBytes()))
        .withName("oppu-dead-letters"));
  }

  /** The stores: history, meta, train state and dedup logged; the index unlogged (rebuilt from history). */
  public static List<StoreBuilder<?>> storeBuilders(IngestConfig c) {
    boolean mem = c.inMemoryStores();
    // History and dedup keys are written once each: a cache would only fill up (and slow every lookup) with them.
    StoreBuilder<KeyValueStore<Bytes, byte[]>> history = kv(StoreNames.HISTORY_STORE, mem, false);
    StoreBuilder<KeyValueStore<Bytes, byte[]>> meta = kv(StoreNames.HISTORY_META_STORE, mem, true);
    StoreBuilder<KeyValueStore<Bytes, byte[]>> postings =
        kv(StoreNames.POSTINGS_STORE, mem, true).withLoggingDisabled();
    StoreBuilder<KeyValueStore<Bytes, byte[]>> stats =
        kv(StoreNames.INDEX_STATS_STORE, mem, true).withLoggingDisabled();
    StoreBuilder<KeyValueStore<Bytes, byte[]>> train = kv(StoreNames.TRAIN_STATE_STORE, mem, true);
    StoreBuilder<KeyValueStore<Bytes, byte[]>> dedup = kv(StoreNames.DEDUP_STORE, mem, false);
    // Uncached: written rarely, and expired from a punctuation (no record context).
    StoreBuilder<KeyValueStore<Bytes, byte[]>> deletions = kv(StoreNames.USER_DELETIONS_STORE, mem, false);
    // Uncached: read whole by a wall-clock punctuation.
    StoreBuilder<KeyValueStore<Bytes, byte[]>> due = kv(StoreNames.TRIGGER_DUE_STORE, mem, false);
    return List.of(history, meta, postings, stats, train, dedup, deletions, due);
  }

  private static StoreBuilder<KeyValueStore<Bytes, byte[]>> kv(String name, boolean inMemory, boolean cached) {
    // Caching makes a store write-back: repeated writes of a key between commits (a user's open segment, stats,
    // history range, train state) reach RocksDB and the changelog once per commit; a commit flushes the cache first.
    StoreBuilder<KeyValueStore<Bytes, byte[]>> b = Stores.keyValueStoreBuilder(inMemory
        ? Stores.inMemoryKeyValueStore(name) : Stores.persistentKeyValueStore(name), Serdes.Bytes(), Serdes.ByteArray());
    return cached ? b.withCachingEnabled() : b;
  }

  /**
   * StreamsConfig shared by the whole application: exactly-once v2, bounded RocksDB memory
   * ({@link BoundedRocksDbConfig}), a producer that can send a trigger carrying a
   * full history (the train-triggers topic needs a matching {@code max.message.bytes}), and
   * {@link RefusedRecordHandler} for outputs the broker refuses. {@code overrides} win.
   */
  public static Properties streamsConfig(String applicationId, String bootstrapServers, Properties overrides) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
    p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
    p.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_REQUEST_SIZE_CONFIG), Integer.toString(MAX_TRIGGER_BYTES));
    // Changelogs carry item texts (history) and triggers carry whole histories: text compresses well.
    p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    // all stores share one bounded RocksDB cache + memtable budget (per-store defaults grow with stores and data)
    p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDbConfig.class.getName());
    // an output the broker refuses becomes a dead letter instead of stopping the thread (give it the dead-letters
    // topic with RefusedRecordHandler.settings when the topic names are not the defaults)
    p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, RefusedRecordHandler.class.getName());
    if (overrides != null) {
      p.putAll(overrides);
    }
    return p;
  }

  /** Largest train trigger the producer sends (a full history of long items). */
  public static final int MAX_TRIGGER_BYTES = 16 * 1024 * 1024;

  /** The retrieval stores of a running application, through interactive queries. */
  public static Bm25Retriever.IndexStores queryableStores(org.apache.kafka.streams.KafkaStreams streams) {
    return new Bm25Retriever.IndexStores(iq(streams, StoreNames.POSTINGS_STORE),
        iq(streams, StoreNames.INDEX_STATS_STORE), iq(streams, StoreNames.HISTORY_STORE));
  }

  private static ReadOnlyKeyValueStore<Bytes, byte[]> iq(org.apache.kafka.streams.KafkaStreams s, String name) {
    return s.store(org.apache.kafka.streams.StoreQueryParameters.fromNameAndType(name,
        QueryableStoreTypes.<Bytes, byte[]>keyValueStore()));
  }

  /** The retrieval stores as a processor connected to {@link StoreNames#RETRIEVAL_STORES} sees them. */
  public static Bm25Retriever.IndexStores processorStores(ProcessorContext<?, ?> ctx) {
    return new Bm25Retriever.IndexStores(ctx.getStateStore(StoreNames.POSTINGS_STORE),
        ctx.getStateStore(StoreNames.INDEX_STATS_STORE), ctx.getStateStore(StoreNames.HISTORY_STORE));
  }

  private static String[] concat(String[] a, String b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + 1);
    out[a.length] = b;
    return out;
  }

  static Sensor sensor(ProcessorContext<?, ?> ctx, String taskId, String operation) {
    return ctx.metrics().addRateTotalSensor(METRIC_GROUP_SCOPE, taskId, operation, Sensor.RecordingLevel.INFO);
  }

  /** The total of one ingestion counter (e.g. {@link #METRIC_DUPLICATES}) over all tasks of an application. */
  public static double metricTotal(Map<MetricName, ? extends Metric> metrics, String operation) {
    double sum = 0;
    for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
      if (e.getKey().name().equals(operation + "-total") && e.getKey().group().contains(METRIC_GROUP_SCOPE)) {
        sum += ((Number) e.getValue().metricValue()).doubleValue();
      }
    }
    return sum;
  }
}
