package dev.oppu.streams;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IngestTopologyTest {
  @TempDir
  Path stateDir;

  private static final AvroSerde<Behavior> BEHAVIOR = new AvroSerde<>(Behavior.class);

  private static IngestConfig config() {
    return IngestConfig.defaults().withMaxHistory(3).withTriggers(1000, 1000, 5, 5, 0.35);
  }

  // ---- history bound and eviction ----

  @Test
  void historyIsBoundedAndEvictedItemsLeaveTheIndex() {
    try (Driver d = new Driver(config(), stateDir)) {
      for (int i = 0; i < 5; i++) {
        d.send(TestData.movie("u1", "e" + i, "common unique" + i + " common words here", "comedy"));
      }
      byte[] prefix = Keys.prefix("u1", "LaMP_2M");
      IndexStats stats = IndexStats.decode(d.store(StoreNames.INDEX_STATS_STORE).get(Bytes.wrap(prefix)));
      assertEquals(2, stats.firstSeq());
      assertEquals(5, stats.nextSeq());
      assertEquals(3, stats.docCount());
      assertEquals(3 * 5, stats.sumTotalTermFreq());
      for (int seq = 0; seq < 5; seq++) {
        byte[] item = d.store(StoreNames.HISTORY_STORE).get(Keys.history(prefix, seq));
        assertEquals(seq >= 2, item != null, "history seq " + seq);
      }
      // One open segment holds all five; the evicted two are skipped by seq.
      byte[] seg = d.store(StoreNames.POSTINGS_STORE).get(Keys.segment(prefix, 0));
      assertEquals(5, Segments.docCount(seg));
      assertEquals(5, Segments.length(seg, 4));
      Bm25Retriever r = new Bm25Retriever(config().newAnalyzer(), 64);
      assertTrue(r.topK(d.stores(), "u1", "LaMP_2M", "unique0 unique1", 5).isEmpty());
      List<Bm25Retriever.Hit> hits = r.topK(d.stores(), "u1", "LaMP_2M", "unique4", 5);
      assertEquals(1, hits.size());
      assertEquals(4, hits.get(0).seq());
      assertEquals("item-e4", hits.get(0).itemId());
      assertEquals("comedy", hits.get(0).fields().get("tag"));
      // Ties are broken by insertion order: the older item first.
      List<Bm25Retriever.Hit> ties = r.topK(d.stores(), "u1", "LaMP_2M", "common", 5);
      assertEquals(List.of(2L, 3L, 4L), ties.stream().map(Bm25Retriever.Hit::seq).toList());
      // Another user's and another task's data are not visible.
      assertTrue(r.topK(d.stores(), "u2", "LaMP_2M", "common", 5).isEmpty());
      assertTrue(r.topK(d.stores(), "u1", "LaMP_2N", "common", 5).isEmpty());
    }
  }

  @Test
  void evictedSegmentsAreDeletedAndFullOnesSealed() {
    IngestConfig c = IngestConfig.defaults().withMaxHistory(70).withInMemoryStores(true);
    try (Driver d = new Driver(c, stateDir)) {
      for (int i = 0; i < 200; i++) {
        d.send(TestData.movie("u1", "e" + i, "text number" + i + " of the history", "comedy"));
      }
      byte[] prefix = Keys.prefix("u1", "LaMP_2M");
      IndexStats stats = IndexStats.decode(d.store(StoreNames.INDEX_STATS_STORE).get(Bytes.wrap(prefix)));
      assertEquals(new IndexStats(130, 200, 70, 70 * 5), stats);
      List<Long> segments = new java.util.ArrayList<>();
      try (var it = d.store(StoreNames.POSTINGS_STORE).all()) {
        it.forEachRemaining(kv -> segments.add(java.nio.ByteBuffer.wrap(kv.key.get(), prefix.length, 8).getLong()));
      }
      List<Long> expected = new java.util.ArrayList<>();
      for (long sg = Segments.segmentOf(130); sg <= Segments.segmentOf(199); sg++) {
        expected.add(sg);
      }
      assertEquals(expected, segments, "only segments holding retained documents");
      assertEquals(1, d.store(StoreNames.POSTINGS_STORE).get(Keys.segment(prefix, Segments.segmentOf(130)))[0],
          "sealed");
      assertEquals(0, d.store(StoreNames.POSTINGS_STORE).get(Keys.segment(prefix, Segments.segmentOf(199)))[0],
          "open");
      Bm25Retriever r = new Bm25Retriever(c.newAnalyzer(), 64);
      assertTrue(r.topK(d.stores(), "u1", "LaMP_2M", "number129", 5).isEmpty());
      assertEquals(130L, r.topK(d.stores(), "u1", "LaMP_2M", "number130", 5).get(0).seq());
      assertEquals(199L, r.topK(d.stores(), "u1", "LaMP_2M", "number199", 5).get(0).seq());
      assertEquals(70, r.topK(d.stores(), "u1", "LaMP_2M", "history", 100).size());
    }
  }

  // ---- dedup ----

  @Test
  void duplicateEventIdIsDroppedAndCounted() {
    try (Driver d = new Driver(config(), stateDir)) {
      Behavior b = TestData.movie("u1", "same", "a heist in space", "action");
      d.send(b);
      d.send(b);
      d.send(TestData.movie("u1", "same", "a different text, same id", "comedy"));
      d.send(TestData.movie("u2", "same", "another user may reuse an id", "comedy"));
      assertEquals(2.0, d.metric(IngestTopology.METRIC_DUPLICATES));
      assertEquals(1, retained(d, "u1"));
      assertEquals(1, retained(d, "u2"));
      assertTrue(d.deadLetters.isEmpty());
    }
  }

  @Test
  void dedupEntriesLeaveWithTheirHistoryItems() {
    try (Driver d = new Driver(config(), stateDir)) {
      for (int i = 0; i < 5; i++) {
        d.send(TestData.movie("u1", "e" + i, "text number" + i, "comedy"));
      }
      List<String> remembered = new java.util.ArrayList<>();
      try (var it = d.store(StoreNames.DEDUP_STORE).all()) {
        it.forEachRemaining(kv -> remembered.add(new String(kv.key.get(), StandardCharsets.UTF_8)));
      }
      assertEquals(List.of("u1\u0000e2", "u1\u0000e3", "u1\u0000e4"), remembered);
      d.send(TestData.movie("u1", "e4", "text number4", "comedy"));
      assertEquals(1.0, d.metric(IngestTopology.METRIC_DUPLICATES));
      assertEquals(3, retained(d, "u1"));
    }
  }

  private static long retained(Driver d, String user) {
    return IndexStats.decode(d.store(StoreNames.HISTORY_META_STORE)
        .get(Bytes.wrap(Keys.prefix(user, "LaMP_2M")))).retained();
  }

  // ---- dead letters, one case each; processing continues after each ----

  private void assertDeadLetter(byte[] key, byte[] value, String reasonPart) {
    assertDeadLetter(key, value, reasonPart, key == null ? null : new String(key, StandardCharsets.UTF_8));
  }

  /** {@code owner}: the key the dead letter must have (the user whose data the input is). */
  private void assertDeadLetter(byte[] key, byte[] value, String reasonPart, String owner) {
    try (Driver d = new Driver(config(), stateDir)) {
      d.send(TestData.movie("u9", "other", "another user's secret movie", "drama")); // someone else's history
      d.rawBehaviors.pipeInput(new TestRecord<>(key, value, Instant.ofEpochMilli(d.now())));
      List<KeyValue<String, DeadLetter>> dls = d.deadLetters.readKeyValuesToList();
      assertEquals(1, dls.size(), "one dead letter");
      assertEquals(owner, dls.get(0).key, "keyed by the user whose data it is");
      DeadLetter dl = dls.get(0).value;
      assertTrue(dl.getReason().contains(reasonPart), "reason '" + dl.getReason() + "' lacks '" + reasonPart + "'");
      assertEquals(d.topics.behaviors.name(), dl.getSourceTopic());
      assertEquals(0, dl.getPartition());
      assertEquals(1L, dl.getOffset());
      assertArrayEquals(value, dl.getValue() == null ? null : bytes(dl.getValue()));
      assertArrayEquals(key, dl.getKey() == null ? null : bytes(dl.getKey()));
      assertEquals(1.0, d.metric(IngestTopology.METRIC_DEAD_LETTERS));
      // The next good record is processed.
      d.send(TestData.movie("u1", "good", "a fine movie", "comedy"));
      assertTrue(d.deadLetters.isEmpty());
      assertEquals(1, retained(d, "u1"));
    }
  }

  private static byte[] bytes(ByteBuffer b) {
    ByteBuffer d = b.duplicate();
    byte[] out = new byte[d.remaining()];
    d.get(out);
    return out;
  }

  private static byte[] key(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private void assertDeadLetter(Behavior b, String reasonPart) {
    assertDeadLetter(key(b.getUserId()), BEHAVIOR.encode(b), reasonPart);
  }

  @Test
  void undecodableBytes() {
    assertDeadLetter(key("u1"), new byte[] {1, 2, 3, 4, 5}, "undecodable");
  }

  @Test
  void wrongSchema() {
    byte[] request = new AvroSerde<>(Request.class).encode(Request.newBuilder().setRequestId("r").setUserId("u1")
        .setTask("LaMP_2M").setInput("x").setRequestTime(Instant.EPOCH).build());
    assertDeadLetter(key("u1"), request, "wrong schema");
  }

  @Test
  void nullValue() {
    assertDeadLetter(key("u1"), null, "null value");
  }

  @Test
  void missingField() {
    assertDeadLetter(TestData.of("u1", "e", "LaMP_2M", Map.of("description", "a movie")), "tag");
  }

  @Test
  void emptyField() {
    assertDeadLetter(TestData.of("u1", "e", "LaMP_2M", Map.of("description", "  ", "tag", "comedy")), "description");
  }

  @Test
  void emptyEventId() {
    assertDeadLetter(TestData.movie("u1", "", "a movie", "comedy"), "eventId");
  }

  @Test
  void unknownTask() {
    assertDeadLetter(TestData.of("u1", "e", "LaMP_9", Map.of("text", "x")), "unknown task");
  }

  @Test
  void oversizeText() {
    assertDeadLetter(TestData.movie("u1", "e", "word ".repeat(5000), "comedy"), "oversize");
  }

  @Test
  void nanScore() {
    assertDeadLetter(TestData.of("u1", "e", "LaMP_3", Map.of("text", "great", "score", "NaN")), "outside");
  }

  @Test
  void outOfRangeScore() {
    assertDeadLetter(TestData.of("u1", "e", "LaMP_3", Map.of("text", "great", "score", "7")), "outside 1..5");
  }

  @Test
  void notANumberScore() {
    assertDeadLetter(TestData.of("u1", "e", "LaMP_3", Map.of("text", "great", "score", "five")), "not a number");
  }

  @Test
  void negativeEventTime() {
    Behavior b = TestData.movie("u1", "e", "a movie", "comedy");
    b.setEventTime(Instant.ofEpochMilli(-5));
    assertDeadLetter(b, "eventTime");
  }

  @Test
  void keyIsNotTheUser() {
    // u1's behavior under u2's key: the dead letter goes with u1, whose data it holds, never with u2
    assertDeadLetter(key("u2"), BEHAVIOR.encode(TestData.movie("u1", "e", "a movie", "comedy")), "keyed by user",
        "u1");
  }

  @Test
  void missingUserId() {
    assertDeadLetter(TestData.movie("", "e", "a movie", "comedy"), "userId");
  }

  @Test
  void missingUserIdAndKey() {
    assertDeadLetter(null, BEHAVIOR.encode(TestData.movie(" ", "e", "a movie", "comedy")), "userId");
  }

  @Test
  void noIndexableTerms() {
    assertDeadLetter(TestData.movie("u1", "e", "!!! ... ---", "comedy"), "no indexable terms");
  }

  // ---- triggers ----

  private static IngestConfig triggerConfig() {
    return IngestConfig.defaults().withTriggers(3, 1000, 5, 5, 0.35);
  }

  @Test
  void firstTriggerCarriesHistoryAndStaysPendingUntilItsResult() {
    try (Driver d = new Driver(triggerConfig(), stateDir)) {
      d.send(TestData.movie("u1", "e0", "one", "comedy"));
      d.send(TestData.movie("u1", "e1", "two", "comedy"));
      assertTrue(d.triggers.isEmpty());
      d.send(TestData.movie("u1", "e2", "three", "comedy"));
      long thirdArrival = d.now();
      List<KeyValue<String, TrainTrigger>> out = d.triggers.readKeyValuesToList();
      assertEquals(1, out.size());
      TrainTrigger t = out.get(0).value;
      assertEquals("u1", out.get(0).key);
      assertEquals("first", t.getReason());
      assertEquals(3.0, t.getScore());
      assertEquals("plain", t.getVariant());
      assertEquals("LaMP_2M", t.getTask());
      assertEquals(0L, t.getNewFromSeq());
      assertNull(t.getPreviousVersion());
      assertEquals(List.of(0L, 1L, 2L), t.getHistory().stream().map(HistoryItem::getSeq).toList());
      assertEquals(List.of("e0", "e1", "e2"), t.getHistory().stream().map(HistoryItem::getEventId).toList());
      assertEquals(thirdArrival, t.getHistory().get(2).getArrivalTime().toEpochMilli());
      assertEquals("three", t.getHistory().get(2).getFields().get("description"));

      // At most one pending: more items, even a lot, do not trigger again.
      for (int i = 3; i < 12; i++) {
        d.send(TestData.movie("u1", "e" + i, "more " + i, "action"));
      }
      assertTrue(d.triggers.isEmpty());
      // A result for some other trigger does not clear it.
      d.results.pipeInput("u1", result("not-it", true, 1L, 2), Instant.ofEpochMilli(d.now()));
      d.send(TestData.movie("u1", "e12", "more", "action"));
      assertTrue(d.triggers.isEmpty());

      // Its own result clears it; items that arrived during training are caught up on at once (new-items rule
      // off here, labels unknown until the AdapterVersion arrives): nothing yet.
      d.results.pipeInput("u1", result(t.getTriggerId(), true, 2L, 2), Instant.ofEpochMilli(d.now()));
      assertTrue(d.triggers.isEmpty());
      // The adapter says it was trained on comedy only; the recent window is all action: shift.
      d.adapters.pipeInput(Topics.adapterKey("u1", "LaMP_2M", "plain"), adapter("u1", 2L, 2, Map.of("comedy", 1.0)),
          Instant.ofEpochMilli(d.now()));
      d.send(TestData.movie("u1", "e13", "again", "action"));
      List<TrainTrigger> shift = d.triggers.readValuesToList();
      assertEquals(1, shift.size());
      assertEquals("shift-labels", shift.get(0).getReason());
      assertEquals(1.0, shift.get(0).getScore(), 1e-9);
      assertEquals(3L, shift.get(0).getNewFromSeq());
      assertEquals(2L, shift.get(0).getPreviousVersion());
      assertEquals(14, shift.get(0).getHistory().size());
    }
  }

  @Test
  void shiftIsScoredOnTheRecentWindowAgainstWhatTheAdapterWasTrainedOn() {
    try (Driver d = new Driver(triggerConfig(), stateDir)) {
      for (int i = 0; i < 3; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "comedy"));
      }
      TrainTrigger first = d.triggers.readValue();
      d.adapters.pipeInput(Topics.adapterKey("u1", "LaMP_2M", "plain"), adapter("u1", 1L, 2, Map.of("comedy", 3.0)),
          Instant.ofEpochMilli(d.now()));
      d.results.pipeInput("u1", result(first.getTriggerId(), true, 1L, 2), Instant.ofEpochMilli(d.now()));
      // Five more comedies: same distribution, no trigger.
      for (int i = 3; i < 8; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "comedy"));
      }
      assertTrue(d.triggers.isEmpty());
      // Window of 5: one action -> 0.2 (below 0.35), two -> 0.4: trigger.
      d.send(TestData.movie("u1", "e8", "movie 8", "action"));
      assertTrue(d.triggers.isEmpty());
      d.send(TestData.movie("u1", "e9", "movie 9", "action"));
      TrainTrigger shift = d.triggers.readValue();
      assertEquals("shift-labels", shift.getReason());
      assertEquals(0.4, shift.getScore(), 1e-9);
      assertEquals(3L, shift.getNewFromSeq());
      assertNull(shift.getReplayFromSeq(), "0.4 is a shift (>= 0.35) but not past the margin (0.45): old items stay");
      assertTrue(d.triggers.isEmpty());
      assertNull(first.getReplayFromSeq(), "no shift yet: replay from the start");
    }
  }

  @Test
  void afterAShiftLaterTriggersStillReplayOnlyTheNewBehavior() {
    // shift-min-items 2: the old behavior counts as known from 2 items
    IngestConfig c = IngestConfig.defaults().withTriggers(3, 3, 2, 5, 0.35);
    try (Driver d = new Driver(c, stateDir)) {
      for (int i = 0; i < 3; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "comedy"));
      }
      TrainTrigger first = d.triggers.readValue();
      d.adapters.pipeInput(Topics.adapterKey("u1", "LaMP_2M", "plain"), adapter("u1", 1L, 2, Map.of("comedy", 1.0)),
          Instant.ofEpochMilli(d.now()));
      d.results.pipeInput("u1", result(first.getTriggerId(), true, 1L, 2), Instant.ofEpochMilli(d.now()));
      // Three comedies: the same labels, no shift; new-items (3 >= 3), no replay bound.
      for (int i = 3; i < 6; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "comedy"));
      }
      TrainTrigger more = d.triggers.readValue();
      assertEquals("new-items", more.getReason());
      assertNull(more.getReplayFromSeq());
      d.adapters.pipeInput(Topics.adapterKey("u1", "LaMP_2M", "plain"), adapter("u1", 2L, 5, Map.of("comedy", 1.0)),
          Instant.ofEpochMilli(d.now()));
      // Five actions arrive while that training runs; its result then finds a shift, although the new-items rule
      // alone would also fire: the shift wins (1.0 >= 0.35 + 0.1, the old behavior known from 6 >= 2 items), so the
      // trainer replays only from seq 6.
      for (int i = 6; i < 11; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "action"));
      }
      d.results.pipeInput("u1", result(more.getTriggerId(), true, 2L, 5), Instant.ofEpochMilli(d.now()));
      TrainTrigger shift = d.triggers.readValue();
      assertEquals("shift-labels", shift.getReason());
      assertEquals(6L, shift.getReplayFromSeq());
      d.adapters.pipeInput(Topics.adapterKey("u1", "LaMP_2M", "plain"), adapter("u1", 3L, 10, Map.of("action", 1.0)),
          Instant.ofEpochMilli(d.now()));
      d.results.pipeInput("u1", result(shift.getTriggerId(), true, 3L, 10), Instant.ofEpochMilli(d.now()));
      for (int i = 11; i < 14; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "action"));
      }
      TrainTrigger after = d.triggers.readValue();
      assertEquals("new-items", after.getReason());
      assertEquals(6L, after.getReplayFromSeq(), "the shift point is remembered");
    }
  }

  @Test
  void itemsHeldOutForValidationAreCoveredByTheNextTriggerWithoutWaitingForMore() {
    IngestConfig c = IngestConfig.defaults().withTriggers(1, 1, 5, 20, 0.4);
    try (Driver d = new Driver(c, stateDir)) {
      d.send(TestData.movie("u1", "e0", "movie 0", "comedy"));
      TrainTrigger first = d.triggers.readValue();
      for (int i = 1; i < 12; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "comedy"));
      }
      d.results.pipeInput("u1", result(first.getTriggerId(), true, 1L, 0), Instant.ofEpochMilli(d.now()));
      TrainTrigger rest = d.triggers.readValue();
      assertEquals(12, rest.getHistory().size());
      // The trainer held the newest 2 items out: the version covers seq 9 of 11.
      d.results.pipeInput("u1", result(rest.getTriggerId(), true, 2L, 9), Instant.ofEpochMilli(d.now()));
      TrainTrigger heldOut = d.triggers.readValue();
      assertEquals("new-items", heldOut.getReason());
      assertEquals(10L, heldOut.getNewFromSeq());
      d.results.pipeInput("u1", result(heldOut.getTriggerId(), true, 3L, 11), Instant.ofEpochMilli(d.now()));
      assertTrue(d.triggers.isEmpty(), "everything covered: no more triggers");
    }
  }

  @Test
  void withATriggerDelayABurstTrainsOnceWithAllOfItsItems() {
    // The demo's and replay's policy (train from the first item, catch up after each training), with a delay.
    IngestConfig c = IngestConfig.defaults().withTriggers(1, 1, 5, 20, 0.4).withTriggerDelay(Duration.ofSeconds(2));
    try (Driver d = new Driver(c, stateDir)) {
      for (int i = 0; i < 6; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "comedy"));
        d.driver.advanceWallClockTime(Duration.ofMillis(300));
      }
      d.send(TestData.movie("u2", "f0", "movie f0", "action"));
      assertTrue(d.triggers.isEmpty(), "nothing evaluated while behaviors keep arriving");
      d.driver.advanceWallClockTime(Duration.ofMillis(1500));
      assertTrue(d.triggers.isEmpty(), "u1 paused 1.8 s, u2 1.5 s: not yet");
      d.driver.advanceWallClockTime(Duration.ofMillis(600));
      // u1 paused 2.4 s, u2 2.1 s: one trigger each, u1's with the whole burst
      Map<String, TrainTrigger> got = new HashMap<>();
      d.triggers.readKeyValuesToList().forEach(kv -> got.put(kv.key, kv.value));
      assertEquals(2, got.size(), got.keySet().toString());
      assertEquals(6, got.get("u1").getHistory().size());
      assertEquals("first", got.get("u1").getReason());
      assertEquals(1, got.get("u2").getHistory().size());
      d.driver.advanceWallClockTime(Duration.ofSeconds(10));
      assertTrue(d.triggers.isEmpty(), "each (user, task) evaluated once");
      assertEquals(2.0, d.metric(IngestTopology.METRIC_TRIGGERS), 1e-9);
      // A result catches up at once with what arrived meanwhile, as without the delay.
      d.send(TestData.movie("u1", "e6", "movie 6", "comedy"));
      d.results.pipeInput("u1", result(got.get("u1").getTriggerId(), true, 1L, 5), Instant.ofEpochMilli(d.now()));
      assertEquals(7, d.triggers.readValue().getHistory().size());
    }
  }

  @Test
  void withATriggerDelayAUserWhoNeverPausesStillTrainsAfterTenDelays() {
    IngestConfig c = IngestConfig.defaults().withTriggers(1, 1, 5, 20, 0.4)
        .withTriggerDelay(Duration.ofMillis(500));
    try (Driver d = new Driver(c, stateDir)) {
      int sent = 0;
      while (d.triggers.isEmpty() && sent < 40) {
        d.send(TestData.movie("u1", "e" + sent, "movie " + sent, "comedy"));
        sent++;
        d.driver.advanceWallClockTime(Duration.ofMillis(200));
      }
      // every 200 ms: never a 500 ms pause; due 5 s after the first, i.e. within the 26th behavior's punctuations
      assertTrue(sent >= 25 && sent <= 27, "trigger after " + sent + " behaviors");
      assertEquals(sent, d.triggers.readValue().getHistory().size());
    }
  }

  @Test
  void trainStateOfTheFirstFormatStillDecodes() {
    byte[] v2 = new TrainState(null, 3, 7, Map.of("a", 1.0), 9, false, 5).encode();
    byte[] v1 = java.util.Arrays.copyOf(v2, v2.length - Long.BYTES);
    v1[0] = 1;
    assertEquals(new TrainState(null, 3, 7, Map.of("a", 1.0), 9, false, -1), TrainState.decode(v1));
  }

  @Test
  void rejectedResultWaitsForMoreItemsBeforeRetrying() {
    try (Driver d = new Driver(triggerConfig(), stateDir)) {
      for (int i = 0; i < 3; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "comedy"));
      }
      TrainTrigger first = d.triggers.readValue();
      TrainResult rejected = result(first.getTriggerId(), false, null, 2);
      d.results.pipeInput("u1", rejected, Instant.ofEpochMilli(d.now()));
      for (int i = 3; i < 7; i++) {
        d.send(TestData.movie("u1", "e" + i, "movie " + i, "comedy"));
      }
      assertTrue(d.triggers.isEmpty(), "4 new items < shift-min-items 5");
      d.send(TestData.movie("u1", "e7", "movie 7", "comedy"));
      TrainTrigger retry = d.triggers.readValue();
      assertEquals("first", retry.getReason());
      assertEquals(8, retry.getHistory().size());
    }
  }

  @Test
  void newItemsTriggerAndOneTriggerPerConfiguredVariant() {
    IngestConfig c = IngestConfig.defaults().withTriggers(2, 4, 100, 5, 0.35).withVariants(List.of("plain", "rag"));
    try (Driver d = new Driver(c, stateDir)) {
      d.send(TestData.of("u1", "e0", "LaMP_4", Map.of("text", "article one", "title", "headline one")));
      d.send(TestData.of("u1", "e1", "LaMP_4", Map.of("text", "article two", "title", "headline two")));
      List<TrainTrigger> firsts = d.triggers.readValuesToList();
      assertEquals(List.of("plain", "rag"), firsts.stream().map(TrainTrigger::getVariant).toList());
      TrainTrigger plain = firsts.get(0);
      d.results.pipeInput("u1", result(plain.getTriggerId(), true, 1L, 1, "LaMP_4", "plain"),
          Instant.ofEpochMilli(d.now()));
      for (int i = 2; i < 6; i++) {
        d.send(TestData.of("u1", "e" + i, "LaMP_4", Map.of("text", "article " + i, "title", "headline " + i)));
      }
      List<TrainTrigger> next = d.triggers.readValuesToList();
      assertEquals(1, next.size(), "rag still pending; plain gets new-items");
      assertEquals("new-items", next.get(0).getReason());
      assertEquals("plain", next.get(0).getVariant());
      assertEquals(4.0, next.get(0).getScore());
      assertEquals(2L, next.get(0).getNewFromSeq());
    }
  }

  @Test
  void badTrainResultAndAdapterRecordsAreDeadLettered() {
    try (Driver d = new Driver(triggerConfig(), stateDir)) {
      d.driver.createInputTopic(d.topics.trainResults.name(), new org.apache.kafka.common.serialization
          .ByteArraySerializer(), new org.apache.kafka.common.serialization.ByteArraySerializer())
          .pipeInput(key("u1"), new byte[] {9, 9});
      d.driver.createInputTopic(d.topics.adapters.name(), new org.apache.kafka.common.serialization
          .ByteArraySerializer(), new org.apache.kafka.common.serialization.ByteArraySerializer())
          .pipeInput(key("u1|LaMP_2M|plain"), new byte[] {9, 9});
      List<DeadLetter> dls = d.deadLetters.readValuesToList();
      assertEquals(2, dls.size());
      assertEquals(d.topics.trainResults.name(), dls.get(0).getSourceTopic());
      assertEquals(d.topics.adapters.name(), dls.get(1).getSourceTopic());
    }
  }

  @Test
  void adaptersWithAKeyNotTheirOwnAnUnknownTaskOrABadTombstoneKeyAreDeadLettered() {
    try (Driver d = new Driver(triggerConfig(), stateDir)) {
      AdapterVersion u2s = AdapterVersion.newBuilder(adapter("u2", 1L, 2, Map.of("comedy", 1.0))).build();
      d.adapters.pipeInput(Topics.adapterKey("u1", "LaMP_2M", "plain"), u2s);
      AdapterVersion unknownTask = AdapterVersion.newBuilder(adapter("u1", 1L, 2, Map.of())).setTask("LaMP_9").build();
      d.adapters.pipeInput(Topics.adapterKey("u1", "LaMP_9", "plain"), unknownTask);
      d.adapters.pipeInput("not-an-adapter-key", (AdapterVersion) null);
      List<DeadLetter> dls = d.deadLetters.readValuesToList();
      assertEquals(3, dls.size(), dls.toString());
      assertTrue(dls.get(0).getReason().contains("is not the adapter's key u2|LaMP_2M|plain"), dls.get(0).getReason());
      assertTrue(dls.get(1).getReason().contains("unknown task 'LaMP_9'"), dls.get(1).getReason());
      assertTrue(dls.get(2).getReason().contains("not user|task|variant"), dls.get(2).getReason());
      for (DeadLetter dl : dls) {
        assertEquals(d.topics.adapters.name(), dl.getSourceTopic());
      }
      assertNull(d.store(StoreNames.TRAIN_STATE_STORE).get(Triggers.stateKey("u2", "LaMP_2M", "plain")));
      assertNull(d.store(StoreNames.TRAIN_STATE_STORE).get(Triggers.stateKey("u1", "LaMP_2M", "plain")));
    }
  }

  static TrainResult result(String triggerId, boolean accepted, Long version, long covered) {
    return result(triggerId, accepted, version, covered, "LaMP_2M", "plain");
  }

  static TrainResult result(String triggerId, boolean accepted, Long version, long covered, String task,
      String variant) {
    return TrainResult.newBuilder().setTriggerId(triggerId).setUserId("u1").setTask(task).setVariant(variant)
        .setAccepted(accepted).setReason(accepted ? "published" : "worse held-out loss").setVersion(version)
        .setCoveredSeq(covered).setFinishedAt(Instant.EPOCH).build();
  }

  static AdapterVersion adapter(String user, long version, long covered, Map<String, Double> dist) {
    return AdapterVersion.newBuilder().setUserId(user).setTask("LaMP_2M").setVariant("plain").setVersion(version)
        .setTriggerId("t").setCoveredSeq(covered).setItemsTrained(3).setLossBefore(1).setLossAfter(0.5)
        .setTrainMillis(10).setPublishedAt(Instant.EPOCH).setBaseFingerprint("b").setTaskFingerprint("t")
        .setAdapterConfig("{}").setWeights(ByteBuffer.wrap(new byte[1000])).setWeightsSha256("x")
        .setLabelDistribution(new HashMap<>(dist)).build();
  }

  @Test
  void trainStateRoundTrips() {
    TrainState s = new TrainState("t1", 3, 7, Map.of("a", 0.5, "b", 0.5), 9, true, 5);
    assertEquals(s, TrainState.decode(s.encode()));
    assertNotNull(TrainState.decode(null));
  }
}
