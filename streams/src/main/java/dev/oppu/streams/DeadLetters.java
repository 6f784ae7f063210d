package dev.oppu.streams;

import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Dead letters of the ingestion processors: where the input came from, why it was refused, and (a bounded prefix
 * of) its original bytes, built by {@link InputLimits#deadLetter} like every dead letter of the system.
 */
final class DeadLetters {
  private DeadLetters() {}

  /** A dead letter keyed like its input (no key when the input's key is not a plausible user id). */
  static Record<String, SpecificRecord> of(ProcessorContext<String, SpecificRecord> ctx, InputLimits limits,
      Record<byte[], byte[]> in, String reason) {
    return of(ctx, limits, in, reason, in.key() == null ? null : new String(in.key(), StandardCharsets.UTF_8));
  }

  /**
   * @param owner the user whose data the input is (the dead letter's key): the decoded userId when there is one,
   *     so a record keyed by one user but carrying another's behavior never lands among the first user's records;
   *     an owner longer than the id limit is replaced by the input's key if that fits, else by no key
   */
  static Record<String, SpecificRecord> of(ProcessorContext<String, SpecificRecord> ctx, InputLimits limits,
      Record<byte[], byte[]> in, String reason, String owner) {
    RecordMetadata md = ctx.recordMetadata().orElse(null);
    DeadLetter dl = limits.deadLetter(md == null ? "" : md.topic(), md == null ? -1 : md.partition(),
        md == null ? -1 : md.offset(), in.key(), in.value(), reason, Instant.ofEpochMilli(in.timestamp()));
    String key = limits.owner(owner, in.key() == null ? null : new String(in.key(), StandardCharsets.UTF_8));
    // Keyed by the owning user, so a user's dead letters stay with the user (export, deletion).
    return new Record<>(key, dl, in.timestamp());
  }
}
