package dev.oppu.serving;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Topics;
import dev.oppu.streams.Adapters;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.IngestTopology;
import java.time.Clock;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.KStream;

/**
 * The one Kafka Streams application of {@code oppu run streams}: ingestion and serving in one topology, co-partitioned
 * by user id, so that a request is answered from the local history, index, profile and adapter stores of its user.
 */
public final class StreamsApp {
  /** Default application id (consumer group, prefix of internal topics). */
  public static final String APPLICATION_ID = "oppu-streams";

  private StreamsApp() {}

  /**
   * The application: every input topic subscribed once, adapters decoded, checked and repartitioned by user once for
   * both parts, ingestion and serving over the stores of one stream task per partition, and the sinks.
   */
  public static Topology topology(Topics topics, IngestConfig ingest, ServingConfig serving, BatchGenerator generator,
      AdapterCache cache, GivenProfiles profiles) {
    StreamsBuilder b = new StreamsBuilder();
    // Ingestion gets serving's given profiles: a pag trigger carries the profile PAG prompts start with.
    ingest = ingest.withGivenProfiles(profiles);
    IngestTopology.addStores(b, ingest);
    ServingTopology.addStores(b, topics);

    // Sources.
    KStream<byte[], byte[]> behaviors = IngestTopology.source(b, topics.behaviors, "oppu-behaviors");
    KStream<byte[], byte[]> trainResults = IngestTopology.source(b, topics.trainResults, "oppu-train-results");
    KStream<byte[], byte[]> adapterRecords = IngestTopology.source(b, topics.adapters, "oppu-adapters");
    KStream<byte[], byte[]> userCommands = IngestTopology.source(b, topics.userCommands, "oppu-user-commands");
    KStream<String, byte[]> requests = ServingTopology.requests(b, topics);

    // Adapters: checked once (serving never follows a weights path out of the adapter store), repartitioned once.
    Adapters.Checked adapters = Adapters.check(adapterRecords, topics, ingest.limits(),
        new WeightsInStore(serving.adapterStore()));
    KStream<String, AdapterVersion> adaptersByUser =
        Adapters.byUser(adapters.valid(), topics, ingest.adapterPartitions());

    // Ingestion: history, index, train state, triggers; user deletions.
    IngestTopology.Ingested ingested =
        IngestTopology.ingest(topics, ingest, behaviors, trainResults, adaptersByUser, userCommands);

    // Serving: the user's adapters kept locally; requests (and the deletions ingestion applied) answered.
    ServingTopology.materializeAdapters(adaptersByUser, cache);
    ServingTopology.Served served = ServingTopology.answer(requests, ingested.appliedCommands(), serving, generator,
        cache, new IngestUserData(ingest), Clock.systemUTC());

    // Sinks.
    IngestTopology.toTrainTriggers(ingested.triggers(), topics);
    IngestTopology.toAdapterTombstones(ingested.deletedAdapters(), topics);
    ServingTopology.toResponses(served.responses(), topics, serving);
    IngestTopology.toDeadLetters(topics, ingest.limits(),
        List.of(adapters.refused(), ingested.deadLetters(), served.deadLetters()));
    return b.build();
  }

  /**
   * StreamsConfig of the application: ingestion's (exactly-once v2, earliest reset, large producer requests), then
   * {@code overrides}. The wall-clock punctuation that closes a micro-batch runs between polls: the poll timeout is
   * capped at the batch wait so a lone request is not held for the default 100 ms beyond it. Transactions may last
   * minutes, since a generation batch runs inside one.
   */
  public static Properties config(String applicationId, String bootstrap, ServingConfig serving, Properties overrides) {
    Properties base = new Properties();
    base.put(org.apache.kafka.streams.StreamsConfig.POLL_MS_CONFIG, Long.toString(Math.min(100, serving.maxWaitMs())));
    // Serving generates inside the exactly-once transaction; on a busy CPU one batch can outlast Streams' 10 s
    // transaction timeout, and the thread is then fenced and retries the same batch forever. Allow minutes.
    base.put(org.apache.kafka.streams.StreamsConfig.producerPrefix("transaction.timeout.ms"), "300000");
    if (overrides != null) {
      base.putAll(overrides);
    }
    return IngestTopology.streamsConfig(applicationId, bootstrap, base);
  }
}
