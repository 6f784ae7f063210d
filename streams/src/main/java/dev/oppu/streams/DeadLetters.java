package dev.oppu.streams;

import dev.oppu.schemas.DeadLetter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/** Builds dead-letter records: where the input came from, why it was refused, and its original bytes. */
final class DeadLetters {
  private DeadLetters() {}

  /** A dead letter keyed like its input. */
  static Record<String, SpecificRecord> of(ProcessorContext<String, SpecificRecord> ctx, Record<byte[], byte[]> in,
      String reason) {
    return of(ctx, in, reason, in.key() == null ? null : new String(in.key(), StandardCharsets.UTF_8));
  }

  /**
   * @param owner the user whose data the input is (the dead letter's key): the decoded userId when there is one,
   *     so a record keyed by one user but carrying another's behavior never lands among the first user's records
   */
  static Record<String, SpecificRecord> of(ProcessorContext<String, SpecificRecord> ctx, Record<byte[], byte[]> in,
      String reason, String owner) {
    RecordMetadata md = ctx.recordMetadata().orElse(null);
    DeadLetter dl = DeadLetter.newBuilder()
        .setSourceTopic(md == null ? "" : md.topic())
        .setPartition(md == null ? -1 : md.partition())
        .setOffset(md == null ? -1 : md.offset())
        .setKey(in.key() == null ? null : ByteBuffer.wrap(in.key()))
        .setValue(in.value() == null ? null : ByteBuffer.wrap(in.value()))
        .setReason(reason)
        .setTime(Instant.ofEpochMilli(in.timestamp()))
        .build();
    // Keyed by the owning user, so a user's dead letters stay with the user (export, deletion).
    return new Record<>(owner, dl, in.timestamp());
  }
}
