package dev.oppu.streams;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.schemas.UserCommand;
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
import org.apache.kafka.streams.kstream.Repartitioned;
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
 * reads these stores through {@link Bm25Retriever} (connect its processor to {@link #RETRIEVAL_STORES}).
 */
public final class IngestTopology {
  private IngestTopology() {}

  /** Logged: user|task|seq -> HistoryItem (single-object Avro). */
  public static final String HISTORY_STORE = "oppu-history";
  /** Logged: user|task -> retained seq range; the truth the index is reconciled against. */
  public static final String HISTORY_META_STORE = "oppu-history-meta";
  /** Unlogged: user|task|segment number -> index segment of 32 documents (see {@link Segments}). */
  public static final String POSTINGS_STORE = "oppu-bm25-postings";
  /** Unlogged: user|task -> seq range, docCount, sumTotalTermFreq. */
  public static final String INDEX_STATS_STORE = "oppu-bm25-stats";
  /** Logged: user|task|variant -> pending trigger and the adapter's coverage. */
  public static final String TRAIN_STATE_STORE = "oppu-train-state";
  /**
   * Logged: user|eventId -> record time, for every event retained in the history (an entry leaves with its history
   * item, so the store is bounded by the histories; an entry older than the dedup retention no longer matches).
   */
  public static final String DEDUP_STORE = "oppu-dedup";
  /**
   * Logged: user -> deletion fence (the trigger ids of trainings pending when the user was deleted; see
   * {@link UserDeletions}). Empty unless a user was deleted while a training for them was under way.
   */
  public static final String USER_DELETIONS_STORE = "oppu-user-deletions";
  /** Every logged ingestion store, i.e. every store whose changelog topic holds user data. */
  public static final java.util.List<String> LOGGED_STORES =
      java.util.List.of(HISTORY_STORE, HISTORY_META_STORE, TRAIN_STATE_STORE, DEDUP_STORE, USER_DELETIONS_STORE);
  /** Internal repartition of adapter versions by user id. */
  public static final String ADAPTERS_BY_USER = "oppu-adapters-by-user";

  /** The stores a retrieving processor must be connected to. */
  public static final String[] RETRIEVAL_STORES = {POSTINGS_STORE, INDEX_STATS_STORE, HISTORY_STORE};
  private static final String[] CORE_STORES =
      {HISTORY_STORE, HISTORY_META_STORE, POSTINGS_STORE, INDEX_STATS_STORE, TRAIN_STATE_STORE, USER_DELETIONS_STORE};

  public static final String METRIC_GROUP_SCOPE = "oppu-ingest";
  public static final String METRIC_DUPLICATES = "duplicate-events";
  public static final String METRIC_DEAD_LETTERS = "dead-letters";
  public static final String METRIC_TRIGGERS = "train-triggers";

  /** Adds the ingestion sub-topology and its stores to {@code b}. */
  public static void addIngestion(StreamsBuilder b, Topics t, IngestConfig c) {
    addIngestion(b, t, c, raw -> { });
  }

  /**
   * As {@link #addIngestion(StreamsBuilder, Topics, IngestConfig)}; {@code adapterTap} also gets the raw adapters
   * stream. A topology may subscribe a topic only once, and serving materializes adapters (weights included) from it.
   */
  public static void addIngestion(StreamsBuilder b, Topics t, IngestConfig c,
      java.util.function.Consumer<KStream<byte[], byte[]>> adapterTap) {
    addIngestion(b, t, c, adapterTap, commands -> { });
  }

  /**
   * As {@link #addIngestion(StreamsBuilder, Topics, IngestConfig, java.util.function.Consumer)}; {@code commandTap}
   * also gets every valid user command after ingestion applied it (serving drops the user's requests and adapters).
   */
  public static void addIngestion(StreamsBuilder b, Topics t, IngestConfig c,
      java.util.function.Consumer<KStream<byte[], byte[]>> adapterTap,
      java.util.function.Consumer<KStream<String, UserCommand>> commandTap) {
    for (StoreBuilder<?> s : storeBuilders(c)) {
      b.addStateStore(s);
    }
    AvroSerde<Behavior> behaviorSerde = (AvroSerde<Behavior>) t.behaviors.valueSerde();
    AvroSerde<TrainResult> resultSerde = (AvroSerde<TrainResult>) t.trainResults.valueSerde();
    AvroSerde<AdapterVersion> adapterSerde = (AvroSerde<AdapterVersion>) t.adapters.valueSerde();
    AvroSerde<UserCommand> commandSerde = (AvroSerde<UserCommand>) t.userCommands.valueSerde();
    String[] withDedup = {HISTORY_STORE, HISTORY_META_STORE, POSTINGS_STORE, INDEX_STATS_STORE, TRAIN_STATE_STORE,
        USER_DELETIONS_STORE, DEDUP_STORE};

    // Read as bytes and decode inside, so a poison record becomes a dead letter instead of stopping the app.
    KStream<String, SpecificRecord> fromBehaviors = b
        .stream(t.behaviors.name(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("oppu-behaviors"))
        .process(() -> new BehaviorProcessor(behaviorSerde, c), Named.as("oppu-ingest-behaviors"), withDedup);

    KStream<String, SpecificRecord> fromResults = b
        .stream(t.trainResults.name(),
            Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("oppu-train-results"))
        .process(() -> new TrainResultProcessor(resultSerde, c), Named.as("oppu-ingest-train-results"), CORE_STORES);

    KStream<byte[], byte[]> rawAdapters =
        b.stream(t.adapters.name(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("oppu-adapters"));
    adapterTap.accept(rawAdapters);
    KStream<String, SpecificRecord> adapters = rawAdapters
        .process(() -> new AdapterProcessors.Rekey(adapterSerde, c.limits()), Named.as("oppu-adapters-rekey"));
    Repartitioned<String, byte[]> byUser = Repartitioned.<String, byte[]>with(Serdes.String(), Serdes.ByteArray())
        .withName(ADAPTERS_BY_USER);
    if (c.adapterPartitions() > 0) {
      byUser = byUser.withNumberOfPartitions(c.adapterPartitions());
    }
    KStream<String, SpecificRecord> fenced = adapters
        .filter((k, v) -> v instanceof AdapterVersion, Named.as("oppu-adapters-valid"))
        .mapValues(v -> AdapterProcessors.SLIM.encode((AdapterVersion) v), Named.as("oppu-adapters-slim"))
        .repartition(byUser)
        .process(() -> new AdapterProcessors.Apply(c), Named.as("oppu-ingest-adapters"), CORE_STORES);
    KStream<String, SpecificRecord> adapterDeadLetters =
        adapters.filter((k, v) -> v instanceof DeadLetter, Named.as("oppu-adapters-dead"));

    KStream<String, SpecificRecord> fromCommands = b
        .stream(t.userCommands.name(),
            Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("oppu-user-commands"))
        .process(() -> new UserCommandProcessor(commandSerde, c), Named.as("oppu-ingest-user-commands"), withDedup);

    fromBehaviors.merge(fromResults, Named.as("oppu-ingest-merge-results"))
        .merge(adapterDeadLetters, Named.as("oppu-ingest-merge-adapters"))
        .merge(fromCommands, Named.as("oppu-ingest-merge-commands"))
        .merge(fenced, Named.as("oppu-ingest-merge-fenced"))
        .split(Named.as("oppu-ingest-out-"))
        .branch((k, v) -> v instanceof TrainTrigger, Branched.<String, SpecificRecord>withConsumer(s -> s
            .mapValues(v -> (TrainTrigger) v, Named.as("oppu-triggers-cast"))
            .to(t.trainTriggers.name(), Produced.with(t.trainTriggers.keySerde(), t.trainTriggers.valueSerde())
                .withName("oppu-train-triggers")))
            .withName("triggers"))
        .branch((k, v) -> v instanceof DeadLetter, Branched.<String, SpecificRecord>withConsumer(s -> s
            .mapValues(v -> (DeadLetter) v, Named.as("oppu-dead-letters-cast"))
            .to(t.deadLetters.name(), Produced.with(t.deadLetters.keySerde(),
                    OutputSizeGuard.guard(t.deadLetters.valueSerde(), c.limits().maxOutputRecordBytes()))
                .withName("oppu-dead-letters")))
            .withName("dead"))
        // Deleted adapters (a deleted user's, or a fenced training's) leave as tombstones of their compacted key.
        .branch((k, v) -> v instanceof AdapterVersion, Branched.<String, SpecificRecord>withConsumer(s -> s
            .map((k, v) -> {
              AdapterVersion a = (AdapterVersion) v;
              return KeyValue.<String, AdapterVersion>pair(Topics.adapterKey(a.getUserId(), a.getTask(),
                  a.getVariant()), null);
            }, Named.as("oppu-adapter-tombstones"))
            .to(t.adapters.name(), Produced.with(t.adapters.keySerde(), t.adapters.valueSerde())
                .withName("oppu-adapters-deleted")))
            .withName("deleted-adapters"))
        .branch((k, v) -> v instanceof UserCommand, Branched.<String, SpecificRecord>withConsumer(s ->
            commandTap.accept(s.mapValues(v -> (UserCommand) v, Named.as("oppu-user-commands-applied"))))
            .withName("commands"));
  }

  /** The ingestion application alone (the {@code run streams} application adds serving to the same builder). */
  public static Topology build(Topics t, IngestConfig c) {
    StreamsBuilder b = new StreamsBuilder();
    addIngestion(b, t, c);
    return b.build();
  }

  /** The stores: history, meta, train state and dedup logged; the index unlogged (rebuilt from history). */
  public static java.util.List<StoreBuilder<?>> storeBuilders(IngestConfig c) {
    boolean mem = c.inMemoryStores();
    // History and dedup keys are written once each: a cache would only fill up (and slow every lookup) with them.
    StoreBuilder<KeyValueStore<Bytes, byte[]>> history = kv(HISTORY_STORE, mem, false);
    StoreBuilder<KeyValueStore<Bytes, byte[]>> meta = kv(HISTORY_META_STORE, mem, true);
    StoreBuilder<KeyValueStore<Bytes, byte[]>> postings = kv(POSTINGS_STORE, mem, true).withLoggingDisabled();
    StoreBuilder<KeyValueStore<Bytes, byte[]>> stats = kv(INDEX_STATS_STORE, mem, true).withLoggingDisabled();
    StoreBuilder<KeyValueStore<Bytes, byte[]>> train = kv(TRAIN_STATE_STORE, mem, true);
    StoreBuilder<KeyValueStore<Bytes, byte[]>> dedup = kv(DEDUP_STORE, mem, false);
    // Uncached: written rarely, and expired from a punctuation (no record context).
    StoreBuilder<KeyValueStore<Bytes, byte[]>> deletions = kv(USER_DELETIONS_STORE, mem, false);
    return java.util.List.of(history, meta, postings, stats, train, dedup, deletions);
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
    return new Bm25Retriever.IndexStores(iq(streams, POSTINGS_STORE), iq(streams, INDEX_STATS_STORE),
        iq(streams, HISTORY_STORE));
  }

  private static ReadOnlyKeyValueStore<Bytes, byte[]> iq(org.apache.kafka.streams.KafkaStreams s, String name) {
    return s.store(org.apache.kafka.streams.StoreQueryParameters.fromNameAndType(name,
        QueryableStoreTypes.<Bytes, byte[]>keyValueStore()));
  }

  /** The retrieval stores as a processor connected to {@link #RETRIEVAL_STORES} sees them. */
  public static Bm25Retriever.IndexStores processorStores(ProcessorContext<?, ?> ctx) {
    return new Bm25Retriever.IndexStores(ctx.getStateStore(POSTINGS_STORE), ctx.getStateStore(INDEX_STATS_STORE),
        ctx.getStateStore(HISTORY_STORE));
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
