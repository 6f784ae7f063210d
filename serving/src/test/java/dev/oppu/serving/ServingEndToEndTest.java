package dev.oppu.serving;

import static dev.oppu.serving.Fixtures.input;
import static dev.oppu.serving.Fixtures.item;
import static dev.oppu.serving.Fixtures.request;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.oppu.broker.CheckedSends;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.TextTokenizer;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.streams.IngestConfig;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end on the shared test broker, with the real generator on a tiny random model: behaviors -> train trigger
 * -> adapter version (published here as the trainer would) -> request -> response naming that version; isolation,
 * cold start, deadline, bad requests; requests waiting in a batch answered exactly once after a hard kill (SIGKILL of
 * a serving JVM) and a restart elsewhere.
 */
@ExtendWith(KafkaExtension.class)
class ServingEndToEndTest {
  private static final Path FIX = Path.of(System.getProperty("oppu.fixtures", "../fixtures"),
      "hf-llama-mha");
  private static final Duration PATIENCE = Duration.ofSeconds(90); // failure bound only, never a measurement

  static SharedKafka kafka;
  static NDManager manager;
  static LlamaModel model;
  static TextTokenizer tokenizer;
  static ModelBatchGenerator generator;

  @BeforeAll
  static void setUp(SharedKafka k) throws Exception {
    kafka = k;
    manager = NDManager.newBaseManager();
    model = LlamaModel.random(LlamaConfig.of(512, 64, 172, 2, 4, 2, 256, 10000.0, false), 11, manager);
    tokenizer = TextTokenizer.load(FIX.resolve("tokenizer.json"), model.config());
    Map<Task, ModelBatchGenerator.TaskModel> models = new HashMap<>();
    for (Task t : Task.values()) {
      models.put(t, new ModelBatchGenerator.TaskModel(model, "base-fp", "task-fp"));
    }
    generator = new ModelBatchGenerator(models, tokenizer, ModelBatchGenerator.Options.greedy());
  }

  @AfterAll
  static void tearDown() {
    tokenizer.close();
    model.close();
    manager.close();
  }

  private static KafkaStreams start(Topics topics, ServingConfig cfg, String appId, Path state) {
    Properties o = new Properties();
    o.putAll(kafka.clientConfig().streams(appId));
    o.put(StreamsConfig.STATE_DIR_CONFIG, state.toString());
    o.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
    o.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
    IngestConfig ingest = IngestConfig.defaults().withTriggers(3, 50, 5, 20, 0.4);
    KafkaStreams s = new KafkaStreams(StreamsApp.topology(topics, ingest, cfg, generator,
        new AdapterCache(cfg.cacheMaxAdapters(), cfg.cacheMaxBytes()), GivenProfiles.none()),
        StreamsApp.config(appId, kafka.bootstrapServers(), cfg, o));
    s.start();
    waitFor(() -> s.state() == KafkaStreams.State.RUNNING, "streams running");
    return s;
  }

  private static KafkaProducer<String, byte[]> producer() {
    return new KafkaProducer<>(kafka.clientConfig().producer(), Serdes.String().serializer(),
        Serdes.ByteArray().serializer());
  }

  private static <V> byte[] bytes(Topics.Topic<String, V> t, V v) {
    Serializer<V> s = t.valueSerde().serializer();
    return s.serialize(t.name(), v);
  }

