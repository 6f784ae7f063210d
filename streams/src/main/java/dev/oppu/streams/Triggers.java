package dev.oppu.streams;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.lucene.analysis.Analyzer;

/**
 * Decides when a (user, task, variant) adapter needs training: first adapter, many new items, or a behavior shift
 * (recent labels or terms far from what the adapter was trained on). At most one trigger is pending per key; its
 * TrainResult clears it. Trigger ids are derived from the key and the newest seq, so reprocessing after an aborted
 * transaction emits the same trigger.
 */
final class Triggers {
  private final HistoryIndex index;
  private final KeyValueStore<Bytes, byte[]> state;
  private final KeyValueStore<Bytes, byte[]> deletions;
  private final IngestConfig config;
  private final Analyzer analyzer;

  Triggers(HistoryIndex index, KeyValueStore<Bytes, byte[]> state, KeyValueStore<Bytes, byte[]> deletions,
      IngestConfig config, Analyzer analyzer) {
    this.index = index;
    this.state = state;
    this.deletions = deletions;
    this.config = config;
    this.analyzer = analyzer;
  }

  static Bytes stateKey(String userId, String task, String variant) {
    return Keys.withSuffix(Keys.prefix(userId, task), variant);
  }

  Optional<TrainTrigger> evaluate(String userId, Task task, String variant, long now) {
    IndexStats range = index.range(userId, task.id());
    long lastSeq = range.nextSeq() - 1;
    if (range.retained() == 0) {
      return Optional.empty();
    }
    Bytes key = stateKey(userId, task.id(), variant);
    TrainState st = TrainState.decode(state.get(key));
    // Nothing new since the adapter, or a refusal not yet followed by enough new items. Items an accepted version
    // held out for validation count as new: the next trigger covers them (the adapter's coveredSeq stops before them).
    if (st.pendingTriggerId() != null || (st.hasAdapter() && lastSeq <= st.coveredSeq())
        || (!st.hasAdapter() && !st.lastRejected() && lastSeq <= st.lastTriggerSeq())
        || (st.lastRejected() && lastSeq - st.lastTriggerSeq() < config.shiftMinItems())) {
      return Optional.empty();
    }
    String reason = null;
    double score = 0;
    long regimeFrom = st.regimeFromSeq();
    long newFrom = st.hasAdapter() ? Math.max(st.coveredSeq() + 1, range.firstSeq()) : range.firstSeq();
    long newCount = range.nextSeq() - newFrom;
    if (!st.hasAdapter()) {
      if (range.retained() >= config.firstMinItems()) {
        reason = "first";
        score = range.retained();
      }
    } else {
      // A shift is checked first, even when enough new items would trigger anyway: a clear one also decides what the
      // trainer replays (only the behavior since the shift, which the older items contradict).
      long known = st.coveredSeq() - Math.max(st.regimeFromSeq(), range.firstSeq()) + 1;
      Optional<ShiftDetector.Shift> shift = ShiftDetector.score(config, task, analyzer, newFrom, range.nextSeq(),
          st.trainedOn(), known, (from, to) -> index.items(userId, task.id(), from, to).stream()
              .map(HistoryItem::getFields).toList());
      if (shift.isPresent() && shift.get().shifted()) {
        reason = shift.get().generation() ? "shift-terms" : "shift-labels";
        score = shift.get().score();
        if (shift.get().endsOldBehavior()) {
          regimeFrom = newFrom;
        }
      }
      if (reason == null && newCount >= config.newItemsMax()) {
        reason = "new-items";
        score = newCount;
      }
    }
    if (reason == null) {
      return Optional.empty();
    }
    // A user deleted with trainings still fenced restarts at seq 0: salt with the deletion so that a new trigger
    // never takes the id of a fenced one (whose adapter would be tombstoned).
    UserDeletions.Marker fence = UserDeletions.marker(deletions, userId);
    String salt = fence == null ? "" : "\u0000" + fence.deletedAt();
    // The new-from seq tells apart a follow-up for items a version held out from the trigger that carried them.
    long newFromSeq = st.hasAdapter() ? st.coveredSeq() + 1 : 0;
    String triggerId = UUID.nameUUIDFromBytes((userId + '\u0000' + task.id() + '\u0000' + variant + '\u0000' + lastSeq
        + '\u0000' + newFromSeq + salt).getBytes(StandardCharsets.UTF_8)).toString();
    List<HistoryItem> history = index.items(userId, task.id(), range.firstSeq(), range.nextSeq());
    // The pag variant trains with the profile its requests are served with: the same rule over the same retained
    // items serving's PAG prompts read (UserProfiles), so the trainer needs neither the stores nor the profile files.
    String profile = UserProfiles.PAG_VARIANT.equals(variant) ? UserProfiles.of(config.givenProfiles(), task, userId,
        () -> history.stream().map(HistoryItem::getFields).toList()) : null;
    TrainTrigger trigger = TrainTrigger.newBuilder()
        .setTriggerId(triggerId).setUserId(userId).setTask(task.id()).setVariant(variant)
        .setReason(reason).setScore(score).setCreatedAt(Instant.ofEpochMilli(now))
        .setHistory(history)
        .setProfile(profile)
        .setNewFromSeq(newFromSeq)
        .setPreviousVersion(st.hasAdapter() ? st.version() : null)
        .setReplayFromSeq(regimeFrom >= 0 ? regimeFrom : null)
        .build();
    state.put(key, st.withPending(triggerId, lastSeq).withRegimeFrom(regimeFrom).encode());
    return Optional.of(trigger);
  }

