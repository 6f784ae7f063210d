package dev.oppu.evaluation.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.Golds;
import dev.oppu.lamp.data.LampFiles;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The replay engine against a real broker, with {@link FakeSystem} (a test double) in place of the services. */
@ExtendWith(KafkaExtension.class)
class ReplayEngineTest {

  private static final String DESC = "[1] description: ";

  private static ReplayData.Item item(String id, String desc, String tag, Long date) {
    return new ReplayData.Item(id, Map.of("description", desc, "tag", tag), date);
  }

  private static ReplayData.Dataset dataset() {
    // alice's items are listed out of date order; bob has no dates (file order); carol's adapters never come.
    var alice = new ReplayData.User("alice", List.of(
        item("a3", "a space ship", "sci-fi", 3_000L), item("a1", "a robot", "sci-fi", 1_000L),
        item("a2", "a laser", "sci-fi", 2_000L), item("a4", "an alien", "sci-fi", 4_000L)),
        List.of(new ReplayData.Query("q-alice", "Tag: " + DESC + "a moon base", "sci-fi")));
    var bob = new ReplayData.User("bob", List.of(
        item("b2", "a clown", "comedy", null), item("b1", "a joke", "comedy", null)),
        List.of(new ReplayData.Query("q-bob", "Tag: " + DESC + "a prank", "comedy")));
    var carol = new ReplayData.User("carol", List.of(item("c1", "a wizard", "fantasy", 500L),
        item("c2", "a dragon", "fantasy", 600L)),
        List.of(new ReplayData.Query("q-carol", "Tag: " + DESC + "an elf", "fantasy")));
    return new ReplayData.Dataset(Task.MOVIE_TAGGING, List.of(alice, bob, carol));
  }

  @Test
  void eventsAreInTimeOrderPerUserAndRequestIdsNameQueryAndMode() {
    List<Behavior> events = ReplayEngine.events(List.of(dataset()), 10_000L);
    List<String> alice = events.stream().filter(b -> b.getUserId().equals("alice")).map(Behavior::getItemId).toList();
    assertEquals(List.of("a1", "a2", "a3", "a4"), alice);
    List<String> bob = events.stream().filter(b -> b.getUserId().equals("bob")).map(Behavior::getItemId).toList();
    assertEquals(List.of("b2", "b1"), bob, "undated items keep file order");
    // Globally ordered by date: carol's items (500, 600) come before alice's first (1000).
    assertEquals("c1", events.get(0).getItemId());
    assertEquals("LaMP_2M/alice/a1",
        events.stream().filter(b -> b.getItemId().equals("a1")).findFirst().orElseThrow().getEventId());
    var reqs = ReplayEngine.requests(dataset(), List.of(Modes.OPPU, Modes.RAG), null);
    assertEquals(6, reqs.size());
    assertEquals("q-alice/OPPU", reqs.get(0).getRequestId());
    assertEquals("q-alice/RAG", reqs.get(1).getRequestId());
  }

