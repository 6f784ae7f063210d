package dev.oppu.serving;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.UserCommand;
import dev.oppu.streams.Adapters;
import dev.oppu.streams.IngestTopology;
import dev.oppu.streams.OutputSizeGuard;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Branched;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * The serving sub-topology. It lives in the same Kafka Streams application as ingestion and is co-partitioned with it
 * by user id: requests (keyed by user) meet the user's history, index and profile in the local ingestion stores, and
 * the user's adapters in a local store fed from the adapters topic repartitioned by user (see {@link Adapters}).
 *
 * <pre>
 *   adapters --> Adapters.check --> Adapters.byUser --> AdapterMaterializer --> [serving-adapters]
 *                             \\--> dead-letters (undecodable, bad key or task, weights path outside the store)
 *   requests (+ user commands ingestion applied) --> RequestProcessor [serving-pending-requests, serving-adapters,
 *                                                                       ingestion stores]
 *            --> responses | dead-letters
 * </pre>
 *
 * <p>{@link #addServing} is serving alone (tests); the {@code run streams} application (StreamsApp) puts the same
 * building blocks ({@link #addStores}, {@link #requests}, {@link #materializeAdapters}, {@link #answer} and the
 * sinks) together with ingestion's.
 */
public final class ServingTopology {
  // Aliases of StoreNames for the app code that still reads them here.

  private ServingTopology() {}

  /**
   * Serving alone, subscribing the adapters topic itself; deadlines and latencies read from {@code clock} (tests pass
   * one they control).
   */
  public static void addServing(StreamsBuilder b, Topics topics, ServingConfig config, BatchGenerator generator,
      AdapterCache cache, UserData.Source userData, Clock clock) {
    addStores(b, topics);
    KStream<byte[], byte[]> adapterRecords = IngestTopology.source(b, topics.adapters, "serving-adapters-source");
    KStream<String, byte[]> requests = requests(b, topics);

    Adapters.Checked adapters = Adapters.check(adapterRecords, topics, config.limits(),
        new WeightsInStore(config.adapterStore()));
    materializeAdapters(Adapters.byUser(adapters.valid(), topics, 0), cache);
    Served served = answer(requests, null, config, generator, cache, userData, clock);

    toResponses(served.responses(), topics, config);
    IngestTopology.toDeadLetters(topics, config.limits(), List.of(adapters.refused(), served.deadLetters()));
  }

  /** Adds the serving stores (adapters, pending requests) to {@code b}. */
  public static void addStores(StreamsBuilder b, Topics topics) {
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(StoreNames.ADAPTER_STORE), Topics.KEY,
        topics.adapters.valueSerde()).withCachingDisabled());
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(StoreNames.PENDING_STORE), Topics.KEY,
        topics.requests.valueSerde()).withCachingDisabled());
  }

  /** The requests topic, values as bytes (the processor decodes them: a bad request is answered and dead-lettered). */
  public static KStream<String, byte[]> requests(StreamsBuilder b, Topics topics) {
    return b.stream(topics.requests.name(), Consumed.with(Topics.KEY, Serdes.ByteArray()).withName("serving-requests"));
  }

  /** Keeps the latest adapter of each user, task and variant in the adapter store, from adapters by user. */
  public static void materializeAdapters(KStream<String, AdapterVersion> adaptersByUser, AdapterCache cache) {
    adaptersByUser.process(() -> new AdapterMaterializer(cache), Named.as("serving-adapter-materializer"),
        StoreNames.ADAPTER_STORE);
  }

  /** What serving sends on: responses, and dead letters of bad requests. */
  public record Served(KStream<String, Response> responses, KStream<String, DeadLetter> deadLetters) {}

  /**
   * Answers requests in micro-batches from the local stores (pending requests, adapters and those of
   * {@code userData}).
   *
   * @param userData     opens retrieval and profiles over the ingestion stores of a stream task
   * @param userCommands the user commands ingestion applied, in the same stream task, or null (serving alone): a
   *                     deleted user's waiting requests are answered with an error and dropped, and their adapters
   *                     leave the local store and the loaded-adapter cache at once (the tombstones ingestion
   *                     publishes would remove them a moment later)
   */
  public static Served answer(KStream<String, byte[]> requests, KStream<String, UserCommand> userCommands,
      ServingConfig config, BatchGenerator generator, AdapterCache cache, UserData.Source userData, Clock clock) {
    String[] stores = concat(new String[] {StoreNames.PENDING_STORE, StoreNames.ADAPTER_STORE},
        userData.storeNames());
    // Requests (raw bytes) and user commands meet in one processor: it owns the pending requests and their counters.
    KStream<String, Object> in = requests.mapValues(v -> (Object) v, Named.as("serving-requests-in"));
    if (userCommands != null) {
      in = in.merge(userCommands.mapValues(v -> (Object) v, Named.as("serving-user-commands-in")),
          Named.as("serving-merge-user-commands"));
    }
    Map<String, KStream<String, SpecificRecord>> out = in
        .process(() -> new RequestProcessor(config, generator, cache, userData, clock),
            Named.as("serving-requests-processor"), stores)
        .split(Named.as("serving-out-"))
        .branch((k, v) -> v instanceof Response, Branched.as("responses"))
        .branch((k, v) -> v instanceof DeadLetter, Branched.as("dead-letters"))
        .noDefaultBranch();
    return new Served(
        out.get("serving-out-responses").mapValues(v -> (Response) v, Named.as("serving-as-response")),
        out.get("serving-out-dead-letters").mapValues(v -> (DeadLetter) v, Named.as("serving-as-dead-letter")));
  }

  /** Sink: responses to their topic, over the output limit refused before the producer (see OutputSizeGuard). */
  public static void toResponses(KStream<String, Response> responses, Topics topics, ServingConfig config) {
    responses.to(topics.responses.name(), Produced.with(Topics.KEY,
            OutputSizeGuard.guard(topics.responses.valueSerde(), config.limits().maxOutputRecordBytes()))
        .withName("serving-responses-sink"));
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
