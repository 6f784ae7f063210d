package dev.oppu.streams;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.StreamPartitioner;

/**
 * The adapters topic, once for the whole application: {@link #check} decodes and checks each record once (a bad one
 * becomes one dead letter), {@link #byUser} repartitions the good ones once by user. The topic is keyed
 * {@code user|task|variant}, which would hash elsewhere than the user's behaviors and requests; after the
 * repartition both ingestion (train state) and serving (adapter store) read the same stream.
 */
public final class Adapters {
  private Adapters() {}

  /** Why an adapter's weights must not be used, or null if they may. */
  @FunctionalInterface
  public interface WeightsCheck {
    String refusal(AdapterVersion adapter);

    /** Accepts every adapter: ingestion alone never reads weights. */
    WeightsCheck NONE = a -> null;
  }

  /**
   * The adapters topic after {@link #check}.
   *
   * @param valid   {@code user|task|variant -> AdapterVersion}, null for a tombstone (a deleted adapter)
   * @param refused dead letters with the reason and the original bytes
   */
  public record Checked(KStream<String, AdapterVersion> valid, KStream<String, DeadLetter> refused) {}

  /**
   * Decodes the adapters topic (read as bytes, so a poison record becomes a dead letter instead of stopping the
   * application) and checks each record: its key is {@code user|task|variant} of its content, its task is known,
   * and {@code weights} accepts it.
   */
  public static Checked check(KStream<byte[], byte[]> records, Topics t, InputLimits limits, WeightsCheck weights) {
    AvroSerde<AdapterVersion> serde = (AvroSerde<AdapterVersion>) t.adapters.valueSerde();
    KStream<String, SpecificRecord> in = records
        .process(() -> new AdapterIntake(serde, limits, weights), Named.as("oppu-adapters-intake"));
    KStream<String, AdapterVersion> valid = in
        .filter((k, v) -> !(v instanceof DeadLetter), Named.as("oppu-adapters-valid"))
        .mapValues(v -> (AdapterVersion) v, Named.as("oppu-adapters-cast"));
    KStream<String, DeadLetter> refused = in
        .filter((k, v) -> v instanceof DeadLetter, Named.as("oppu-adapters-refused"))
        .mapValues(v -> (DeadLetter) v, Named.as("oppu-adapters-refused-cast"));
    return new Checked(valid, refused);
  }

  /**
   * The one repartition of the application ({@value StoreNames#ADAPTERS_BY_USER}): each adapter to the partition of
   * its user's behaviors and requests, keyed as before.
   *
   * @param partitions partitions of the repartition topic, which must equal the user-keyed topics'; 0 lets Kafka
   *                   Streams derive it from the adapters topic
   */
  public static KStream<String, AdapterVersion> byUser(KStream<String, AdapterVersion> valid, Topics t,
      int partitions) {
    Repartitioned<String, AdapterVersion> byUser = Repartitioned.<String, AdapterVersion>as(StoreNames.ADAPTERS_BY_USER)
        .withKeySerde(Topics.KEY).withValueSerde(t.adapters.valueSerde()).withStreamPartitioner(partitioner());
    if (partitions > 0) {
      byUser = byUser.withNumberOfPartitions(partitions);
    }
    return valid.repartition(byUser);
  }

  /** Sends an adapter to the partition its user's requests and behaviors go to (the producer's key hashing). */
  static <V> StreamPartitioner<String, V> partitioner() {
    return new StreamPartitioner<>() {
      @Override
      public Optional<Set<Integer>> partitions(String topic, String key, V value, int numPartitions) {
        byte[] user = Topics.userOfAdapterKey(key).getBytes(StandardCharsets.UTF_8);
        return Optional.of(Set.of(Utils.toPositive(Utils.murmur2(user)) % numPartitions));
      }
    };
  }
}