  @Test
  void replayWaitsForAdaptersAsksEveryModeScoresAndReportsWhatIsMissing(SharedKafka kafka, @TempDir Path out)
      throws Exception {
    Topics topics = kafka.freshTopics("replay", 2);
    ReplayData.Dataset data = dataset();
    // OPPU answers the gold, non-personalized always "comedy", RAG leaves q-bob unanswered.
    Map<String, String> golds = Map.of("q-alice", "sci-fi", "q-bob", "comedy", "q-carol", "fantasy");
    try (FakeSystem fake = new FakeSystem(kafka.clientConfig(), topics, 2, Set.of("carol"), r -> {
      String q = r.getRequestId().substring(0, r.getRequestId().indexOf('/'));
      return switch (r.getMode()) {
        case Modes.OPPU -> golds.get(q);
        case Modes.RAG -> q.equals("q-bob") ? null : "comedy";
        default -> "comedy";
      };
    })) {
      ReplayEngine.Options opts = ReplayEngine.Options.defaults()
          .withModes(List.of(Modes.NON_PERSONALIZED, Modes.RAG, Modes.OPPU))
          // answers get a generous timeout (a busy CI machine); only q-bob's RAG answer, never sent, waits it out
          .withTimeouts(Duration.ofSeconds(4), Duration.ofSeconds(30));
      ReplayResult r = new ReplayEngine(kafka.clientConfig(), topics, opts).run(List.of(data));
      assertNull(fake.failure);

      // Published per user in time order.
      List<String> alice = fake.received().stream().filter(b -> b.getUserId().equals("alice"))
          .map(Behavior::getItemId).toList();
      assertEquals(List.of("a1", "a2", "a3", "a4"), alice);
      assertEquals(8, r.timing().eventsPublished());

      // Only the plain variant is needed (OPPU); carol's adapter never came: reported, not hidden.
      assertEquals(3, r.coverage().total());
      assertEquals(2, r.coverage().covered());
      assertTrue(r.coverage().timedOut());
      assertTrue(r.coverage().uncovered().containsKey("carol|LaMP_2M|plain"), r.coverage().uncovered().toString());

      // Scores: OPPU perfect, non-personalized 1 of 3; RAG not scored (q-bob missing) and says so.
      assertEquals(1.0, r.metrics().get(Modes.OPPU).get("LaMP_2M").get("accuracy"), 1e-9);
      assertEquals(1.0 / 3, r.metrics().get(Modes.NON_PERSONALIZED).get("LaMP_2M").get("accuracy"), 1e-9);
      assertFalse(r.metrics().containsKey(Modes.RAG));
      ReplayResult.Stats rag = r.stats().get(Modes.RAG).get("LaMP_2M");
      assertEquals(1, rag.missing());
      assertEquals(List.of("q-bob"), rag.firstMissing());
      assertEquals(1, r.stats().get(Modes.OPPU).get("LaMP_2M").cold(), "carol had no adapter");

      // Lag measured for every event an adapter covers (alice 4, bob 2).
      assertEquals(6, r.lags().get("plain").covered());
      assertTrue(r.lags().get("plain").p99Millis() >= r.lags().get("plain").p50Millis());
      // Every covering version carries its trigger and start times: the breakdown has every covered event.
      ReplayResult.LagBreakdown parts = r.lags().get("plain").breakdown();
      assertEquals(6, parts.events());
      assertEquals(0, parts.queued().p99Millis(), "the fake trains at once");
      assertEquals(1.0, parts.untilTrigger().share() + parts.queued().share() + parts.training().share(), 1e-9);

      ReplayOutput.write(r, out);
      Golds preds = LampFiles.readGolds(out.resolve("predictions/OPPU/LaMP_2M_outputs.json"));
      assertEquals("LaMP_2M", preds.task());
      assertEquals(golds, preds.outputs());
      assertEquals(2, LampFiles.readGolds(out.resolve("predictions/RAG/LaMP_2M_outputs.json")).outputs().size());
      JsonNode results = ReplayOutput.JSON.readTree(Files.readString(out.resolve("results.json")));
      assertEquals(1.0, results.path("OPPU").path("LaMP_2M").path("accuracy").asDouble(), 1e-9);
      assertTrue(results.path("OPPU").path("LaMP_2M").has("f1"));
      assertTrue(results.path("RAG").isMissingNode());
      JsonNode details = ReplayOutput.JSON.readTree(Files.readString(out.resolve("replay.json")));
      assertEquals(1, details.path("requests").path("RAG").path("LaMP_2M").path("missing").asInt());
    }
  }

  @Test
  void lagBreakdownSplitsEachLagInThree() {
    // Four events: until trigger, queued, training (ms), by hand.
    long[] until = {100, 0, 200, 100};
    long[] queued = {1000, 3000, 0, 2000};
    long[] training = {500, 500, 800, 500};
    ReplayResult.LagBreakdown b = ReplayResult.LagBreakdown.of(until, queued, training, 3, 1800);
    assertEquals(4, b.events());
    // total 8700 ms: 400 until, 6000 queued, 2300 training
    assertEquals(400 / 8700.0, b.untilTrigger().share(), 1e-12);
    assertEquals(6000 / 8700.0, b.queued().share(), 1e-12);
    assertEquals(2300 / 8700.0, b.training().share(), 1e-12);
    // nearest rank: p50 of 4 values is the 2nd smallest, p99 the largest
    assertEquals(1000, b.queued().p50Millis());
    assertEquals(3000, b.queued().p99Millis());
    assertEquals(500, b.training().p50Millis());
    assertEquals(800, b.training().p99Millis());
    assertEquals(3, b.versions());
    assertEquals(1800, b.trainingMillis());
    assertTrue(b.summary().contains("queued for the trainer p99 3.0 s (69%)"), b.summary());
    assertEquals(0, ReplayResult.LagBreakdown.of(new long[0], new long[0], new long[0], 0, 0).events());
  }

  @Test
  void lagPercentilesComeFromTheMeasuredValues() {
    long[] lags = new long[100];
    for (int i = 0; i < 100; i++) {
      lags[i] = (i + 1) * 10L;
    }
    ReplayResult.Lag lag = ReplayEngine.lag(lags, 120);
    assertEquals(100, lag.covered());
    assertEquals(120, lag.events());
    assertEquals(500, lag.p50Millis(), 1);
    assertEquals(990, lag.p99Millis(), 1);
    assertEquals(1000, lag.maxMillis(), 1);
    assertEquals(0, ReplayEngine.lag(new long[0], 5).covered());
  }
}
