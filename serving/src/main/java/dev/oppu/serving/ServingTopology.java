package dev.oppu.serving;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.UserCommand;
import dev.oppu.streams.OutputSizeGuard;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.StreamPartitioner;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The serving sub-topology. It lives in the same Kafka Streams application as ingestion and is co-partitioned with it
 * by user id: requests (keyed by user) meet the user's history, index and profile in the local ingestion stores, and
 * the user's adapters in a local store fed from the adapters topic repartitioned by user (that topic is keyed by
 * {@code user|task|variant}, which would otherwise hash elsewhere).
 *
 * <pre>
 *   adapters --> AdapterIntake --(partition by user)--> adapters-by-user --> AdapterMaterializer --> [serving-adapters]
 *                          \\--> dead-letters (weights path outside the adapter store)
 *   requests --> RequestProcessor [serving-pending-requests, serving-adapters, ingestion stores]
 *            --> responses | dead-letters
 * </pre>
 */
public final class ServingTopology {
  private static final Logger LOG = LoggerFactory.getLogger(ServingTopology.class);
  /** Requests waiting for their micro-batch; logged, so they survive a crash. */
  public static final String PENDING_STORE = "serving-pending-requests";
  /** Latest adapter per {@code user|task|variant} of this partition's users. */
  public static final String ADAPTER_STORE = "serving-adapters";
  /** Name of the repartition topic (prefixed by the application id) holding adapters partitioned by user. */
  public static final String ADAPTERS_BY_USER = "serving-adapters-by-user";

  private ServingTopology() {}

  /**
   * Adds serving to {@code builder} on its own, subscribing the adapters topic itself (serving without ingestion).
   */
  public static void addServing(StreamsBuilder builder, Topics topics, ServingConfig config, BatchGenerator generator,
      AdapterCache cache, UserData.Source userData) {
    addServing(builder, topics, config, generator, cache, userData, Clock.systemUTC());
  }

  /** As above, reading deadlines and latencies from {@code clock} (tests pass one they control). */
  public static void addServing(StreamsBuilder builder, Topics topics, ServingConfig config, BatchGenerator generator,
      AdapterCache cache, UserData.Source userData, Clock clock) {
    KStream<byte[], byte[]> adapters = builder.stream(topics.adapters.name(),
        Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName("serving-adapters-source"));
    addServing(builder, topics, config, generator, cache, userData, adapters, 0, null, clock);
  }

  /**
   * Adds serving to {@code builder}.
   *
   * @param userData          opens retrieval and profiles over the ingestion stores of a stream task
   * @param rawAdapters       the adapters topic as raw bytes (a topic has one source per topology: in the
   *                          {@code run streams} application it is the one ingestion subscribes)
   * @param adapterPartitions partitions of the adapters-by-user repartition topic, which must equal the requests
   *                          topic's; 0 lets Kafka Streams derive it from the adapters topic
   */
  public static void addServing(StreamsBuilder builder, Topics topics, ServingConfig config, BatchGenerator generator,
      AdapterCache cache, UserData.Source userData, KStream<byte[], byte[]> rawAdapters, int adapterPartitions) {
    addServing(builder, topics, config, generator, cache, userData, rawAdapters, adapterPartitions, null);
  }

  /**
   * As above; {@code userCommands} (may be null) are the user commands ingestion applied, in the same stream task:
   * a deleted user's waiting requests are answered with an error and dropped, and their adapters leave the local
   * store and the loaded-adapter cache at once (the tombstones ingestion publishes would remove them a moment later).
   */
  public static void addServing(StreamsBuilder builder, Topics topics, ServingConfig config, BatchGenerator generator,
      AdapterCache cache, UserData.Source userData, KStream<byte[], byte[]> rawAdapters, int adapterPartitions,
      KStream<String, UserCommand> userCommands) {
    addServing(builder, topics, config, generator, cache, userData, rawAdapters, adapterPartitions, userCommands,
        Clock.systemUTC());
  }

