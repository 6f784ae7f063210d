package dev.oppu.serving;

import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decodes the adapters topic for serving. An adapter whose weights path is not a file of the adapter store is refused
 * here, before it reaches the adapter store: whoever can write the adapters topic must not make serving read any
 * local file ({@code /dev/zero} would exhaust memory). The refusal is a dead letter with the reason and the original
 * bytes, keyed by the adapter's user. Undecodable records are skipped: ingestion dead-letters them from the same
 * source. Emits {@code key -> AdapterVersion} (null for a tombstone) or {@code user -> DeadLetter}.
 */
final class AdapterIntake extends ContextualProcessor<byte[], byte[], String, Object> {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterIntake.class);

  private final Serde<AdapterVersion> serde;
  private final Path store;
  private final InputLimits limits;

  AdapterIntake(Serde<AdapterVersion> serde, Path store, InputLimits limits) {
    this.serde = serde;
    this.store = store;
    this.limits = limits;
  }

  @Override
  public void process(Record<byte[], byte[]> in) {
    if (in.key() == null) {
      return;
    }
    String key = new String(in.key(), StandardCharsets.UTF_8);
    String user;
    AdapterVersion v;
    try {
      user = ServingTopology.userOfAdapterKey(key);
      v = in.value() == null ? null : serde.deserializer().deserialize(null, in.value());
    } catch (RuntimeException e) {
      LOG.warn("adapter record {} skipped: {}", key, e.getMessage());
      return;
    }
    if (v != null && v.getWeightsPath() != null) {
      try {
        AdapterPayload.storedFile(store, v.getWeightsPath(), v.getWeightsSha256());
      } catch (AdapterPayload.RefusedPathException e) {
        LOG.warn("adapter record {} refused: {}", key, e.getMessage());
        context().forward(new Record<>(limits.owner(user), deadLetter(in, e.getMessage()), in.timestamp()));
        return;
      } catch (UncheckedIOException notYetThere) {
        // A path of the right form whose file this machine cannot see (yet): loading it later fails and the
        // request is answered without it; nothing outside the store is ever opened.
      }
    }
    context().forward(new Record<>(key, v, in.timestamp()));
  }

  private DeadLetter deadLetter(Record<byte[], byte[]> in, String reason) {
    RecordMetadata md = context().recordMetadata().orElse(null);
    return limits.deadLetter(md == null ? "" : md.topic(), md == null ? -1 : md.partition(),
        md == null ? -1 : md.offset(), in.key(), in.value(), "adapter refused: " + reason,
        Instant.ofEpochMilli(in.timestamp()));
  }
}
