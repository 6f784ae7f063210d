package dev.oppu.streams;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Topics;
import java.time.Instant;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.lucene.analysis.Analyzer;

/**
 * Adapters in ingestion. {@link Apply} records what an adapter was trained on, after {@link AdapterIntake} checked it
 * and {@link Adapters#byUser} brought it to the partition of its user.
 */
final class AdapterProcessors {
  private AdapterProcessors() {}

  /** An adapter that was deleted: version -1, no payload. On the way out it becomes a tombstone of its key. */
  static AdapterVersion deletedMarker(String user, String task, String variant) {
    return AdapterVersion.newBuilder().setUserId(user).setTask(task).setVariant(variant).setVersion(-1)
        .setTriggerId("").setCoveredSeq(-1).setItemsTrained(0).setLossBefore(0).setLossAfter(0).setTrainMillis(0)
        .setPublishedAt(Instant.EPOCH).setBaseFingerprint("").setTaskFingerprint("").setAdapterConfig("")
        .setWeightsSha256("").setLabelDistribution(Map.of()).build();
  }

  /** The deleted marker of an adapter key {@code user|task|variant} (user ids may contain '|': split from the right). */
  static AdapterVersion deletedMarker(String adapterKey) {
    String k = adapterKey == null ? "" : adapterKey;
    int v = k.lastIndexOf('|');
    int t = v > 0 ? k.lastIndexOf('|', v - 1) : -1;
    if (t <= 0) {
      throw new LampInputException("adapter tombstone with a key that is not user|task|variant");
    }
    return deletedMarker(k.substring(0, t), k.substring(t + 1, v), k.substring(v + 1));
  }

  /**
   * After the repartition (keyed {@code user|task|variant}, a tombstone for a deleted adapter): updates the (user,
   * task, variant) train state. For a deleted user with fenced trainings, an adapter of a fenced training is
   * tombstoned again (forwarded as a deleted marker), and nothing re-creates the train state the deletion removed.
   */
  static final class Apply extends ContextualProcessor<String, AdapterVersion, String, SpecificRecord> {
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
    public void process(Record<String, AdapterVersion> rec) {
      String user = Topics.userOfAdapterKey(rec.key()); // the intake checked that the key is the content's
      AdapterVersion a = rec.value() == null ? deletedMarker(rec.key()) : rec.value();
      UserDeletions.Marker fence = UserDeletions.marker(stores.deletions, user);
      if (fence != null) {
        UserDeletions.Fence f = fence.fenced().get(a.getTriggerId());
        if (a.getVersion() >= 0 && f != null) {
          // stamped with the deletion's time: the trainer compares it with trigger creation times
          context().forward(new Record<>(user, deletedMarker(user, a.getTask(), a.getVariant()), fence.deletedAt()));
          UserDeletions.save(stores.deletions, user, fence.with(a.getTriggerId(),
              new UserDeletions.Fence(f.versionAtDeletion(), f.resultSeen(), f.published(), true)));
          return;
        }
        if (stores.trainState.get(Triggers.stateKey(user, Task.of(a.getTask()).id(), a.getVariant())) == null) {
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
