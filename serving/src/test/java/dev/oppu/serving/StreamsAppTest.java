package dev.oppu.serving;

import static dev.oppu.serving.Fixtures.input;
import static dev.oppu.serving.Fixtures.item;
import static dev.oppu.serving.Fixtures.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Profiles;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.serving.BatchGenerator.Row;
import dev.oppu.streams.IngestConfig;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Ingestion and serving in one topology: serving reads the real history, BM25 index and profile of the user. */
class StreamsAppTest {
  private final Topics topics = Topics.defaults();
  private final FakeGenerator gen = new FakeGenerator();
  private final GivenProfiles given = GivenProfiles.none();
  private Topology topology;
  private TopologyTestDriver driver;
  private TestInputTopic<String, Behavior> behaviors;
  private TestInputTopic<String, byte[]> requests;
  private TestInputTopic<String, AdapterVersion> adapters;
  private TestInputTopic<String, byte[]> rawAdapters;
  private TestOutputTopic<String, Response> responses;
  private TestOutputTopic<String, DeadLetter> deadLetters;
  private int events;

  private TestOutputTopic<String, TrainTrigger> triggers;
  private Path state;

  @BeforeEach
  void start(@TempDir Path state) {
    this.state = state;
    start(IngestConfig.defaults());
  }

  private void start(IngestConfig ingest) {
    ServingConfig cfg = ServingConfig.defaults().withMaxBatch(1);
    topology = StreamsApp.topology(topics, ingest, cfg, gen, new AdapterCache(8, 1 << 20), given);
    Properties o = new Properties();
    o.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
    driver = new TopologyTestDriver(topology, StreamsApp.config("app-test", "dummy:9092", cfg, o), Instant.now());
    behaviors = driver.createInputTopic(topics.behaviors.name(), Serdes.String().serializer(),
        topics.behaviors.valueSerde().serializer());
    requests = driver.createInputTopic(topics.requests.name(), Serdes.String().serializer(),
        Serdes.ByteArray().serializer());
    adapters = driver.createInputTopic(topics.adapters.name(), Serdes.String().serializer(),
        topics.adapters.valueSerde().serializer());
    rawAdapters = driver.createInputTopic(topics.adapters.name(), Serdes.String().serializer(),
        Serdes.ByteArray().serializer());
    responses = driver.createOutputTopic(topics.responses.name(), Serdes.String().deserializer(),
        topics.responses.valueSerde().deserializer());
    deadLetters = driver.createOutputTopic(topics.deadLetters.name(), Serdes.String().deserializer(),
        topics.deadLetters.valueSerde().deserializer());
    triggers = driver.createOutputTopic(topics.trainTriggers.name(), Serdes.String().deserializer(),
        topics.trainTriggers.valueSerde().deserializer());
  }

  @AfterEach
  void stop() {
    driver.close();
  }

  private void behave(String user, Task task, String itemId, Map<String, String> fields) {
    behaviors.pipeInput(user, Behavior.newBuilder().setEventId("e" + (++events)).setUserId(user).setTask(task.id())
        .setEventTime(Instant.now()).setItemId(itemId).setFields(fields).build());
  }

  private void ask(Request r) {
    requests.pipeInput(r.getUserId(), new AvroSerde<>(Request.class).encode(r));
  }

  @Test
  void servingJoinsTheSubTopologyOfTheUsersHistory() {
    int servingSubtopologies = 0;
    for (TopologyDescription.Subtopology s : topology.describe().subtopologies()) {
      boolean serving = s.nodes().stream().anyMatch(n -> n.name().equals("serving-requests-processor"));
      if (serving) {
        servingSubtopologies++;
        assertTrue(s.nodes().stream().anyMatch(n -> n.name().equals("oppu-ingest-behaviors")),
            "requests and behaviors meet in one sub-topology (co-partitioned tasks)");
        assertTrue(s.nodes().stream().anyMatch(n -> n.name().equals("serving-adapter-materializer")));
      }
    }
    assertEquals(1, servingSubtopologies, "sub-topologies holding the serving processor");
  }

