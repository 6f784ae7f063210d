package dev.oppu.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.schemas.UserAction;
import dev.oppu.schemas.UserCommand;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code oppu user delete} on the ingestion side: the user-commands processor and the deletion fence. */
class UserDeletionTest {
  @TempDir
  Path stateDir;

  private static final List<String> STORES = List.of(StoreNames.HISTORY_STORE, StoreNames.HISTORY_META_STORE,
      StoreNames.POSTINGS_STORE, StoreNames.INDEX_STATS_STORE, StoreNames.TRAIN_STATE_STORE,
      StoreNames.DEDUP_STORE, StoreNames.USER_DELETIONS_STORE);

  private static IngestConfig config() {
    return IngestConfig.defaults().withTriggers(3, 1000, 5, 5, 0.35).withMaxHistory(50);
  }

  /** Every key of every ingestion store, as readable strings, by store. */
  private static Map<String, List<String>> keysByStore(Driver d) {
    Map<String, List<String>> out = new TreeMap<>();
    for (String s : STORES) {
      List<String> keys = new ArrayList<>();
      try (KeyValueIterator<Bytes, byte[]> it = d.store(s).all()) {
        it.forEachRemaining(kv -> keys.add(new String(kv.key.get(), StandardCharsets.ISO_8859_1)));
      }
      out.put(s, keys);
    }
    return out;
  }

  private static boolean isUsers(String key, String user) {
    return key.startsWith(user + '\u0000') || key.equals(user);
  }

  private static void feed(Driver d, String user, int n, String tag) {
    for (int i = 0; i < n; i++) {
      d.send(TestData.movie(user, user + "-e" + i, "a " + tag + " movie number " + i, tag));
      d.send(TestData.of(user, user + "-r" + i, "LaMP_3", Map.of("text", "review " + i + " of " + tag, "score", "4")));
    }
  }

  private static AdapterVersion adapter(String user, String task, String triggerId, long version) {
    return AdapterVersion.newBuilder(IngestTopologyTest.adapter(user, version, 2, Map.of("comedy", 1.0)))
        .setTask(task).setTriggerId(triggerId).build();
  }

  @Test
  void deleteRemovesEveryStoreKeyOfTheUserOnlyAndTombstonesEveryAdapterKey() {
    try (Driver d = new Driver(config(), stateDir)) {
      feed(d, "u1", 4, "comedy");
      feed(d, "u10", 4, "drama"); // "u1" is a prefix of this user id: it must survive
      List<TrainTrigger> triggers = d.triggers.readValuesToList();
      assertEquals(4, triggers.size(), "first trigger of both tasks of both users");
      for (TrainTrigger t : triggers) { // answer them and publish adapters: train state with versions
        d.results.pipeInput(t.getUserId(), TrainResultOf.accepted(t, 1L), Instant.ofEpochMilli(d.now()));
        d.adapters.pipeInput(Topics.adapterKey(t.getUserId(), t.getTask(), "plain"),
            adapter(t.getUserId(), t.getTask(), t.getTriggerId(), 1L), Instant.ofEpochMilli(d.now()));
      }
      Map<String, List<String>> before = keysByStore(d);
      for (String s : List.of(StoreNames.HISTORY_STORE, StoreNames.HISTORY_META_STORE,
          StoreNames.POSTINGS_STORE, StoreNames.INDEX_STATS_STORE, StoreNames.TRAIN_STATE_STORE,
          StoreNames.DEDUP_STORE)) {
        assertTrue(before.get(s).stream().anyMatch(k -> isUsers(k, "u1")), s + " holds u1 before the deletion");
      }

      d.delete("u1");

      Map<String, List<String>> after = keysByStore(d);
      for (String s : STORES) {
        assertFalse(after.get(s).stream().anyMatch(k -> isUsers(k, "u1")), s + " still holds u1: " + after.get(s));
        assertEquals(before.get(s).stream().filter(k -> isUsers(k, "u10")).toList(), after.get(s),
            s + ": the other user's keys are untouched");
      }
      // Every adapter key the user could have is tombstoned; none of the other user's.
      List<KeyValue<String, AdapterVersion>> out = d.adapterOut.readKeyValuesToList();
      assertEquals(Task.values().length * 3, out.size());
      for (KeyValue<String, AdapterVersion> kv : out) {
        assertNull(kv.value);
        assertEquals("u1", Topics.userOfAdapterKey(kv.key));
      }
      assertTrue(out.stream().anyMatch(kv -> kv.key.equals(Topics.adapterKey("u1", "LaMP_2M", "plain"))));
      // Retrieval finds nothing of u1, and the same event ids are new again (dedup entries are gone).
      Bm25Retriever r = new Bm25Retriever(config().newAnalyzer(), 64);
      assertTrue(r.topK(d.stores(), "u1", "LaMP_2M", "comedy movie", 5).isEmpty());
      assertEquals(4, r.topK(d.stores(), "u10", "LaMP_2M", "drama movie", 5).size());
      d.send(TestData.movie("u1", "u1-e0", "a comedy movie", "comedy"));
      assertEquals(0.0, d.metric(IngestTopology.METRIC_DUPLICATES));
      assertEquals(1, r.topK(d.stores(), "u1", "LaMP_2M", "comedy movie", 5).size());
      assertTrue(d.deadLetters.isEmpty());
    }
  }

