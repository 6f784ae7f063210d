package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.AdapterCache;
import dev.oppu.serving.BatchGenerator;
import dev.oppu.serving.GivenProfiles;
import dev.oppu.serving.ServingConfig;
import dev.oppu.serving.StreamsApp;
import dev.oppu.streams.IngestConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code oppu user export} and {@code oppu user delete} against the streams application on the shared test broker:
 * afterwards nothing of the user can be read from its stores (interactive queries) or from the compacted topics
 * (every changelog and the adapters topic, latest value per key), and the other users are untouched.
 */
@ExtendWith(KafkaExtension.class)
class UserCommandTest {
  private static final LlamaConfig MODEL = LlamaConfig.of(64, 32, 64, 2, 4, 2, 128, 10000.0, false);
  private static final AvroSerde<Request> REQUESTS = new AvroSerde<>(Request.class);

  @TempDir
  Path dir;

  record Run(int code, String out, String err) {}

  /** Serving needs a generator; no request is decoded here. */
  static final class NoModel implements BatchGenerator {
    @Override
    public Fingerprint fingerprint(Task task) {
      return new Fingerprint("base", AdapterPayload.NO_TASK_ADAPTER);
    }

    @Override
    public LoadedAdapter load(AdapterVersion version) {
      return new LoadedAdapter() {
        @Override
        public long sizeBytes() {
          return 1;
        }

        @Override
        public void close() {}
      };
    }

    @Override
    public List<String> generate(List<Row> rows) {
      return rows.stream().map(r -> "ok").toList();
    }
  }