  /** Reads the topic (read_committed) until {@code until} holds for what was read. */
  private static <V> List<ConsumerRecord<String, V>> read(Topics.Topic<String, V> t,
      Predicate<List<ConsumerRecord<String, V>>> until) {
    Deserializer<V> d = t.valueSerde().deserializer();
    List<ConsumerRecord<String, V>> out = new ArrayList<>();
    try (KafkaConsumer<String, V> c = new KafkaConsumer<>(kafka.clientConfig().consumer(null),
        Serdes.String().deserializer(), d)) {
      List<org.apache.kafka.common.TopicPartition> parts = c.partitionsFor(t.name()).stream()
          .map(p -> new org.apache.kafka.common.TopicPartition(t.name(), p.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      long end = System.nanoTime() + PATIENCE.toNanos();
      while (!until.test(out)) {
        if (System.nanoTime() > end) {
          throw new AssertionError("gave up waiting on " + t.name() + "; read " + out.size() + " records: " + out);
        }
        c.poll(Duration.ofMillis(200)).forEach(out::add);
      }
    }
    return out;
  }

  private static Map<String, Response> responses(Topics topics, int n) {
    Map<String, Response> byId = new HashMap<>();
    for (ConsumerRecord<String, Response> r : read(topics.responses, l -> l.size() >= n)) {
      assertNull(byId.put(r.value().getRequestId(), r.value()), "answered twice: " + r.value().getRequestId());
      assertEquals(r.value().getUserId(), r.key());
    }
    return byId;
  }

  private static void waitFor(java.util.function.BooleanSupplier c, String what) {
    long end = System.nanoTime() + PATIENCE.toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("gave up waiting for " + what);
      }
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  /** What the trainer publishes: a PEFT adapter (non-zero B) with the fingerprints it was trained on. */
  private static AdapterVersion trained(TrainTrigger t, long version) throws Exception {
    try (LoraAdapter a = LoraAdapter.create(model.config(), LoraConfig.oppuUser(), version, manager)) {
      for (String p : a.modulePaths()) {
        NDArray b = a.b(p);
        b.addi(manager.randomNormal(0, 1f, b.getShape(), DataType.FLOAT32));
      }
      byte[] w = a.weightsBytes();
      return AdapterVersion.newBuilder(Fixtures.adapter(t.getUserId(), Task.of(t.getTask()), t.getVariant(), version,
              "base-fp", "task-fp"))
          .setTriggerId(t.getTriggerId()).setAdapterConfig(new String(a.configJson(), StandardCharsets.UTF_8))
          .setWeights(ByteBuffer.wrap(w)).setWeightsSha256(ModelBatchGenerator.sha256(w)).build();
    }
  }

  private static Behavior behavior(String user, int i, Map<String, String> fields) {
    return Behavior.newBuilder().setEventId(user + "-e" + i).setUserId(user).setTask(Task.MOVIE_TAGGING.id())
        .setEventTime(Instant.now()).setItemId(user + "-m" + i).setFields(fields).build();
  }

  @Test
  void behaviorsTriggerAnAdapterThatAnswersThatUsersRequestsOnly(@TempDir Path state) throws Exception {
    Topics topics = kafka.freshTopics("serving-e2e", 2);
    ServingConfig cfg = ServingConfig.defaults().withMaxBatch(4).withMaxWaitMs(50).withMaxNewTokens(6);
    try (KafkaStreams streams = start(topics, cfg, "serving-e2e-" + System.nanoTime(), state);
        KafkaProducer<String, byte[]> p = producer()) {
      CheckedSends sends = new CheckedSends();
      String[] texts = {"robots in deep space", "a robot learns to love", "space station drama"};
      for (int i = 0; i < texts.length; i++) {
        Behavior b = behavior("alice", i, item(Task.MOVIE_TAGGING, texts[i], "sci-fi"));
        sends.send(p, new ProducerRecord<>(topics.behaviors.name(), "alice", bytes(topics.behaviors, b)));
      }
      sends.send(p, new ProducerRecord<>(topics.behaviors.name(), "bob",
          bytes(topics.behaviors, behavior("bob", 0, item(Task.MOVIE_TAGGING, "robots secret of bob", "comedy")))));
      sends.await();
      TrainTrigger trigger = read(topics.trainTriggers, l -> !l.isEmpty()).get(0).value();
      assertEquals("alice", trigger.getUserId());
      assertEquals("plain", trigger.getVariant());

      AdapterVersion v1 = trained(trigger, 1);
      sends.send(p, new ProducerRecord<>(topics.adapters.name(), Topics.adapterKey("alice", Task.MOVIE_TAGGING.id(),
          "plain"), bytes(topics.adapters, v1)));
      sends.await();
      ReadOnlyKeyValueStore<String, AdapterVersion> adapters = streams.store(StoreQueryParameters.fromNameAndType(
          StoreNames.ADAPTER_STORE, QueryableStoreTypes.keyValueStore()));
      waitFor(() -> adapters.get(Topics.adapterKey("alice", "LaMP_2M", "plain")) != null, "adapter materialized");

      List<Request> asks = new ArrayList<>();
      asks.add(request("a-oppu", "alice", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "robots"), "OPPU"));
      asks.add(request("a-rag", "alice", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "deep space"), "RAG"));
      asks.add(request("b-oppu", "bob", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "robots"), "OPPU+RAG"));
      asks.add(request("c-cold", "carol", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "robots"), "OPPU+RAG"));
      Request late = request("late", "alice", Task.MOVIE_TAGGING, input(Task.MOVIE_TAGGING, "robots"), "OPPU");
      late.setDeadline(Instant.now().minusSeconds(5));
      asks.add(late);
      asks.add(request("bad", "alice", Task.MOVIE_TAGGING, "no marker here", "OPPU"));
      for (Request r : asks) {
        sends.send(p, new ProducerRecord<>(topics.requests.name(), r.getUserId(), bytes(topics.requests, r)));
      }
      sends.await();
      Map<String, Response> out = responses(topics, asks.size());

