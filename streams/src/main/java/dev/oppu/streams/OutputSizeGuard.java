package dev.oppu.streams;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Refuses, at serialization, an output value the broker would refuse. Under exactly-once a send the broker refuses
 * puts the task's transaction in an error state whatever the production exception handler answers (Kafka 4.1): the
 * commit fails and the stream thread dies. A serialization error happens before the send, leaves the transaction
 * intact, and goes to {@link RefusedRecordHandler#handleSerializationException}, which writes a small dead letter and
 * lets processing continue.
 *
 * <p>The limit of a topic is the configured {@code oppu.output.max.record.bytes} (value plus {@value #FRAMING} bytes
 * for key and batch framing), lowered to the topic's {@code max.message.bytes} once the broker refused a record of
 * it: {@link RefusedRecordHandler} then {@link #learn}s that limit from the broker, so the same output, produced
 * again after the thread is replaced, is refused here instead.
 */
public final class OutputSizeGuard {
  /** Room left for the record key and the batch and record headers. */
  public static final int FRAMING = 1024;

  /** Limits learned from the broker's refusals, by topic (for this JVM). */
  private static final Map<String, Integer> LEARNED = new ConcurrentHashMap<>();
  /** Topics some guarded serializer wrote to. */
  private static final Set<String> GUARDED = ConcurrentHashMap.newKeySet();

  private OutputSizeGuard() {}

  /** The refusal of a value too large for its topic; carries the value so its size and SHA-256 reach the dead letter. */
  public static final class OversizeValueException extends RecordTooLargeException {
    private final transient byte[] value;

    OversizeValueException(String topic, byte[] value, int limit) {
      super("a value of " + value.length + " bytes (plus " + FRAMING + " for key and framing) exceeds the limit of "
          + limit + " bytes for topic " + topic);
      this.value = value;
    }

    public byte[] value() {
      return value;
    }
  }

  /** {@code inner} whose serializer refuses values over the limit of their topic. */
  public static <T> Serde<T> guard(Serde<T> inner, int maxRecordBytes) {
    Serializer<T> s = inner.serializer();
    Serializer<T> guarded = (topic, data) -> {
      GUARDED.add(topic);
      byte[] bytes = s.serialize(topic, data);
      if (bytes != null && (long) bytes.length + FRAMING > limit(topic, maxRecordBytes)) {
        throw new OversizeValueException(topic, bytes, limit(topic, maxRecordBytes));
      }
      return bytes;
    };
    return Serdes.serdeFrom(guarded, inner.deserializer());
  }

  static int limit(String topic, int configured) {
    return Math.min(configured, LEARNED.getOrDefault(topic, Integer.MAX_VALUE));
  }

  /** Whether a value of {@code valueBytes} is now refused on {@code topic} (whatever the configured limit). */
  static boolean refuses(String topic, int valueBytes) {
    return (long) valueBytes + FRAMING > LEARNED.getOrDefault(topic, Integer.MAX_VALUE);
  }

  static boolean isGuarded(String topic) {
    return GUARDED.contains(topic);
  }

  /**
   * The broker takes records of at most {@code maxMessageBytes} on {@code topic} (its {@code max.message.bytes}):
   * from now on a value that, with the framing allowance, exceeds it is refused here.
   */
  static void learn(String topic, int maxMessageBytes) {
    LEARNED.merge(topic, Math.max(1, maxMessageBytes), Math::min);
  }
}