  @Test
  void adaptersAreRepartitionedByUserOnceForIngestionAndServing() {
    List<String> repartitionSinks = new ArrayList<>();
    for (TopologyDescription.Subtopology s : topology.describe().subtopologies()) {
      for (TopologyDescription.Node n : s.nodes()) {
        if (n instanceof TopologyDescription.Sink sink && sink.topic().endsWith("-repartition")) {
          repartitionSinks.add(sink.topic());
        }
        if (n instanceof TopologyDescription.Source source
            && source.topicSet().contains(StoreNames.ADAPTERS_BY_USER + "-repartition")) {
          assertEquals(Set.of("oppu-ingest-adapters", "serving-adapter-materializer"),
              n.successors().stream().map(TopologyDescription.Node::name).collect(Collectors.toSet()),
              "ingestion's train state and serving's adapter store read the same adapters by user");
        }
      }
    }
    assertEquals(List.of(StoreNames.ADAPTERS_BY_USER + "-repartition"), repartitionSinks);
  }

  @Test
  void aBadAdapterIsDeadLetteredOnceAndNeverServed() {
    String key = Topics.adapterKey("u1", Task.NEWS_HEADLINE.id(), "plain");
    rawAdapters.pipeInput(key, new byte[] {9, 9});
    AdapterVersion outside = AdapterVersion.newBuilder(
            Fixtures.adapter("u1", Task.NEWS_HEADLINE, "plain", 9, "base-fp", "task-fp"))
        .setWeights(null).setWeightsPath("/dev/zero").setWeightsSha256("0".repeat(64)).build();
    adapters.pipeInput(key, outside);
    List<DeadLetter> dls = deadLetters.readValuesToList();
    assertEquals(2, dls.size(), "one dead letter per bad record: " + dls);
    assertTrue(dls.get(0).getReason().startsWith("adapter version: "), dls.get(0).getReason());
    assertTrue(dls.get(1).getReason().startsWith("adapter refused: "), dls.get(1).getReason());
    ask(request("a1", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "storm"), "OPPU"));
    assertNull(responses.readValue().getAdapterVersion());
  }

  @Test
  void ragRetrievesFromTheUsersOwnHistoryByBm25() {
    behave("u1", Task.MOVIE_TAGGING, "m1", item(Task.MOVIE_TAGGING, "a quiet family drama by the sea", "classic"));
    behave("u1", Task.MOVIE_TAGGING, "m2", item(Task.MOVIE_TAGGING, "robots rebel against their makers", "sci-fi"));
    behave("u1", Task.MOVIE_TAGGING, "m3", item(Task.MOVIE_TAGGING, "robots and aliens in deep space", "sci-fi"));
    behave("u2", Task.MOVIE_TAGGING, "x1", item(Task.MOVIE_TAGGING, "robots robots robots space space", "action"));
    Request r = request("q1", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "robots in deep space"), "RAG");
    r.setK(2);
    ask(r);
    Response out = responses.readValue();
    assertNull(out.getError());
    assertEquals(List.of("m3", "m2"), out.getRetrievedItemIds());
    assertFalse(out.getCold());
    Row row = gen.allRows().get(0);
    assertTrue(row.prompt().startsWith("description: robots and aliens in deep space tag: sci-fi\n"
        + "description: robots rebel against their makers tag: sci-fi\n\nWhich tag"), row.prompt());
    assertFalse(row.prompt().contains("robots robots"), "never another user's history");
  }

  @Test
  void pagUsesTheGivenProfileElseOneBuiltFromHistory() {
    List<Map<String, String>> items = List.of(item(Task.NEWS_CATEGORIZE, "the senate votes on a budget", "politics"),
        item(Task.NEWS_CATEGORIZE, "the team wins the cup", "sports"),
        item(Task.NEWS_CATEGORIZE, "new tax plan debated", "politics"));
    for (int i = 0; i < items.size(); i++) {
      behave("u1", Task.NEWS_CATEGORIZE, "n" + i, items.get(i));
    }
    ask(request("p1", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget talks"), "PAG"));
    String built = Profiles.fromHistory(Task.NEWS_CATEGORIZE, items);
    assertTrue(gen.allRows().get(0).prompt().startsWith(built + "\n\nWhich category"), gen.allRows().get(0).prompt());
    assertFalse(responses.readValue().getCold());

    given.put(Task.NEWS_CATEGORIZE, "u1", "Reads about politics.");
    ask(request("p2", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget talks"), "PAG"));
    assertTrue(gen.allRows().get(1).prompt().startsWith("Reads about politics.\n\nWhich category"));

    ask(request("p3", "nobody", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget talks"), "PAG"));
    responses.readValue();
    Response cold = responses.readValue();
    assertTrue(cold.getCold(), "no history, no given profile: answered cold");
    assertTrue(gen.allRows().get(2).prompt().startsWith("\nWhich category"));
  }

  @Test
  void adaptersArriveThroughTheSharedSource() {
    adapters.pipeInput(Topics.adapterKey("u1", Task.NEWS_HEADLINE.id(), "plain"),
        Fixtures.adapter("u1", Task.NEWS_HEADLINE, "plain", 9, "base-fp", "task-fp"));
    ask(request("a1", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "storm"), "OPPU"));
    Response r = responses.readValue();
    assertEquals(9L, r.getAdapterVersion());
    assertEquals("adapter u1 v9", r.getOutput());
  }

  @Test
  void thePagAdapterTrainsWithTheProfileServingPromptsWith() {
    driver.close();
    state = state.resolve("pag"); // a fresh state directory for the reconfigured application
    start(IngestConfig.defaults().withVariants(List.of("rag", "pag")).withTriggers(3, 3, 5, 5, 0.4));
    List<Map<String, String>> items = List.of(item(Task.NEWS_CATEGORIZE, "the senate votes on a budget", "politics"),
        item(Task.NEWS_CATEGORIZE, "the team wins the cup", "sports"),
        item(Task.NEWS_CATEGORIZE, "new tax plan debated", "politics"));
    for (int i = 0; i < items.size(); i++) {
      behave("u1", Task.NEWS_CATEGORIZE, "n" + i, items.get(i));
    }
    List<TrainTrigger> out = triggers.readValuesToList();
    TrainTrigger pag = out.stream().filter(t -> t.getVariant().equals("pag")).findFirst().orElseThrow();
    assertNull(out.stream().filter(t -> t.getVariant().equals("rag")).findFirst().orElseThrow().getProfile());
    ask(request("p1", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget talks"), "OPPU+PAG"));
    String prompt = gen.allRows().get(0).prompt();
    assertTrue(pag.getProfile() != null && !pag.getProfile().isEmpty(), "the pag trigger carries a profile");
    assertTrue(prompt.startsWith(pag.getProfile() + "\n"), "trained with the profile serving prompts with:\n"
        + pag.getProfile() + "\n---\n" + prompt);
    assertEquals(Profiles.fromHistory(Task.NEWS_CATEGORIZE, items), pag.getProfile());

    // A given profile (oppu.serving.profiles.<task>) is what serving uses: the next pag trigger carries it too.
    given.put(Task.NEWS_CATEGORIZE, "u1", "Reads about politics.");
    driver.createInputTopic(topics.trainResults.name(), Serdes.String().serializer(),
        topics.trainResults.valueSerde().serializer()).pipeInput("u1", TrainResult.newBuilder()
            .setTriggerId(pag.getTriggerId()).setUserId("u1").setTask(Task.NEWS_CATEGORIZE.id()).setVariant("pag")
            .setAccepted(true).setReason("published").setVersion(1L).setCoveredSeq(2).setFinishedAt(Instant.now())
            .build());
    for (int i = 3; i < 6; i++) {
      behave("u1", Task.NEWS_CATEGORIZE, "n" + i, item(Task.NEWS_CATEGORIZE, "budget vote " + i, "politics"));
    }
    TrainTrigger next = triggers.readValuesToList().stream().filter(t -> t.getVariant().equals("pag")).findFirst()
        .orElseThrow();
    ask(request("p2", "u1", Task.NEWS_CATEGORIZE, input(Task.NEWS_CATEGORIZE, "budget talks"), "OPPU+PAG"));
    assertEquals("Reads about politics.", next.getProfile());
    assertTrue(gen.allRows().get(1).prompt().startsWith("Reads about politics.\n"), gen.allRows().get(1).prompt());
  }
}
