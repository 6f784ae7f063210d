package dev.oppu.serving;

import dev.oppu.schemas.Topics;
import dev.oppu.schemas.UserCommand;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.IngestTopology;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
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

  public static Topology topology(Topics topics, IngestConfig ingest, ServingConfig serving, BatchGenerator generator,
      AdapterCache cache, GivenProfiles profiles) {
    StreamsBuilder b = new StreamsBuilder();
    AtomicReference<KStream<byte[], byte[]>> adapters = new AtomicReference<>();
    AtomicReference<KStream<String, UserCommand>> commands = new AtomicReference<>();
    // ingestion gets serving's given profiles: a pag trigger carries the profile PAG prompts use
    IngestTopology.addIngestion(b, topics, ingest.withGivenProfiles(profiles), adapters::set, commands::set);
    ServingTopology.addServing(b, topics, serving, generator, cache, new IngestUserData(ingest, profiles),
        adapters.get(), ingest.adapterPartitions(), commands.get());
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