  @Test
  void aTrainingRunningAtTheDeletionIsFencedItsAdapterTombstonedAndTheFenceEndsWithItsResult() {
    try (Driver d = new Driver(config(), stateDir)) {
      feed(d, "u1", 3, "comedy");
      List<TrainTrigger> pending = d.triggers.readValuesToList();
      assertEquals(2, pending.size());
      d.delete("u1");
      d.adapterOut.readKeyValuesToList();
      UserDeletions.Marker fence = UserDeletions.marker(d.store(StoreNames.USER_DELETIONS_STORE), "u1");
      assertNotNull(fence);
      assertEquals(pending.stream().map(TrainTrigger::getTriggerId).sorted().toList(),
          fence.fenced().keySet().stream().sorted().toList());

      // The trainer did not notice in time: LaMP_2M's adapter is published after the deletion.
      TrainTrigger t = pending.stream().filter(p -> p.getTask().equals("LaMP_2M")).findFirst().orElseThrow();
      String key = Topics.adapterKey("u1", "LaMP_2M", "plain");
      d.adapters.pipeInput(key, adapter("u1", "LaMP_2M", t.getTriggerId(), 1L), Instant.ofEpochMilli(d.now()));
      List<KeyValue<String, AdapterVersion>> again = d.adapterOut.readKeyValuesToList();
      assertEquals(List.of(KeyValue.pair(key, (AdapterVersion) null)), again, "tombstoned again");
      d.results.pipeInput("u1", TrainResultOf.accepted(t, 1L), Instant.ofEpochMilli(d.now()));
      // The other training was dropped by the trainer: its result ends the fence.
      TrainTrigger other = pending.stream().filter(p -> p.getTask().equals("LaMP_3")).findFirst().orElseThrow();
      assertNotNull(UserDeletions.marker(d.store(StoreNames.USER_DELETIONS_STORE), "u1"));
      d.results.pipeInput("u1", TrainResultOf.rejected(other), Instant.ofEpochMilli(d.now()));
      assertNull(UserDeletions.marker(d.store(StoreNames.USER_DELETIONS_STORE), "u1"));
      Map<String, List<String>> keys = keysByStore(d);
      for (String s : STORES) {
        assertTrue(keys.get(s).isEmpty(), s + " holds " + keys.get(s));
      }
      assertTrue(d.deadLetters.isEmpty());
    }
  }

  @Test
  void aReturningUserGetsFreshTriggerIdsAndKeepsTheNewAdapter() {
    try (Driver d = new Driver(config(), stateDir)) {
      feed(d, "u1", 3, "comedy");
      TrainTrigger old = d.triggers.readValuesToList().get(0);
      d.delete("u1");
      d.adapterOut.readKeyValuesToList();
      feed(d, "u1", 3, "comedy"); // the same seqs again
      TrainTrigger fresh = d.triggers.readValuesToList().stream()
          .filter(t -> t.getTask().equals(old.getTask())).findFirst().orElseThrow();
      assertEquals(old.getHistory().size(), fresh.getHistory().size());
      assertNotEquals(old.getTriggerId(), fresh.getTriggerId(), "a fenced trigger id is never reused");
      d.adapters.pipeInput(Topics.adapterKey("u1", old.getTask(), "plain"),
          adapter("u1", old.getTask(), fresh.getTriggerId(), 1L), Instant.ofEpochMilli(d.now()));
      assertTrue(d.adapterOut.isEmpty(), "the returning user's new adapter stays");
      TrainState st = TrainState.decode(d.store(StoreNames.TRAIN_STATE_STORE)
          .get(Triggers.stateKey("u1", old.getTask(), "plain")));
      assertEquals(1L, st.version());
    }
  }