  /** Clears the pending trigger a result answers; an accepted result may at once trigger again (items kept coming). */
  Optional<TrainTrigger> onResult(TrainResult r, long now) {
    Task task = Task.of(r.getTask());
    Bytes key = stateKey(r.getUserId(), task.id(), r.getVariant());
    TrainState st = TrainState.decode(state.get(key));
    boolean answersPending = r.getTriggerId().equals(st.pendingTriggerId());
    long version = st.version();
    long covered = st.coveredSeq();
    if (r.getAccepted() && r.getVersion() != null && r.getVersion() > version) {
      version = r.getVersion();
      covered = r.getCoveredSeq();
    }
    TrainState next = new TrainState(answersPending ? null : st.pendingTriggerId(), version, covered, st.trainedOn(),
        st.lastTriggerSeq(), answersPending ? !r.getAccepted() : st.lastRejected(), st.regimeFromSeq());
    state.put(key, next.encode());
    if (answersPending && r.getAccepted()) {
      return evaluate(r.getUserId(), task, r.getVariant(), now);
    }
    return Optional.empty();
  }

  /** Records what the latest adapter was trained on; version -1 means the adapter was deleted. */
  void onAdapter(AdapterVersion a) {
    Task task = Task.of(a.getTask());
    Bytes key = stateKey(a.getUserId(), task.id(), a.getVariant());
    byte[] stored = state.get(key);
    TrainState st = TrainState.decode(stored);
    if (a.getVersion() < 0) {
      TrainState next = new TrainState(st.pendingTriggerId(), -1, -1, Map.of(), st.lastTriggerSeq(), st.lastRejected(),
          -1);
      if (next.equals(TrainState.NONE)) {
        if (stored != null) {
          state.delete(key); // nothing left to remember (a deleted user's adapters): no entry, not an empty one
        }
      } else {
        state.put(key, next.encode());
      }
    } else if (a.getVersion() >= st.version()) {
      state.put(key, new TrainState(st.pendingTriggerId(), a.getVersion(), a.getCoveredSeq(),
          a.getLabelDistribution(), st.lastTriggerSeq(), st.lastRejected(), st.regimeFromSeq()).encode());
    }
  }
}