      Response a = out.get("a-oppu");
      assertNull(a.getError());
      assertEquals(1L, a.getAdapterVersion(), "the response names the adapter version that answered");
      assertFalse(a.getCold());
      assertNotNull(a.getOutput());
      Response rag = out.get("a-rag");
      assertNull(rag.getAdapterVersion(), "RAG uses the task model");
      assertEquals(List.of("alice-m0"), rag.getRetrievedItemIds());
      Response bob = out.get("b-oppu");
      assertNull(bob.getAdapterVersion(), "bob has no rag adapter and never gets alice's");
      assertTrue(bob.getCold());
      assertEquals(List.of("bob-m0"), bob.getRetrievedItemIds());
      Response carol = out.get("c-cold");
      assertTrue(carol.getCold());
      assertNull(carol.getAdapterVersion());
      assertEquals(List.of(), carol.getRetrievedItemIds());
      assertNull(carol.getError());
      assertTrue(out.get("late").getError().startsWith("deadline exceeded"));
      assertNull(out.get("late").getOutput());
      assertTrue(out.get("bad").getError().contains("lacks its marker"));
      DeadLetter dl = read(topics.deadLetters, l -> !l.isEmpty()).get(0).value();
      assertTrue(dl.getReason().contains("lacks its marker"), dl.getReason());
      assertEquals(topics.requests.name(), dl.getSourceTopic());
    }
  }

  @Test
  void requestsWaitingInABatchSurviveAHardKillAndAreAnsweredOnce(@TempDir Path state) throws Exception {
    String prefix = "serving-kill-" + Long.toHexString(System.nanoTime());
    Properties names = new Properties();
    for (String key : Topics.KEYS) {
      names.setProperty(Topics.PREFIX + key, prefix + "." + key);
    }
    Topics topics = Topics.from(names);
    kafka.createTopics(topics, 1);
    String app = "serving-kill-" + System.nanoTime();
    Path log = state.resolve("child.log");
    Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-Dai.djl.offline=true",
        KillableServing.class.getName(), kafka.bootstrapServers(), app, state.resolve("a").toString(), prefix)
        .redirectError(log.toFile()).start();
    int n = 4;
    try {
      java.io.BufferedReader out = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
      String line;
      while ((line = out.readLine()) != null && !line.equals("RUNNING")) {
        // wait for the child's streams to run
      }
      assertEquals("RUNNING", line, "child did not start: " + java.nio.file.Files.readString(log));
      try (KafkaProducer<String, byte[]> p = producer()) {
        CheckedSends sends = new CheckedSends();
        for (int i = 0; i < n; i++) {
          Request r = request("k" + i, "u" + i, Task.NEWS_HEADLINE, input(Task.NEWS_HEADLINE, "flood " + i),
              "non-personalized");
          sends.send(p, new ProducerRecord<>(topics.requests.name(), r.getUserId(), bytes(topics.requests, r)));
        }
        sends.await();
      }
      // the pending requests are committed to the store's changelog: they wait in a batch that never closes
      Topics.Topic<String, Request> changelog = topics.requests.named(app + "-" + StoreNames.PENDING_STORE
          + "-changelog");
      read(changelog, l -> l.size() >= n);
    } finally {
      child.destroyForcibly(); // SIGKILL: no close, no commit
      child.waitFor();
    }
    assertEquals(0, countAll(topics), "nothing was answered before the kill");
    ServingConfig cfg = ServingConfig.defaults().withMaxWaitMs(50).withMaxNewTokens(4);
    try (KafkaStreams again = start(topics, cfg, app, state.resolve("b"))) { // another machine: state from changelog
      Map<String, Response> out = responses(topics, n);
      assertEquals(n, out.size());
      for (Response r : out.values()) {
        assertNull(r.getError(), r.toString());
      }
      again.close(Duration.ofSeconds(30)); // from here nothing more can be answered: count what was
    }
    assertEquals(n, countAll(topics), "each waiting request answered exactly once");
  }

  /** Committed responses, read to the topic's end (its last stable offset), not for a fixed time. */
  private static int countAll(Topics topics) {
    List<ConsumerRecord<String, Response>> all = new ArrayList<>();
    try (KafkaConsumer<String, Response> c = new KafkaConsumer<>(kafka.clientConfig().consumer(null),
        Serdes.String().deserializer(), topics.responses.valueSerde().deserializer())) {
      List<org.apache.kafka.common.TopicPartition> parts = c.partitionsFor(topics.responses.name()).stream()
          .map(x -> new org.apache.kafka.common.TopicPartition(topics.responses.name(), x.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<org.apache.kafka.common.TopicPartition, Long> end = c.endOffsets(parts);
      long giveUp = System.nanoTime() + PATIENCE.toNanos();
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        if (System.nanoTime() > giveUp) {
          throw new AssertionError("could not read " + topics.responses.name() + " to its end " + end);
        }
        c.poll(Duration.ofMillis(200)).forEach(all::add);
      }
    }
    return all.size();
  }
}