  /** As above, reading deadlines and latencies from {@code clock} (tests pass one they control). */
  public static void addServing(StreamsBuilder builder, Topics topics, ServingConfig config, BatchGenerator generator,
      AdapterCache cache, UserData.Source userData, KStream<byte[], byte[]> rawAdapters, int adapterPartitions,
      KStream<String, UserCommand> userCommands, Clock clock) {
    var adapterSerde = topics.adapters.valueSerde();
    builder.addStateStore(Stores.keyValueStoreBuilder(
        Stores.persistentKeyValueStore(ADAPTER_STORE), Topics.KEY, adapterSerde).withCachingDisabled());
    builder.addStateStore(Stores.keyValueStoreBuilder(
        Stores.persistentKeyValueStore(PENDING_STORE), Topics.KEY, topics.requests.valueSerde())
        .withCachingDisabled());

    Repartitioned<String, AdapterVersion> byUser = Repartitioned.<String, AdapterVersion>as(ADAPTERS_BY_USER)
        .withKeySerde(Topics.KEY).withValueSerde(adapterSerde).withStreamPartitioner(byUser());
    if (adapterPartitions > 0) {
      byUser = byUser.withNumberOfPartitions(adapterPartitions);
    }
    KStream<String, Object> intake = rawAdapters.process(
        () -> new AdapterIntake(adapterSerde, config.adapterStore(), config.limits()),
        Named.as("serving-adapters-decode"));
    intake.filter((k, v) -> v instanceof DeadLetter, Named.as("serving-adapters-refused"))
        .mapValues(v -> (DeadLetter) v, Named.as("serving-adapters-refused-cast"))
        .to(topics.deadLetters.name(), Produced.with(Topics.KEY, guarded(topics.deadLetters.valueSerde(), config))
            .withName("serving-adapters-dead-letters"));
    intake.filter((k, v) -> !(v instanceof DeadLetter), Named.as("serving-adapters-accepted"))
        .mapValues(v -> (AdapterVersion) v, Named.as("serving-adapters-cast"))
        .repartition(byUser)
        .process(() -> new AdapterMaterializer(cache), Named.as("serving-adapter-materializer"), ADAPTER_STORE);

    String[] stores = concat(new String[] {PENDING_STORE, ADAPTER_STORE}, userData.storeNames());
    // Requests (raw bytes) and user commands meet in one processor: it owns the pending requests and their counters.
    KStream<String, Object> in = builder
        .stream(topics.requests.name(), Consumed.with(Topics.KEY, Serdes.ByteArray()).withName("serving-requests"))
        .mapValues(v -> (Object) v, Named.as("serving-requests-in"));
    if (userCommands != null) {
      in = in.merge(userCommands.mapValues(v -> (Object) v, Named.as("serving-user-commands-in")),
          Named.as("serving-merge-user-commands"));
    }
    KStream<String, SpecificRecord> out = in
        .process(() -> new RequestProcessor(config, generator, cache, userData, clock), Named.as("serving-requests-processor"),
            stores);
    out.split(Named.as("serving-out-"))
        .branch((k, v) -> v instanceof Response, Branched.withConsumer(s -> s
            .mapValues(v -> (Response) v, Named.as("serving-as-response"))
            .to(topics.responses.name(), Produced.with(Topics.KEY, guarded(topics.responses.valueSerde(), config))
                .withName("serving-responses-sink")), "responses"))
        .branch((k, v) -> v instanceof DeadLetter, Branched.withConsumer(s -> s
            .mapValues(v -> (DeadLetter) v, Named.as("serving-as-dead-letter"))
            .to(topics.deadLetters.name(), Produced.with(Topics.KEY, guarded(topics.deadLetters.valueSerde(), config))
                .withName("serving-dead-letters-sink")), "dead-letters"))
        .noDefaultBranch();
  }

  /** Responses and dead letters over the output limit are refused before the producer (see OutputSizeGuard). */
  private static <T> org.apache.kafka.common.serialization.Serde<T> guarded(
      org.apache.kafka.common.serialization.Serde<T> serde, ServingConfig config) {
    return OutputSizeGuard.guard(serde, config.limits().maxOutputRecordBytes());
  }

  /** The user id of an adapter key {@code user|task|variant} (user ids may contain '|': split from the right). */
  public static String userOfAdapterKey(String adapterKey) {
    return Topics.userOfAdapterKey(adapterKey);
  }

  /** Sends an adapter to the partition its user's requests and behaviors go to (the producer's key hashing). */
  static <V> StreamPartitioner<String, V> byUser() {
    return new StreamPartitioner<>() {
      @Override
      public Optional<Set<Integer>> partitions(String topic, String key, V value, int numPartitions) {
        byte[] user = userOfAdapterKey(key).getBytes(StandardCharsets.UTF_8);
        return Optional.of(Set.of(Utils.toPositive(Utils.murmur2(user)) % numPartitions));
      }
    };
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
