package dev.oppu.serving;

import static dev.oppu.serving.Fixtures.adapter;
import static dev.oppu.serving.Fixtures.input;
import static dev.oppu.serving.Fixtures.item;
import static dev.oppu.serving.Fixtures.request;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.BatchGenerator.Row;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ServingTopologyTest {
  private final Topics topics = Topics.defaults();
  private final AvroSerde<Request> requestSerde = new AvroSerde<>(Request.class);
  private final FakeGenerator gen = new FakeGenerator();
  private final MapUserData users = new MapUserData();
  /**
   * The test's wall clock: serving reads a clock fixed here and the driver's mocked wall clock, which starts here and
   * moves only by {@code advanceWallClockTime}; so "now" in serving is {@code T0} plus what the test advanced.
   */
  private static final Instant T0 = Instant.parse("2026-01-05T12:00:00Z");
  private AdapterCache cache;
  private ServingDriver serving;
  private TopologyTestDriver driver;
  private TestInputTopic<String, byte[]> requests;
  private TestInputTopic<String, AdapterVersion> adapters;
  private TestOutputTopic<String, Response> responses;
  private TestOutputTopic<String, DeadLetter> deadLetters;

  private void start(ServingConfig config) {
    cache = new AdapterCache(config.cacheMaxAdapters(), config.cacheMaxBytes());
    serving = new ServingDriver(config, gen, cache, users, Clock.fixed(T0, ZoneOffset.UTC), T0,
        Path.of(System.getProperty("java.io.tmpdir"), "serving-ttd"));
    driver = serving.driver;
    requests = serving.requests;
    adapters = serving.adapters;
    responses = serving.responses;
    deadLetters = serving.deadLetters;
  }

  @AfterEach
  void close() {
    if (serving != null) {
      serving.close();
    }
  }

  private void send(Request r) {
    requests.pipeInput(r.getUserId(), requestSerde.encode(r));
  }

  private void publish(AdapterVersion v) {
    adapters.pipeInput(Topics.adapterKey(v.getUserId(), v.getTask(), v.getVariant()), v);
  }

  /** One request per batch, free generation: the fake generator's answers then name the adapter that decoded them. */
  private static ServingConfig unbatched() {
    return ServingConfig.defaults().withMaxBatch(1).withConstrained(false);
  }

  @Test
  void aRevokedAdapterIsNotUsed() {
    start(unbatched());
    AdapterVersion v = Fixtures.adapter("u1", Task.NEWS_HEADLINE, "plain", 2, FakeGenerator.RUNNING.base(),
        FakeGenerator.RUNNING.task());
    publish(v);
    send(request("r1", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "storm"), "OPPU"));
    assertEquals(2L, responses.readValue().getAdapterVersion());
    users.revoked.add(v.getTriggerId()); // its user was deleted while it trained: the deletion fenced it
    send(request("r2", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "storm"), "OPPU"));
    Response r = responses.readValue();
    assertNull(r.getAdapterVersion());
    assertTrue(r.getCold());
  }

  @Test
  void promptOfEveryTaskAndMode() {
    start(unbatched());
    // the task prompt of each task as SPEC section 2 quotes it, filled with the text cut out of the input
    Map<Task, String> expected = Map.of(
        Task.CITATION, "Identify the most relevant reference for the listed publication by the researcher. Select the"
            + " reference paper that is most closely related to the researcher's work.\npaper title: Q reference:"
            + "\n[1]: \"Graph kernels revisited\"\n[2]: \"Sparse attention at scale\"\nanswer with [1] or [2]",
        Task.NEWS_CATEGORIZE, "Which category does this article relate to among the following categories? Just answer"
            + " with the category name without further explanation. categories: [travel, education, parents, style &"
            + " beauty, entertainment, food & drink, science & technology, business, sports, healthy living, women,"
            + " politics, crime, culture & arts, religion]\n article: Q category:",
        Task.MOVIE_TAGGING, "Which tag does this movie relate to among the following tags? Just answer with the tag"
            + " name without further explanation. tags: [sci-fi, based on a book, comedy, action, twist ending,"
            + " dystopia, dark comedy, classic, psychology, fantasy, romance, thought-provoking, social commentary,"
            + " violence, true story]\n description: Q tag:",
        Task.PRODUCT_RATING, "What is the score of the following review on a scale of 1 to 5? just answer with 1, 2,"
            + " 3, 4, or 5 without further explanation. review: Q\n score:",
        Task.NEWS_HEADLINE, "Generate a headline for the following article.\narticle: Q headline:",
        Task.SCHOLARLY_TITLE, "Generate a title for the following abstract of a paper.\n abstract: Q title:",
        Task.TWEET_PARAPHRASE, "Paraphrase the following text into tweet without any explanation before or after"
            + " it.\n text: Q tweet:");
    Map<Task, String> rendered = Map.of(
        Task.CITATION, "paper title: Q one\n",
        Task.NEWS_CATEGORIZE, "article: Q one category: L\n",
        Task.MOVIE_TAGGING, "description: Q one tag: L\n",
        Task.PRODUCT_RATING, "review: Q one score: L\n",
        Task.NEWS_HEADLINE, "article: Q one headline: L\n",
        Task.SCHOLARLY_TITLE, "abstract: Q one title: L\n",
        Task.TWEET_PARAPHRASE, "tweet: Q one\n");
    users.profiles.put("u1", "likes Q");
    for (Task t : Task.values()) {
      users.histories.clear();
      users.add("u1", "i-other", item(t, "unrelated words", "L"));
      users.add("u1", "i-match", item(t, "Q one", "L"));
      gen.batches.clear();
      for (Mode m : Mode.values()) {
        send(request(t + "-" + m, "u1", t, input(t, "Q"), m.id()));
      }
      List<Row> rows = gen.allRows();
      assertEquals(Mode.values().length, rows.size(), t.id());
      String p = expected.get(t);
      assertEquals("\n" + p, rows.get(Mode.NON_PERSONALIZED.ordinal()).prompt(), t + " non-personalized");
      assertEquals(rendered.get(t) + "\n" + p, rows.get(Mode.RAG.ordinal()).prompt(), t + " RAG");
      assertEquals("likes Q\n\n" + p, rows.get(Mode.PAG.ordinal()).prompt(), t + " PAG");
      assertEquals("\n" + p, rows.get(Mode.OPPU.ordinal()).prompt(), t + " OPPU");
      assertEquals(rendered.get(t) + "\n" + p, rows.get(Mode.OPPU_RAG.ordinal()).prompt(), t + " OPPU+RAG");
      assertEquals("likes Q\n" + rendered.get(t) + "\n" + p, rows.get(Mode.OPPU_PAG.ordinal()).prompt(),
          t + " OPPU+PAG: the profile and the k = 1 retrieved item");
      for (Row r : rows) {
        assertEquals(t, r.task());
      }
      List<Response> out = responses.readValuesToList();
      assertEquals(Mode.values().length, out.size());
      for (Response r : out) {
        assertNull(r.getError(), r.toString());
        boolean retrieval = Mode.of(r.getMode()).usesRetrieval();
        assertEquals(retrieval ? List.of("i-match") : List.of(), r.getRetrievedItemIds(), r.getMode());
      }
    }
    assertTrue(deadLetters.isEmpty());
  }

  @Test
  void eachModeUsesItsVariantAndColdStartSaysSo() {
    start(unbatched());
    publish(adapter("u1", Task.MOVIE_TAGGING, "plain", 3, "base-fp", "task-fp"));
    publish(adapter("u1", Task.MOVIE_TAGGING, "rag", 5, "base-fp", "task-fp"));
    publish(adapter("u1", Task.MOVIE_TAGGING, "pag", 7, "base-fp", "task-fp"));
    users.add("u1", "h1", item(Task.MOVIE_TAGGING, "robots in space", "sci-fi"));
    users.profiles.put("u1", "sci-fi fan");
    for (Mode m : Mode.values()) {
      send(request("r-" + m, "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "robots"), m.id()));
    }
    Map<String, Long> versions = Map.of("OPPU", 3L, "OPPU+RAG", 5L, "OPPU+PAG", 7L);
    List<Response> warm = responses.readValuesToList();
    assertEquals(Mode.values().length, warm.size(), "one answer per mode");
    for (Response r : warm) {
      assertFalse(r.getCold(), r.toString());
      assertEquals(versions.get(r.getMode()), r.getAdapterVersion(), r.getMode());
      assertEquals(versions.containsKey(r.getMode()) ? "adapter u1 v" + versions.get(r.getMode()) : "task-model",
          r.getOutput());
    }
    // a user with neither adapter nor history: answered by the task model, cold
    for (Mode m : Mode.values()) {
      send(request("c-" + m, "u2", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "robots"), m.id()));
    }
    List<Response> cold = responses.readValuesToList();
    assertEquals(Mode.values().length, cold.size(), "one answer per mode");
    for (Response r : cold) {
      assertNull(r.getError());
      assertEquals("task-model", r.getOutput());
      assertNull(r.getAdapterVersion());
      assertEquals(Mode.of(r.getMode()) != Mode.NON_PERSONALIZED, r.getCold(), r.getMode());
      assertEquals(List.of(), r.getRetrievedItemIds());
    }
  }

  @Test
  void oppuPagPromptHoldsTheProfileAndOneRetrievedItem() {
    // OPPU's OPPU+PAG is `--k 1 --add_profile`: the profile, then the k = 1 item BM25 ranks highest, then the prompt
    start(unbatched());
    publish(adapter("u1", Task.MOVIE_TAGGING, "pag", 4, "base-fp", "task-fp"));
    users.add("u1", "h1", item(Task.MOVIE_TAGGING, "a quiet family drama by the sea", "classic"));
    users.add("u1", "h2", item(Task.MOVIE_TAGGING, "robots and aliens in deep space", "sci-fi"));
    users.add("u1", "h3", item(Task.MOVIE_TAGGING, "robots rebel against their makers", "sci-fi"));
    users.profiles.put("u1", "Most used tags: sci-fi (67%), classic (33%).");
    send(request("r1", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "robots in deep space"), "OPPU+PAG"));
    Response r = responses.readValue();
    assertNull(r.getError(), r.toString());
    assertEquals(4L, r.getAdapterVersion(), "answered with the user's pag adapter");
    assertEquals(List.of("h2"), r.getRetrievedItemIds(), "one item retrieved (k = 1 by default)");
    String prompt = gen.allRows().get(0).prompt();
    assertEquals("Most used tags: sci-fi (67%), classic (33%).\n"
        + "description: robots and aliens in deep space tag: sci-fi\n"
        + "\n" + Task.MOVIE_TAGGING.prompt(Task.MOVIE_TAGGING.extract(input(Task.MOVIE_TAGGING,
            "robots in deep space"))), prompt);
  }

  @Test
  void labelTasksAreConstrainedByDefault() {
    assertTrue(ServingConfig.defaults().constrained(), "constrained decoding of label tasks is the default");
    start(ServingConfig.defaults().withMaxBatch(1));
    send(request("m", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "x"), "OPPU"));
    send(request("h", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU"));
    List<Row> rows = gen.allRows();
    assertEquals(Task.MOVIE_TAGGING.labels(), rows.get(0).candidates());
    assertNull(rows.get(1).candidates(), "generation tasks generate freely");
    assertFalse(ServingConfig.from(props(ServingConfig.PREFIX + "constrained", "false")).constrained(),
        "free generation stays an option");
  }

  @Test
  void defaultModeIsOppuRagWithConfiguredK() {
    start(unbatched());
    publish(adapter("u1", Task.NEWS_HEADLINE, "rag", 2, "base-fp", "task-fp"));
    users.add("u1", "h1", item(Task.NEWS_HEADLINE, "storm hits the coast", "Storm!"));
    users.add("u1", "h2", item(Task.NEWS_HEADLINE, "coast guard rescues", "Rescue"));
    send(request("r1", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "storm on the coast"), null));
    Response r = responses.readValue();
    assertEquals("OPPU+RAG", r.getMode());
    assertEquals(2L, r.getAdapterVersion());
    assertEquals(List.of("h1"), r.getRetrievedItemIds()); // k = 1 by default
  }

  @Test
  void usersNeverGetAnotherUsersAdapterOrHistory() {
    start(ServingConfig.defaults().withMaxBatch(4).withConstrained(false)); // answers name their adapter
    publish(adapter("alice", Task.MOVIE_TAGGING, "rag", 11, "base-fp", "task-fp"));
    publish(adapter("bob", Task.MOVIE_TAGGING, "rag", 22, "base-fp", "task-fp"));
    users.add("alice", "a1", item(Task.MOVIE_TAGGING, "alice secret robots", "sci-fi"));
    users.add("bob", "b1", item(Task.MOVIE_TAGGING, "bob secret robots", "comedy"));
    users.reads.clear();
    send(request("1", "alice", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "secret robots"), "OPPU+RAG"));
    send(request("2", "bob", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "secret robots"), "OPPU+RAG"));
    send(request("3", "carol", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "secret robots"), "OPPU+RAG"));
    send(request("4", "alice", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "secret robots"), "OPPU+RAG"));
    assertEquals(1, gen.batches.size(), "four users' requests decoded in one mixed batch");
    List<Row> rows = gen.batches.get(0);
    assertTrue(rows.get(0).prompt().contains("alice secret") && !rows.get(0).prompt().contains("bob"));
    assertTrue(rows.get(1).prompt().contains("bob secret") && !rows.get(1).prompt().contains("alice"));
    assertFalse(rows.get(2).prompt().contains("alice") || rows.get(2).prompt().contains("bob"));
    assertNull(rows.get(2).adapter());
    Map<String, String> byId = new java.util.HashMap<>();
    for (Response r : responses.readValuesToList()) {
      byId.put(r.getRequestId(), r.getOutput() + "/" + r.getAdapterVersion() + "/" + r.getRetrievedItemIds());
    }
    assertEquals("adapter alice v11/11/[a1]", byId.get("1"));
    assertEquals("adapter bob v22/22/[b1]", byId.get("2"));
    assertEquals("task-model/null/[]", byId.get("3"));
    assertEquals("adapter alice v11/11/[a1]", byId.get("4"));
    assertTrue(users.reads.stream().allMatch(u -> List.of("alice", "bob", "carol").contains(u)));
  }

  @Test
  void batchesFillToMaxOrWaitAtMostMaxWait() {
    start(ServingConfig.defaults().withMaxBatch(3).withMaxWaitMs(500));
    for (int i = 0; i < 5; i++) {
      send(request("r" + i, "u" + i, Task.PRODUCT_RATING, input(Task.PRODUCT_RATING, "fine"), "non-personalized"));
    }
    assertEquals(1, gen.batches.size());
    assertEquals(3, gen.batches.get(0).size());
    assertEquals(3, responses.getQueueSize());
    KeyValueStore<String, Request> pending = driver.getKeyValueStore(StoreNames.PENDING_STORE);
    assertEquals(2, count(pending));
    driver.advanceWallClockTime(Duration.ofMillis(500));
    assertEquals(2, gen.batches.size());
    assertEquals(2, gen.batches.get(1).size());
    assertEquals(5, responses.getQueueSize());
    assertEquals(0, count(pending));
    driver.advanceWallClockTime(Duration.ofMillis(500));
    assertEquals(2, gen.batches.size(), "nothing waits, no empty batch");
  }

  @Test
  void requestPastItsDeadlineGetsAnErrorNotAnAnswer() {
    start(ServingConfig.defaults().withMaxBatch(8).withMaxWaitMs(1000));
    Request late = request("late", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU");
    late.setDeadline(T0.minusMillis(1));
    send(late);
    Response r = responses.readValue();
    assertNull(r.getOutput());
    assertTrue(r.getError().startsWith("deadline exceeded"), r.getError());
    assertTrue(responses.isEmpty());
    // expires while it waits for its batch, which closes when the oldest request has waited 1000 ms
    Request soon = request("soon", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU");
    soon.setDeadline(T0.plusMillis(200));
    Request edge = request("edge", "u2", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU");
    edge.setDeadline(T0.plusMillis(1000)); // due the very millisecond the batch closes: not yet past
    Request ok = request("ok", "u3", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU");
    ok.setDeadline(T0.plusSeconds(3600));
    send(soon);
    send(edge);
    send(ok);
    driver.advanceWallClockTime(Duration.ofMillis(999));
    assertTrue(responses.isEmpty(), "the batch waits its full 1000 ms, even past a deadline in it");
    assertTrue(gen.batches.isEmpty());
    driver.advanceWallClockTime(Duration.ofMillis(1));
    Map<String, Response> byId = new java.util.HashMap<>();
    responses.readValuesToList().forEach(x -> byId.put(x.getRequestId(), x));
    assertEquals(java.util.Set.of("soon", "edge", "ok"), byId.keySet());
    assertEquals("deadline exceeded: deadline " + T0.plusMillis(200) + ", now " + T0.plusMillis(1000),
        byId.get("soon").getError());
    assertNull(byId.get("soon").getOutput());
    for (String id : List.of("edge", "ok")) {
      assertNull(byId.get(id).getError(), id);
      assertEquals("task-model", byId.get(id).getOutput(), id);
    }
    assertEquals(2, gen.allRows().size(), "the expired request was not decoded");
    assertTrue(deadLetters.isEmpty(), "a late request is not a bad one");
  }

  @Test
  void badRequestsGetAnErrorResponseAndADeadLetterWithTheirBytes() {
    start(ServingConfig.from(props("oppu.serving.max.input.chars", "200")).withMaxBatch(1));
    Request unknownTask = request("b1", "u1", Task.MOVIE_TAGGING, "x", "OPPU");
    unknownTask.setTask("LaMP_9");
    Request missingInput = request("b2", "u1", Task.MOVIE_TAGGING, "", "OPPU");
    Request noMarker = request("b3", "u1", Task.MOVIE_TAGGING, "a movie about robots", "OPPU");
    Request oversize = request("b4", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "w ".repeat(200)), "OPPU");
    Request badMode = request("b5", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU+XYZ");
    Request citationNoOptions = request("b6", "u1", Task.CITATION,
        "written the paper with the title \"T\" and nothing else", "OPPU");
    for (Request r : List.of(unknownTask, missingInput, noMarker, oversize, badMode, citationNoOptions)) {
      send(r);
    }
    // wrong key: the user's data lives in the partition of its own id
    Request wrongKey = request("b7", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU");
    byte[] wrongKeyBytes = requestSerde.encode(wrongKey);
    requests.pipeInput("someone-else", wrongKeyBytes);
    byte[] garbage = "not avro".getBytes(StandardCharsets.UTF_8);
    requests.pipeInput("u1", garbage);

    List<Response> errors = responses.readValuesToList();
    assertEquals(7, errors.size());
    String[] reasons = {"unknown task", "missing input", "lacks its marker", "exceeds the limit", "unknown mode",
        "lacks its options", "is not the request's userId"};
    for (int i = 0; i < reasons.length; i++) {
      assertEquals("b" + (i + 1), errors.get(i).getRequestId());
      assertNull(errors.get(i).getOutput());
      assertTrue(errors.get(i).getError().contains(reasons[i]), errors.get(i).getError());
    }
    List<DeadLetter> dls = deadLetters.readValuesToList();
    assertEquals(8, dls.size());
    for (int i = 0; i < reasons.length; i++) {
      assertTrue(dls.get(i).getReason().contains(reasons[i]), dls.get(i).getReason());
      assertEquals(topics.requests.name(), dls.get(i).getSourceTopic());
    }
    assertArrayEquals(wrongKeyBytes, bytes(dls.get(6).getValue()));
    assertTrue(dls.get(7).getReason().startsWith("undecodable request"));
    assertArrayEquals(garbage, bytes(dls.get(7).getValue()));
    assertEquals(7L, dls.get(7).getOffset());
    assertTrue(gen.batches.isEmpty());
    // and processing continues
    send(request("good", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU"));
    assertEquals("task-model", responses.readValue().getOutput());
  }

  /** A bad request; {@code toldWhy}: it decodes far enough to be answered with an error (an id and a user). */
  private record Bad(String key, byte[] value, String owner, String reason, boolean toldWhy) {}

  @Test
  void eachBadRequestIsDeadLetteredUnderItsOwnUserWithOnlyItsBytesAndTheNextIsAnswered() {
    start(ServingConfig.from(props("oppu.serving.max.input.chars", "200")).withMaxBatch(1));
    users.add("u2", "h1", item(Task.NEWS_HEADLINE, "another user's private history", "secret title"));
    Behavior behavior = Behavior.newBuilder().setEventId("e").setUserId("u1").setTask(Task.NEWS_HEADLINE.id())
        .setEventTime(Instant.now()).setFields(item(Task.NEWS_HEADLINE, "a story", "a title")).build();
    Request unknownTask = request("t", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU");
    unknownTask.setTask("LaMP_9");
    List<Bad> cases = List.of(
        new Bad("u1", "not avro".getBytes(StandardCharsets.UTF_8), "u1", "undecodable", false),
        new Bad("u1", new AvroSerde<>(Behavior.class).encode(behavior), "u1", "undecodable", false), // wrong schema
        new Bad("", requestSerde.encode(request("m", "", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU")),
            "", "missing userId", true),
        // u1's request under u2's key: it belongs to u1, never to u2
        new Bad("u2", requestSerde.encode(request("w", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"),
            "OPPU")), "u1", "is not the request's userId", true),
        new Bad("u1", requestSerde.encode(unknownTask), "u1", "unknown task", true),
        new Bad("u1", requestSerde.encode(request("n", "u1", Task.NEWS_HEADLINE, "a story about x", "OPPU")), "u1",
            "lacks its marker", true),
        new Bad("u1", requestSerde.encode(request("o", "u1", Task.NEWS_HEADLINE,
            input(Task.NEWS_HEADLINE, "w ".repeat(200)), "OPPU")), "u1", "exceeds the limit", true),
        new Bad("u1", requestSerde.encode(request("e", "u1", Task.NEWS_HEADLINE, " ", "OPPU")), "u1",
            "missing input", true));
    int n = 0;
    for (Bad bad : cases) {
      requests.pipeInput(bad.key(), bad.value());
      var dls = deadLetters.readKeyValuesToList();
      assertEquals(1, dls.size(), bad.reason());
      assertEquals(bad.owner(), dls.get(0).key, bad.reason());
      assertArrayEquals(bad.value(), bytes(dls.get(0).value.getValue()), bad.reason());
      assertTrue(dls.get(0).value.getReason().contains(bad.reason()), dls.get(0).value.getReason());
      var errors = responses.readKeyValuesToList(); // a decodable bad request is told why, as its own user
      assertEquals(bad.toldWhy() ? 1 : 0, errors.size(), bad.reason() + ": error responses");
      for (var error : errors) {
        assertEquals(bad.owner(), error.key);
        assertNull(error.value.getOutput());
        assertTrue(error.value.getError().contains(bad.reason()), error.value.getError());
      }
      // the topology goes on: another user's next request is answered
      send(request("good-" + n, "u2", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU"));
      Response ok = responses.readValue();
      assertEquals("good-" + n++, ok.getRequestId());
      assertNull(ok.getError());
      assertNotNull(ok.getOutput());
    }
  }

  @Test
  void adapterOfAnotherModelIsNeverUsedAndNewerVersionReplacesAtOnce() {
    start(unbatched());
    publish(adapter("u1", Task.MOVIE_TAGGING, "plain", 1, "other-base", "task-fp"));
    send(request("r1", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "x"), "OPPU"));
    Response r1 = responses.readValue();
    assertNull(r1.getAdapterVersion());
    assertTrue(r1.getCold());
    publish(adapter("u1", Task.MOVIE_TAGGING, "plain", 2, "base-fp", "other-task"));
    send(request("r2", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "x"), "OPPU"));
    assertNull(responses.readValue().getAdapterVersion());
    assertEquals(0, gen.loads, "a mismatched adapter is not even loaded");

    publish(adapter("u1", Task.MOVIE_TAGGING, "plain", 3, "base-fp", "task-fp"));
    send(request("r3", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "x"), "OPPU"));
    assertEquals(3L, responses.readValue().getAdapterVersion());
    publish(adapter("u1", Task.MOVIE_TAGGING, "plain", 4, "base-fp", "task-fp"));
    send(request("r4", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "x"), "OPPU"));
    Response r4 = responses.readValue();
    assertEquals(4L, r4.getAdapterVersion());
    assertEquals("adapter u1 v4", r4.getOutput());
    assertEquals(1, cache.size());
    // an older version arriving late never rolls back
    publish(adapter("u1", Task.MOVIE_TAGGING, "plain", 2, "base-fp", "task-fp"));
    send(request("r5", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "x"), "OPPU"));
    assertEquals(4L, responses.readValue().getAdapterVersion());
    // a tombstone (user deleted) removes it
    adapters.pipeInput(Topics.adapterKey("u1", Task.MOVIE_TAGGING.id(), "plain"), null);
    send(request("r6", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "x"), "OPPU"));
    Response r6 = responses.readValue();
    assertNull(r6.getAdapterVersion());
    assertTrue(r6.getCold());
    assertEquals(0, cache.size());
  }

  @Test
  void taskWithoutRunningModelIsAnError() {
    gen.fingerprints.remove(Task.SCHOLARLY_TITLE);
    start(unbatched());
    send(request("r1", "u1", Task.SCHOLARLY_TITLE, input(Task.SCHOLARLY_TITLE, "we study x"), "OPPU"));
    Response r = responses.readValue();
    assertNull(r.getOutput());
    assertTrue(r.getError().contains("no task model for LaMP_5"), r.getError());
  }

  @Test
  void constrainedDecodingChoosesAmongTheTaskLabels() {
    start(unbatched().withConstrained(true));
    send(request("m", "u1", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "x"), "OPPU"));
    send(request("c", "u1", Task.CITATION, input(Task.CITATION, "Deep nets"), "OPPU"));
    send(request("h", "u1", Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "x"), "OPPU"));
    List<Row> rows = gen.allRows();
    assertEquals(Task.MOVIE_TAGGING.labels(), rows.get(0).candidates());
    assertEquals(List.of("Graph kernels revisited", "Sparse attention at scale"), rows.get(1).candidates());
    assertNull(rows.get(2).candidates());
    List<Response> out = responses.readValuesToList();
    assertEquals("true story", out.get(0).getOutput());
    assertEquals("[2]", out.get(1).getOutput(), "citation's chosen option maps back to LaMP's label");
    assertEquals("task-model", out.get(2).getOutput());
  }

  @Test
  void userOfAdapterKeySplitsFromTheRight() {
    assertEquals("a|b", Topics.userOfAdapterKey(Topics.adapterKey("a|b", "LaMP_3", "rag")));
    assertEquals("u", Topics.userOfAdapterKey("u|LaMP_3|plain"));
  }

  private static Properties props(String... kv) {
    Properties p = new Properties();
    for (int i = 0; i < kv.length; i += 2) {
      p.setProperty(kv[i], kv[i + 1]);
    }
    return p;
  }

  private static byte[] bytes(java.nio.ByteBuffer b) {
    assertNotNull(b);
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }

  private static int count(KeyValueStore<String, Request> store) {
    int n = 0;
    try (var it = store.all()) {
      while (it.hasNext()) {
        it.next();
        n++;
      }
    }
    return n;
  }
}
