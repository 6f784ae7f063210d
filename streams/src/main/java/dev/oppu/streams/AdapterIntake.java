package dev.oppu.streams;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.Topics;
import java.nio.charset.StandardCharsets;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes and checks the adapters topic, once for the whole application. Emits {@code user|task|variant ->
 * AdapterVersion} (null for a tombstone), or a dead letter with the reason and the original bytes for a record that
 * does not decode, whose key is not {@code user|task|variant} of its content, whose task is unknown (keyed like the
 * input, see {@link DeadLetters}), or that {@link Adapters.WeightsCheck} refuses (keyed by the adapter's user).
 */
final class AdapterIntake extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterIntake.class);

  private final AvroSerde<AdapterVersion> serde;
  private final InputLimits limits;
  private final Adapters.WeightsCheck weights;

  AdapterIntake(AvroSerde<AdapterVersion> serde, InputLimits limits, Adapters.WeightsCheck weights) {
    this.serde = serde;
    this.limits = limits;
    this.weights = weights;
  }

  @Override
  public void process(Record<byte[], byte[]> rec) {
    String key = rec.key() == null ? null : new String(rec.key(), StandardCharsets.UTF_8);
    AdapterVersion a;
    try {
      if (rec.value() == null) {
        a = null;
        Task.of(AdapterProcessors.deletedMarker(key).getTask());
      } else {
        a = serde.decode(rec.value());
        String expected = Topics.adapterKey(a.getUserId(), a.getTask(), a.getVariant());
        if (!expected.equals(key)) {
          throw new LampInputException("key " + key + " is not the adapter's key " + expected);
        }
        Task.of(a.getTask());
      }
    } catch (SerializationException | LampInputException e) {
      context().forward(DeadLetters.of(context(), limits, rec, "adapter version: " + e.getMessage()));
      return;
    }
    String refusal = a == null ? null : weights.refusal(a);
    if (refusal != null) {
      LOG.warn("adapter record {} refused: {}", key, refusal);
      context().forward(DeadLetters.of(context(), limits, rec, "adapter refused: " + refusal, a.getUserId()));
      return;
    }
    context().forward(new Record<>(key, a, rec.timestamp()));
  }
}