  private Run user(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new UserCommand());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println("error: " + ex);
      return 2;
    });
    return new Run(cl.execute(args), out.toString(), err.toString());
  }

  private static Behavior behavior(String user, String id, Task task, Map<String, String> fields) {
    return Behavior.newBuilder().setEventId(id).setUserId(user).setTask(task.id()).setEventTime(Instant.now())
        .setItemId("item-" + id).setFields(fields).build();
  }

  private static AdapterVersion adapter(String user, Task task, String variant, String trigger, LoraAdapter a,
      int inlineLimit, Path store) throws Exception {
    AdapterVersion.Builder b = AdapterVersion.newBuilder().setUserId(user).setTask(task.id()).setVariant(variant)
        .setVersion(3).setTriggerId(trigger).setCoveredSeq(2).setItemsTrained(3).setLossBefore(2).setLossAfter(1)
        .setTrainMillis(10).setPublishedAt(Instant.now()).setBaseFingerprint("base")
        .setTaskFingerprint(AdapterPayload.NO_TASK_ADAPTER).setLabelDistribution(Map.of("comedy", 1.0));
    AdapterPayload.Encoded e = AdapterPayload.encode(new String(a.configJson(), StandardCharsets.UTF_8),
        a.weightsBytes(), inlineLimit, store);
    return b.setAdapterConfig(e.adapterConfig())
        .setWeights(e.inlineWeights() == null ? null : ByteBuffer.wrap(e.inlineWeights()))
        .setWeightsPath(e.weightsPath()).setWeightsSha256(e.sha256()).build();
  }

  private static LoraAdapter lora(long seed, NDManager m) {
    LoraAdapter a = LoraAdapter.create(MODEL, LoraConfig.oppuUser(), seed, m);
    for (String path : a.modulePaths()) {
      NDArray b = a.b(path);
      b.addi(m.randomNormal(0, 1f, b.getShape(), DataType.FLOAT32)); // B starts at zero: make it tell adapters apart
    }
    return a;
  }

  /** Whether a store or topic record belongs to {@code user}, whatever the store's key layout. */
  private static boolean belongs(String user, String storeOrTopic, byte[] key, byte[] value) {
    String k = new String(key, StandardCharsets.UTF_8);
    if (storeOrTopic.contains(StoreNames.PENDING_STORE)) {
      return value != null && user.equals(REQUESTS.decode(value).getUserId());
    }
    if (storeOrTopic.contains(StoreNames.ADAPTER_STORE) || storeOrTopic.endsWith(".adapters")) {
      return user.equals(Topics.userOfAdapterKey(k));
    }
    return k.equals(user) || k.startsWith(user + '\u0000');
  }

  private static Map<String, List<String>> storeKeys(KafkaStreams streams, List<String> stores,
      Function<Object, byte[]> keyBytes) {
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        return storeKeysOnce(streams, stores, keyBytes);
      } catch (InvalidStateStoreException e) { // rebalancing or restoring: retry
        if (System.nanoTime() > giveUp) {
          throw e;
        }
        sleep(100);
      }
    }
  }

  private static Map<String, List<String>> storeKeysOnce(KafkaStreams streams, List<String> stores,
      Function<Object, byte[]> keyBytes) {
    Map<String, List<String>> out = new TreeMap<>();
    for (String s : stores) {
      List<String> keys = new ArrayList<>();
      ReadOnlyKeyValueStore<Object, Object> store = iq(streams, s);
      try (KeyValueIterator<Object, Object> it = store.all()) {
        it.forEachRemaining(kv -> keys.add(new String(keyBytes.apply(kv.key), StandardCharsets.UTF_8)
            + (kv.value instanceof Request r ? " <- " + r.getUserId() : "")));
      }
      keys.sort(null);
      out.put(s, keys);
    }
    return out;
  }

  private static ReadOnlyKeyValueStore<Object, Object> iq(KafkaStreams streams, String store) {
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        return streams.store(StoreQueryParameters.fromNameAndType(store, QueryableStoreTypes.keyValueStore()));
      } catch (InvalidStateStoreException e) { // rebalancing or restoring: retry
        if (System.nanoTime() > giveUp) {
          throw e;
        }
        sleep(100);
      }
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Latest value per key of each topic, read from the beginning to the end (committed records only). */
  private static Map<String, Map<Bytes, byte[]>> latest(SharedKafka kafka, List<String> topics) {
    Map<String, Map<Bytes, byte[]>> out = new HashMap<>();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(kafka.clientConfig().consumer(null),
        new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> parts = new ArrayList<>();
      for (String t : topics) {
        c.partitionsFor(t).forEach(pi -> parts.add(new TopicPartition(t, pi.partition())));
        out.put(t, new HashMap<>());
      }
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        assertTrue(System.nanoTime() < giveUp, "topics not read to their end in time");
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
          // partition in the key: serving's waiting requests are keyed by offset, unique per partition only
          Bytes k = Bytes.wrap(ByteBuffer.allocate(4 + r.key().length).putInt(r.partition()).put(r.key()).array());
          if (r.value() == null) {
            out.get(r.topic()).remove(k);
          } else {
            out.get(r.topic()).put(k, r.value());
          }
        }
      }
    }
    return out;
  }

  private static byte[] unprefixed(Bytes k) {
    byte[] b = k.get();
    return java.util.Arrays.copyOfRange(b, 4, b.length);
  }

  @Test
  void exportWritesPeftAdaptersAndHistoryAndDeleteLeavesNothingOfTheUser(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("user-cmd", 2);
    Path cfg = dir.resolve("client.properties");
    Properties names = new Properties();
    for (Topics.Topic<String, ?> t : topics.all()) {
      names.setProperty(Topics.PREFIX + t.key(), t.name());
    }
    try (var w = Files.newBufferedWriter(cfg)) {
      names.store(w, null);
    }
    String app = "user-cmd-" + Long.toHexString(System.nanoTime());
    Path store = dir.resolve("adapter-store");
    String[] conn = {"--bootstrap", kafka.bootstrapServers(), "--kafka-config", cfg.toString(), "--application-id",
        app, "--timeout-ms", "90000"};

    ServingConfig serving = ServingConfig.defaults().withAdapterStore(store);
    IngestConfig ingest = IngestConfig.defaults().withAdapterPartitions(2);
    Properties o = kafka.clientConfig().streams(app);
    o.put(StreamsConfig.STATE_DIR_CONFIG, dir.resolve("state").toString());
    o.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
    o.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
    try (NDManager m = NDManager.newBaseManager();
        AdapterCache cache = new AdapterCache(16, 1 << 24);
        KafkaStreams streams = new KafkaStreams(StreamsApp.topology(topics, ingest, serving, new NoModel(), cache,
            GivenProfiles.none()), StreamsApp.config(app, kafka.bootstrapServers(), serving, o));
        LoraAdapter annMovies = lora(1, m);
        LoraAdapter annRatings = lora(2, m);
        LoraAdapter bobMovies = lora(3, m)) {
      streams.start();
      long running = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (streams.state() != KafkaStreams.State.RUNNING && System.nanoTime() < running) {
        sleep(100);
      }
      // ann's data; "anna" shares her id as a prefix, bob is someone else: both must be untouched
      try (KafkaProducer<String, Behavior> p = new KafkaProducer<>(kafka.clientConfig().producer(),
          Serdes.String().serializer(), topics.behaviors.valueSerde().serializer())) {
        for (String u : List.of("ann", "anna", "bob")) {
          for (int i = 0; i < 3; i++) {
            p.send(new ProducerRecord<>(topics.behaviors.name(), u, behavior(u, u + "-m" + i, Task.MOVIE_TAGGING,
                Map.of("description", u + " watched a film about robots number " + i, "tag",
                    i == 0 ? "sci-fi" : "comedy")))).get();
          }
        }
        for (int i = 0; i < 2; i++) {
          p.send(new ProducerRecord<>(topics.behaviors.name(), "ann", behavior("ann", "ann-r" + i,
              Task.PRODUCT_RATING, Map.of("text", "a fine kettle, review " + i, "score", "4")))).get();
        }
      }
      AdapterVersion annInline = adapter("ann", Task.MOVIE_TAGGING, "plain", "ta1", annMovies, 1 << 20, store);
      AdapterVersion annStored = adapter("ann", Task.PRODUCT_RATING, "rag", "ta2", annRatings, 0, store);
      AdapterVersion bobInline = adapter("bob", Task.MOVIE_TAGGING, "plain", "tb1", bobMovies, 1 << 20, store);
      assertNotNull(annStored.getWeightsPath());
      try (KafkaProducer<String, AdapterVersion> p = new KafkaProducer<>(kafka.clientConfig().producer(),
          Serdes.String().serializer(), topics.adapters.valueSerde().serializer())) {
        for (AdapterVersion v : List.of(annInline, annStored, bobInline)) {
          p.send(new ProducerRecord<>(topics.adapters.name(), Topics.adapterKey(v.getUserId(), v.getTask(),
              v.getVariant()), v)).get();
        }
      }
      List<String> stores = new ArrayList<>(List.of(StoreNames.HISTORY_STORE, StoreNames.HISTORY_META_STORE,
          StoreNames.POSTINGS_STORE, StoreNames.INDEX_STATS_STORE, StoreNames.TRAIN_STATE_STORE,
          StoreNames.DEDUP_STORE, StoreNames.USER_DELETIONS_STORE, StoreNames.ADAPTER_STORE,
          StoreNames.PENDING_STORE));
      Function<Object, byte[]> keyBytes = k -> k instanceof Bytes b ? b.get()
          : k.toString().getBytes(StandardCharsets.UTF_8);
      // until ingestion and serving hold everything: 11 history items, 3 train states, 3 serving adapters
      Map<String, List<String>> before = null;
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (System.nanoTime() < giveUp) {
        before = storeKeys(streams, stores, keyBytes);
        if (before.get(StoreNames.HISTORY_STORE).size() == 11
            && before.get(StoreNames.TRAIN_STATE_STORE).size() == 3
            && before.get(StoreNames.ADAPTER_STORE).size() == 3) {
          break;
        }
        sleep(200);
      }
      assertEquals(11, before.get(StoreNames.HISTORY_STORE).size(), before.toString());
      assertEquals(3, before.get(StoreNames.ADAPTER_STORE).size(), before.toString());

      // ---- export ----
      Path out = dir.resolve("export");
      Run export = user(concat(new String[] {"export", "--user", "ann", "--out", out.toString(), "--adapter-store",
          store.toString()}, conn));
      assertEquals(0, export.code(), export.out() + export.err());
      assertTrue(export.out().contains("5 history item(s) in 2 task(s), 2 adapter(s)"), export.out());
      JsonNode history = new ObjectMapper().readTree(out.resolve("history.json").toFile());
      assertEquals("ann", history.get("user_id").asText());
      JsonNode movies = history.get("tasks").get("LaMP_2M").get("items");
      assertEquals(3, movies.size());
      assertEquals("ann-m0", movies.get(0).get("event_id").asText());
      assertEquals("sci-fi", movies.get(0).get("fields").get("tag").asText());
      assertEquals(2, history.get("tasks").get("LaMP_3").get("items").size());
      assertFalse(history.get("tasks").get("LaMP_2M").get("profile").asText().isEmpty());
      assertFalse(Files.readString(out.resolve("history.json")).contains("bob"), "no other user's data");
      Map<Path, LoraAdapter> expected = Map.of(out.resolve("adapters/LaMP_2M/plain"), annMovies,
          out.resolve("adapters/LaMP_3/rag"), annRatings);
      for (Map.Entry<Path, LoraAdapter> e : expected.entrySet()) {
        try (LoraAdapter loaded = LoraAdapter.loadPeft(e.getKey(), MODEL, m)) { // PEFT folder, loadable
          assertArrayEquals(e.getValue().weightsBytes(), loaded.weightsBytes(), e.getKey().toString());
          assertEquals(LoraConfig.oppuUser().targetModules(), loaded.config().targetModules());
        }
        JsonNode meta = new ObjectMapper().readTree(e.getKey().resolve("oppu_adapter.json").toFile());
        assertEquals(3, meta.get("version").asInt());
        assertEquals("base", meta.get("base_fingerprint").asText());
      }
      try (var files = Files.list(out.resolve("adapters"))) {
        assertEquals(List.of("LaMP_2M", "LaMP_3"), files.map(f -> f.getFileName().toString()).sorted().toList());
      }

      // ---- delete ----
      Path stored = Path.of(annStored.getWeightsPath());
      assertTrue(Files.exists(stored));
      Run delete = user(concat(new String[] {"delete", "--user", "ann", "--adapter-store", store.toString()}, conn));
      assertEquals(0, delete.code(), delete.out() + delete.err());
      assertTrue(delete.out().contains("user ann deleted"), delete.out());
      // what the CLI saw of ann before: her history, range, dedup and train-state changelog entries and 2 adapters
      for (String seen : List.of(StoreNames.HISTORY_STORE + "-changelog=5", StoreNames.DEDUP_STORE
          + "-changelog=5", StoreNames.TRAIN_STATE_STORE + "-changelog=2", topics.adapters.name() + "=2")) {
        assertTrue(delete.out().contains(seen), seen + " in " + delete.out());
      }
      assertFalse(Files.exists(stored), "the user's stored adapter file is removed");

      // Interactive queries: nothing of ann in any store; anna's and bob's keys as before. Changelog tombstones
      // reach the stores at the same commit, but IQ may lag the CLI's view by a commit: wait for it.
      Map<String, List<String>> after = null;
      giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (System.nanoTime() < giveUp) {
        after = storeKeys(streams, stores, keyBytes);
        if (after.values().stream().flatMap(List::stream).noneMatch(k -> k.startsWith("ann\u0000")
            || k.startsWith("ann|") || k.equals("ann") || k.endsWith("<- ann"))) {
          break;
        }
        sleep(200);
      }
      for (String s : stores) {
        List<String> othersBefore = before.get(s).stream().filter(k -> !(k.startsWith("ann\u0000")
            || k.startsWith("ann|") || k.equals("ann") || k.endsWith("<- ann"))).toList();
        assertEquals(othersBefore, after.get(s), s + ": only ann's keys are gone");
      }
      assertEquals(6, after.get(StoreNames.HISTORY_STORE).size(), after.toString());

      // Compacted topics: every changelog of the application and the adapters topic, latest value per key.
      List<String> compacted = new ArrayList<>();
      try (Admin admin = Admin.create(kafka.clientConfig().admin())) {
        admin.listTopics().names().get().stream()
            .filter(t -> t.startsWith(app + "-") && t.endsWith("-changelog")).forEach(compacted::add);
      }
      for (String s : StoreNames.INGEST_LOGGED_STORES) {
        assertTrue(compacted.contains(app + "-" + s + "-changelog"), compacted.toString());
      }
      compacted.add(topics.adapters.name());
      Map<String, Map<Bytes, byte[]>> latest = latest(kafka, compacted);
      int others = 0;
      for (Map.Entry<String, Map<Bytes, byte[]>> t : latest.entrySet()) {
        for (Map.Entry<Bytes, byte[]> kv : t.getValue().entrySet()) {
          byte[] key = unprefixed(kv.getKey());
          assertFalse(belongs("ann", t.getKey(), key, kv.getValue()), t.getKey() + " still holds "
              + new String(key, StandardCharsets.UTF_8));
          others += belongs("bob", t.getKey(), key, kv.getValue()) ? 1 : 0;
        }
      }
      assertTrue(latest.get(app + "-" + StoreNames.HISTORY_STORE + "-changelog").size() >= 6);
      assertTrue(others > 0, "bob's records are still there");
      assertTrue(latest.get(topics.adapters.name()).keySet().stream().map(k -> new String(unprefixed(k),
          StandardCharsets.UTF_8)).toList().contains(Topics.adapterKey("bob", "LaMP_2M", "plain")));

      // An export now finds nothing.
      Run empty = user(concat(new String[] {"export", "--user", "ann", "--out", dir.resolve("again").toString()},
          conn));
      assertEquals(0, empty.code(), empty.err());
      assertTrue(empty.out().contains("0 history item(s) in 0 task(s), 0 adapter(s)"), empty.out());
    }
  }

  @Test
  void aTrainingUnderWayAtTheDeletionIsFencedAndWhatItPublishesIsTombstoned(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("user-fence", 2);
    Path cfg = dir.resolve("fence.properties");
    Properties names = new Properties();
    for (Topics.Topic<String, ?> t : topics.all()) {
      names.setProperty(Topics.PREFIX + t.key(), t.name());
    }
    try (var w = Files.newBufferedWriter(cfg)) {
      names.store(w, null);
    }
    String app = "user-fence-" + Long.toHexString(System.nanoTime());
    ServingConfig serving = ServingConfig.defaults();
    IngestConfig ingest = IngestConfig.defaults().withAdapterPartitions(2).withTriggers(2, 1000, 5, 5, 0.4);
    Properties o = kafka.clientConfig().streams(app);
    o.put(StreamsConfig.STATE_DIR_CONFIG, dir.resolve("fence-state").toString());
    o.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
    o.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
    String fenceLog = app + "-" + StoreNames.USER_DELETIONS_STORE + "-changelog";
    String key = Topics.adapterKey("ann", "LaMP_2M", "plain");
    try (NDManager m = NDManager.newBaseManager();
        AdapterCache cache = new AdapterCache(16, 1 << 24);
        KafkaStreams streams = new KafkaStreams(StreamsApp.topology(topics, ingest, serving, new NoModel(), cache,
            GivenProfiles.none()), StreamsApp.config(app, kafka.bootstrapServers(), serving, o));
        LoraAdapter late = lora(4, m)) {
      streams.start();
      try (KafkaProducer<String, Behavior> p = new KafkaProducer<>(kafka.clientConfig().producer(),
          Serdes.String().serializer(), topics.behaviors.valueSerde().serializer())) {
        for (String u : List.of("ann", "bob")) {
          for (int i = 0; i < 2; i++) {
            p.send(new ProducerRecord<>(topics.behaviors.name(), u, behavior(u, u + "-m" + i, Task.MOVIE_TAGGING,
                Map.of("description", "a film about robots " + i, "tag", "comedy")))).get();
          }
        }
      }
      // The first trigger of each user: the trainer (not running here) would be training ann's.
      Map<String, String> triggers = new HashMap<>();
      try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(kafka.clientConfig().consumer(null),
          Serdes.String().deserializer(), new ByteArrayDeserializer())) {
        List<TopicPartition> parts = c.partitionsFor(topics.trainTriggers.name()).stream()
            .map(pi -> new TopicPartition(pi.topic(), pi.partition())).toList();
        c.assign(parts);
        c.seekToBeginning(parts);
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (triggers.size() < 2 && System.nanoTime() < giveUp) {
          for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
            triggers.put(r.key(), topics.trainTriggers.valueSerde().deserializer().deserialize(r.topic(), r.value())
                .getTriggerId());
          }
        }
      }
      assertEquals(2, triggers.size(), triggers.toString());

      Run delete = user("delete", "--user", "ann", "--bootstrap", kafka.bootstrapServers(), "--kafka-config",
          cfg.toString(), "--application-id", app, "--timeout-ms", "90000", "--adapter-store",
          dir.resolve("store").toString());
      assertEquals(0, delete.code(), delete.out() + delete.err());
      assertTrue(delete.out().contains("fenced"), delete.out());

      // The training finishes after the deletion and publishes its adapter and result in one transaction.
      AdapterVersion racing = adapter("ann", Task.MOVIE_TAGGING, "plain", triggers.get("ann"), late, 1 << 20, null);
      try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(kafka.clientConfig().producer(),
          Serdes.String().serializer(), Serdes.ByteArray().serializer())) {
        p.send(new ProducerRecord<>(topics.adapters.name(), key,
            topics.adapters.valueSerde().serializer().serialize(null, racing))).get();
        p.send(new ProducerRecord<>(topics.trainResults.name(), "ann", topics.trainResults.valueSerde().serializer()
            .serialize(null, dev.oppu.schemas.TrainResult.newBuilder().setTriggerId(triggers.get("ann"))
                .setUserId("ann").setTask("LaMP_2M").setVariant("plain").setAccepted(true).setReason("published")
                .setVersion(3L).setCoveredSeq(1).setFinishedAt(Instant.now()).build()))).get();
      }
      // Until the racing adapter is tombstoned again and the fence has ended (its training answered).
      Map<String, Map<Bytes, byte[]>> latest = null;
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      boolean clean = false;
      while (!clean && System.nanoTime() < giveUp) {
        sleep(300);
        latest = latest(kafka, List.of(topics.adapters.name(), fenceLog,
            app + "-" + StoreNames.ADAPTER_STORE + "-changelog",
            app + "-" + StoreNames.TRAIN_STATE_STORE + "-changelog"));
        clean = latest.entrySet().stream().allMatch(t -> t.getValue().entrySet().stream()
            .noneMatch(kv -> belongs("ann", t.getKey(), unprefixed(kv.getKey()), kv.getValue())));
      }
      assertTrue(clean, "records of ann left: " + latest.entrySet().stream().map(t -> t.getKey() + "="
          + t.getValue().keySet().stream().map(k -> new String(unprefixed(k), StandardCharsets.UTF_8)).toList())
          .toList());
      List<String> trainState = storeKeys(streams, List.of(StoreNames.TRAIN_STATE_STORE), k -> ((Bytes) k).get())
          .get(StoreNames.TRAIN_STATE_STORE);
      assertEquals(1, trainState.size(), "only bob's pending training: " + trainState);
      assertTrue(trainState.get(0).startsWith("bob\u0000"));
      assertTrue(storeKeys(streams, List.of(StoreNames.ADAPTER_STORE, StoreNames.USER_DELETIONS_STORE),
          k -> k instanceof Bytes b ? b.get() : k.toString().getBytes(StandardCharsets.UTF_8)).values().stream()
          .allMatch(List::isEmpty));
    }
  }

  @Test
  void badInputIsAClearError(SharedKafka kafka) {
    Run r = user("delete", "--user", " ", "--bootstrap", kafka.bootstrapServers());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("--user must be a non-empty user id"), r.err());
    Run missing = user("export");
    assertEquals(2, missing.code());
    assertTrue(missing.err().contains("--user"), missing.err());
  }

  private static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
