package dev.oppu.streams;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.InputLimits;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.lucene.analysis.Analyzer;

/**
 * The adapters topic is keyed by user|task|variant, not by user: {@link Rekey} strips the weights and re-keys by user
 * (then the stream is repartitioned to meet the user's other state), {@link Apply} records what the adapter was
 * trained on.
 */
final class AdapterProcessors {
  private AdapterProcessors() {}

  static final AvroSerde<AdapterVersion> SLIM = new AvroSerde<>(AdapterVersion.class);

  /** Decodes, drops the weights, re-keys by user id; a tombstone becomes a version -1 marker (adapter deleted). */
  static final class Rekey extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
    private final AvroSerde<AdapterVersion> serde;
    private final InputLimits limits;

    Rekey(AvroSerde<AdapterVersion> serde, InputLimits limits) {
      this.serde = serde;
      this.limits = limits;
    }

    @Override
    public void process(Record<byte[], byte[]> rec) {
      try {
        AdapterVersion a;
        if (rec.value() == null) {
          a = deletedMarker(rec.key());
        } else {
          a = serde.decode(rec.value());
          Task.of(a.getTask());
          a.setWeights(null);
        }
        context().forward(new Record<>(a.getUserId(), a, rec.timestamp()));
      } catch (SerializationException | LampInputException e) {
        context().forward(DeadLetters.of(context(), limits, rec, "adapter version: " + e.getMessage()));
      }
    }

    private static AdapterVersion deletedMarker(byte[] key) {
      String k = key == null ? "" : new String(key, StandardCharsets.UTF_8);
      int v = k.lastIndexOf('|');
      int t = v > 0 ? k.lastIndexOf('|', v - 1) : -1;
      if (t <= 0) {
        throw new LampInputException("adapter tombstone with a key that is not user|task|variant");
      }
      return AdapterProcessors.deletedMarker(k.substring(0, t), k.substring(t + 1, v), k.substring(v + 1));
    }
  }

  /** An adapter that was deleted: version -1, no payload. On the way out it becomes a tombstone of its key. */
  static AdapterVersion deletedMarker(String user, String task, String variant) {
    return AdapterVersion.newBuilder().setUserId(user).setTask(task).setVariant(variant).setVersion(-1)
        .setTriggerId("").setCoveredSeq(-1).setItemsTrained(0).setLossBefore(0).setLossAfter(0).setTrainMillis(0)
        .setPublishedAt(Instant.EPOCH).setBaseFingerprint("").setTaskFingerprint("").setAdapterConfig("")
        .setWeightsSha256("").setLabelDistribution(Map.of()).build();
  }

  /**
   * After the repartition: updates the (user, task, variant) train state. For a deleted user with fenced trainings,
   * an adapter of a fenced training is tombstoned again (forwarded as a deleted marker), and nothing re-creates the
   * train state the deletion removed.
   */
  static final class Apply extends ContextualProcessor<String, byte[], String, SpecificRecord> {
    private final IngestConfig config;
    private Analyzer analyzer;
    private IngestStores stores;

    Apply(IngestConfig config) {
      this.config = config;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
      super.init(context);
      analyzer = config.newAnalyzer();
      stores = new IngestStores(context, config, analyzer);
    }

    @Override
    public void process(Record<String, byte[]> rec) {
      AdapterVersion a = SLIM.decode(rec.value());
      UserDeletions.Marker fence = UserDeletions.marker(stores.deletions, a.getUserId());
      if (fence != null) {
        UserDeletions.Fence f = fence.fenced().get(a.getTriggerId());
        if (a.getVersion() >= 0 && f != null) {
          // stamped with the deletion's time: the trainer compares it with trigger creation times
          context().forward(new Record<>(a.getUserId(), deletedMarker(a.getUserId(), a.getTask(), a.getVariant()),
              fence.deletedAt()));
          UserDeletions.save(stores.deletions, a.getUserId(), fence.with(a.getTriggerId(),
              new UserDeletions.Fence(f.versionAtDeletion(), f.resultSeen(), f.published(), true)));
          return;
        }
        if (stores.trainState.get(Triggers.stateKey(a.getUserId(), Task.of(a.getTask()).id(), a.getVariant()))
            == null) {
          return; // published before the deletion, its tombstone follows: leave the deleted state deleted
        }
      }
      stores.triggers.onAdapter(a);
    }

    @Override
    public void close() {
      analyzer.close();
    }
  }
}