  @Test
  void anAdapterPublishedBeforeTheDeletionButAppliedAfterItDoesNotRecreateTrainState() {
    try (Driver d = new Driver(config(), stateDir)) {
      feed(d, "u1", 3, "comedy");
      List<TrainTrigger> triggers = d.triggers.readValuesToList();
      assertFalse(triggers.isEmpty(), "the history triggered trainings, answered here");
      for (TrainTrigger t : triggers) {
        d.results.pipeInput("u1", TrainResultOf.rejected(t), Instant.ofEpochMilli(d.now()));
      }
      d.delete("u1");
      assertNull(UserDeletions.marker(d.store(StoreNames.USER_DELETIONS_STORE), "u1"), "nothing was pending");
      String key = Topics.adapterKey("u1", "LaMP_2M", "plain");
      // The version reaches the adapters-by-user repartition after the deletion; the tombstone follows it.
      d.adapters.pipeInput(key, adapter("u1", "LaMP_2M", "earlier", 3L), Instant.ofEpochMilli(d.now()));
      d.adapters.pipeInput(key, (AdapterVersion) null, Instant.ofEpochMilli(d.now()));
      assertTrue(keysByStore(d).get(StoreNames.TRAIN_STATE_STORE).isEmpty());
    }
  }

  @Test
  void aFenceWhoseTrainingNeverAnswersExpires() {
    IngestConfig c = config();
    c = new IngestConfig(c.maxHistory(), c.maxFieldChars(), c.analyzer(), c.variants(), c.firstMinItems(),
        c.newItemsMax(), c.shiftMinItems(), c.shiftWindow(), c.labelShiftThreshold(), c.termShiftThreshold(),
        c.dedupRetention(), c.adapterPartitions(), c.maxQueryTerms(), c.inMemoryStores(), Duration.ofMinutes(10),
        c.regimeMargin(), c.limits(), c.givenProfiles(), c.triggerDelay());
    try (Driver d = new Driver(c, stateDir)) {
      feed(d, "u1", 3, "comedy");
      d.delete("u1");
      assertNotNull(UserDeletions.marker(d.store(StoreNames.USER_DELETIONS_STORE), "u1"));
      d.driver.advanceWallClockTime(Duration.ofMinutes(5));
      assertNotNull(UserDeletions.marker(d.store(StoreNames.USER_DELETIONS_STORE), "u1"));
      d.driver.advanceWallClockTime(Duration.ofMinutes(6));
      assertNull(UserDeletions.marker(d.store(StoreNames.USER_DELETIONS_STORE), "u1"));
    }
  }

  @Test
  void badCommandsAreDeadLetteredAndChangeNothing() {
    try (Driver d = new Driver(config(), stateDir)) {
      feed(d, "u1", 2, "comedy");
      Map<String, List<String>> before = keysByStore(d);
      var raw = d.driver.createInputTopic(d.topics.userCommands.name(), new ByteArraySerializer(),
          new ByteArraySerializer());
      raw.pipeInput("u1".getBytes(StandardCharsets.UTF_8), new byte[] {1, 2, 3});
      raw.pipeInput("u1".getBytes(StandardCharsets.UTF_8), (byte[]) null);
      UserCommand other = UserCommand.newBuilder().setCommandId("c").setUserId("u1").setAction(UserAction.DELETE)
          .setRequestedAt(Instant.EPOCH).build();
      d.commands.pipeInput("u2", other); // keyed by another user
      d.commands.pipeInput("", UserCommand.newBuilder(other).setUserId("").build());
      List<DeadLetter> dls = d.deadLetters.readValuesToList();
      assertEquals(4, dls.size());
      for (DeadLetter dl : dls) {
        assertEquals(d.topics.userCommands.name(), dl.getSourceTopic());
        assertTrue(dl.getReason().startsWith("user command: "), dl.getReason());
      }
      assertTrue(dls.get(2).getReason().contains("keyed by user"), dls.get(2).getReason());
      assertEquals(before, keysByStore(d));
      assertTrue(d.adapterOut.isEmpty());
    }
  }

  /** Train results the trainer would send. */
  static final class TrainResultOf {
    static dev.oppu.schemas.TrainResult accepted(TrainTrigger t, long version) {
      return dev.oppu.schemas.TrainResult.newBuilder(
          IngestTopologyTest.result(t.getTriggerId(), true, version, 2, t.getTask(), t.getVariant()))
          .setUserId(t.getUserId()).build();
    }

    static dev.oppu.schemas.TrainResult rejected(TrainTrigger t) {
      return dev.oppu.schemas.TrainResult.newBuilder(
          IngestTopologyTest.result(t.getTriggerId(), false, null, 2, t.getTask(), t.getVariant()))
          .setUserId(t.getUserId()).build();
    }
  }
}
