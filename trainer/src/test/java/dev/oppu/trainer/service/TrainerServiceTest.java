package dev.oppu.trainer.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.TaskModels;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.trainer.AdapterTraining;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.optim.AdamW;
import dev.oppu.trainer.pretrain.BpeTokenizerTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The trainer service end to end on the shared broker: trigger in, adapter version out, loadable by the model. */
@ExtendWith(KafkaExtension.class)
class TrainerServiceTest {
  static final String[] WORDS = "a robot learns to love in a city of glass while detectives chase the dragon".split(" ");

  static Path modelDir;
  static TaskModels models;

  @BeforeAll
  static void model(@TempDir Path dir) throws Exception {
    modelDir = dir.resolve("base");
    BpeTokenizerTrainer bpe = new BpeTokenizerTrainer(320);
    for (HistoryItem h : history(40, 1, 0)) {
      bpe.add(Task.MOVIE_TAGGING.trainingExample(h.getFields()).prompt() + " " + h.getFields().get("tag"));
    }
    bpe.trainAndSave(modelDir);
    try (NDManager m = NDManager.newBaseManager()) {
      LlamaModel.random(LlamaConfig.of(320, 32, 64, 2, 4, 2, 512, 10000.0, true), 3, m).save(modelDir);
    }
    models = new TaskModels(modelDir, null, ai.djl.Device.cpu());
  }

  @AfterAll
  static void close() {
    models.close();
  }

  static List<HistoryItem> history(int n, long seed, long firstSeq) {
    Random rnd = new Random(seed);
    List<HistoryItem> out = new ArrayList<>();
    long now = System.currentTimeMillis();
    for (int i = 0; i < n; i++) {
      StringBuilder d = new StringBuilder();
      for (int w = 0; w < 6; w++) {
        d.append(w == 0 ? "" : " ").append(WORDS[rnd.nextInt(WORDS.length)]);
      }
      out.add(HistoryItem.newBuilder().setSeq(firstSeq + i).setEventId("e" + (firstSeq + i))
          .setEventTime(Instant.ofEpochMilli(now - 1000)).setArrivalTime(Instant.ofEpochMilli(now - 500))
          .setFields(Map.of("description", d.toString(), "tag", rnd.nextBoolean() ? "comedy" : "romance")).build());
    }
    return out;
  }

  static TrainTrigger trigger(String id, String user, List<HistoryItem> history, long newFrom) {
    return TrainTrigger.newBuilder().setTriggerId(id).setUserId(user).setTask("LaMP_2M").setVariant("plain")
        .setReason("new-items").setScore(history.size()).setCreatedAt(Instant.now()).setHistory(history)
        .setNewFromSeq(newFrom).build();
  }

  static UserAdapterUpdater.Settings settings(LoraConfig lora) {
    return new UserAdapterUpdater.Settings(lora, new AdapterTraining.Config(1, 8, AdamW.Config.oppu(1e-2)), 1, 128,
        24, 20, 0.1, 2, 10, 0.5, 7);
  }

  static void send(SharedKafka kafka, Topics topics, List<TrainTrigger> triggers) throws Exception {
    try (KafkaProducer<String, TrainTrigger> p = new KafkaProducer<>(kafka.clientConfig().producer(),
        new StringSerializer(), topics.trainTriggers.valueSerde().serializer())) {
      for (TrainTrigger tr : triggers) {
        p.send(new ProducerRecord<>(topics.trainTriggers.name(), tr.getUserId(), tr)).get();
      }
    }
  }

  static Thread start(TrainerService service, Throwable[] crashed) {
    Thread t = new Thread(() -> {
      try {
        service.run();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Throwable e) {
        crashed[0] = e;
      }
    });
    t.start();
    return t;
  }

  /** Runs a service, sends the triggers, and returns the train results and adapter versions seen. */
  static List<Object> roundTrip(SharedKafka kafka, Topics topics, UserAdapterUpdater.Settings update,
      TrainerService.Settings s, List<TrainTrigger> triggers, int expectResults) throws Exception {
    TrainerService service = new TrainerService(kafka.clientConfig(), topics, models, update, s);
    Throwable[] crashed = new Throwable[1];
    Thread t = start(service, crashed);
    send(kafka, topics, triggers);
    try {
      return read(kafka, topics, expectResults, 240_000);
    } finally {
      service.close();
      t.join(30_000);
      if (crashed[0] != null) { // a service that died shows its own error, not a count of missing results
        throw new AssertionError("the trainer service failed", crashed[0]);
      }
    }
  }

  /** Committed train results and adapter versions, until {@code expectResults} results or the timeout. */
  static List<Object> read(SharedKafka kafka, Topics topics, int expectResults, long timeoutMs) {
    List<Object> seen = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(kafka.clientConfig().consumer(null),
        new StringDeserializer(), new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
      List<org.apache.kafka.common.TopicPartition> parts = new ArrayList<>();
      for (String topic : List.of(topics.trainResults.name(), topics.adapters.name())) {
        c.partitionsFor(topic).forEach(pi -> parts.add(new org.apache.kafka.common.TopicPartition(topic, pi.partition())));
      }
      c.assign(parts);
      c.seekToBeginning(parts);
      long deadline = System.currentTimeMillis() + timeoutMs;
      int results = 0;
      boolean drained = false;
      // A result and its adapter version commit in one transaction but sit on two topics: once the results are in,
      // poll until nothing more comes, so the adapter versions committed with them are read too.
      while ((results < expectResults || !drained) && System.currentTimeMillis() < deadline) {
        int n = 0;
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
          n++;
          if (r.topic().equals(topics.trainResults.name())) {
            seen.add(topics.trainResults.valueSerde().deserializer().deserialize(r.topic(), r.value()));
            results++;
          } else {
            seen.add(topics.adapters.valueSerde().deserializer().deserialize(r.topic(), r.value()));
          }
        }
        drained = results >= expectResults && n == 0;
      }
    }
    return seen;
  }

  /** A simulated crash mid-training. */
  static final class Crash extends Error {
    Crash() {
      super("simulated crash");
    }
  }

  @Test
  void aCrashMidTrainingPublishesNothingAndTheTriggerIsRetrainedAfterARestart(SharedKafka kafka, @TempDir Path tmp)
      throws Exception {
    Topics topics = kafka.freshTopics("trainer-crash", 1);
    TrainerService.Settings s = TrainerService.Settings.defaults(tmp.resolve("store"));
    TrainerService first = new TrainerService(kafka.clientConfig(), topics, models, settings(LoraConfig.oppuUser()), s);
    first.stepListener = (step, total, loss) -> {
      throw new Crash();
    };
    Throwable[] crashed = new Throwable[1];
    Thread t1 = start(first, crashed);
    send(kafka, topics, List.of(trigger("c1", "u3", history(20, 8, 0), 0)));
    t1.join(240_000);
    assertTrue(crashed[0] instanceof Crash, "the first instance died mid-training: " + crashed[0]);
    assertTrue(read(kafka, topics, 1, 3_000).isEmpty(), "nothing published by the crashed run");
    first.close();

    // a restarted instance (same group, same transactional id) gets the trigger again and publishes it once
    List<Object> seen = roundTrip(kafka, topics, settings(LoraConfig.oppuUser()), s, List.of(), 1);
    assertEquals(2, seen.size(), seen.toString());
    assertTrue(seen.stream().anyMatch(o -> o instanceof TrainResult r && r.getTriggerId().equals("c1")
        && r.getAccepted()), seen.toString());
    assertTrue(seen.stream().anyMatch(o -> o instanceof AdapterVersion v && v.getVersion() == 1), seen.toString());
  }

  @Test
  void closeAbandonsARunningTrainingAndReturnsOnlyOnceTheServiceHasStopped(SharedKafka kafka, @TempDir Path tmp)
      throws Exception {
    // the caller closes the models right after close() (demo, `oppu run trainer`'s shutdown hook): a training still
    // running then would use freed tensors, a JVM crash rather than an exception
    Topics topics = kafka.freshTopics("trainer-close", 1);
    UserAdapterUpdater.Settings s = settings(LoraConfig.oppuUser());
    UserAdapterUpdater.Settings long50 = new UserAdapterUpdater.Settings(s.lora(), new AdapterTraining.Config(50,
        s.training().batchSize(), s.training().optimizer()), s.k(), s.maxTokens(), s.retrievedWords(), s.maxReplay(),
        s.holdoutFraction(), s.holdoutMax(), s.holdoutMinNew(), s.tolerance(), s.seed());
    TrainerService service = new TrainerService(kafka.clientConfig(), topics, models, long50,
        TrainerService.Settings.defaults(tmp.resolve("store")));
    java.util.concurrent.CountDownLatch training = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.atomic.AtomicInteger steps = new java.util.concurrent.atomic.AtomicInteger();
    service.stepListener = (step, total, loss) -> {
      steps.incrementAndGet();
      training.countDown();
    };
    Throwable[] crashed = new Throwable[1];
    Thread t = start(service, crashed);
    send(kafka, topics, List.of(trigger("long1", "u4", history(20, 10, 0), 0)));
    assertTrue(training.await(240, java.util.concurrent.TimeUnit.SECONDS), "the training started");
    service.close();
    int stepsAtClose = steps.get();
    t.join(60_000);
    assertFalse(t.isAlive());
    assertNull(crashed[0], () -> "run() ended normally: " + crashed[0]);
    assertEquals(stepsAtClose, steps.get(), "no training step after close() returned");
    assertTrue(stepsAtClose < 50, "the 50-epoch training was abandoned (" + stepsAtClose + " steps)");
    assertTrue(read(kafka, topics, 1, 3_000).isEmpty(), "nothing published for the abandoned training");
  }

  @Test
  void waitingTriggersOfDifferentUsersTrainInOneBatchAndEachPublishesItsOwnVersion(SharedKafka kafka,
      @TempDir Path tmp) throws Exception {
    Topics topics = kafka.freshTopics("trainer-many", 1);
    List<HistoryItem> h7 = history(30, 21, 0);
    List<HistoryItem> more7 = new ArrayList<>(h7);
    more7.addAll(history(12, 22, 30));
    // sent before the service starts, so that one poll finds them all: u7, u8, u9 train together; u7's second
    // trigger needs u7's first version, so it waits for the next batch
    send(kafka, topics, List.of(trigger("m1", "u7", h7, 0), trigger("m2", "u8", history(30, 23, 0), 0),
        trigger("m3", "u9", history(25, 24, 0), 0), trigger("m4", "u7", more7, 30)));
    TrainerService service = new TrainerService(kafka.clientConfig(), topics, models, settings(LoraConfig.oppuUser()),
        TrainerService.Settings.defaults(tmp.resolve("store")).withBatchUsers(4));
    Throwable[] crashed = new Throwable[1];
    Thread t = start(service, crashed);
    List<Object> seen;
    try {
      seen = read(kafka, topics, 4, 240_000);
    } finally {
      service.close();
      t.join(30_000);
    }
    assertNull(crashed[0], () -> "the trainer service failed: " + crashed[0]);
    List<TrainResult> results = seen.stream().filter(TrainResult.class::isInstance).map(TrainResult.class::cast)
        .toList();
    assertEquals(List.of("m1", "m2", "m3", "m4"), results.stream().map(TrainResult::getTriggerId).toList());
    results.forEach(r -> assertTrue(r.getAccepted(), r.getTriggerId() + ": " + r.getReason()));
    assertEquals(3, service.stats().batched.get(), "u7, u8 and u9 in one batch, u7's second trigger alone");
    List<AdapterVersion> versions = seen.stream().filter(AdapterVersion.class::isInstance)
        .map(AdapterVersion.class::cast).toList();
    assertEquals(4, versions.size(), versions.toString());
    assertEquals(27, versions.get(0).getCoveredSeq(), "30 items, the newest 2 held out");
    assertEquals(1, versions.get(2).getVersion());
    AdapterVersion u7v2 = versions.get(3);
    assertEquals("u7", u7v2.getUserId());
    assertEquals(2, u7v2.getVersion());
    assertEquals(40, u7v2.getCoveredSeq());
  }

  @Test
  void triggerInAdapterVersionOutLoadableByTheModelPackage(SharedKafka kafka, @TempDir Path tmp) throws Exception {
    Topics topics = kafka.freshTopics("trainer-e2e", 2);
    List<HistoryItem> h = history(30, 5, 0);
    List<HistoryItem> more = new ArrayList<>(h);
    more.addAll(history(12, 6, 30));
    List<TrainTrigger> triggers = List.of(trigger("t1", "u1", h, 0), trigger("t2", "u1", more, 30),
        trigger("t1-again", "u1", h, 0)); // the third is covered already: acknowledged and skipped
    List<Object> seen = roundTrip(kafka, topics, settings(LoraConfig.oppuUser()),
        TrainerService.Settings.defaults(tmp.resolve("store")), triggers, 3);
    List<TrainResult> results = seen.stream().filter(TrainResult.class::isInstance).map(TrainResult.class::cast)
        .toList();
    List<AdapterVersion> versions = seen.stream().filter(AdapterVersion.class::isInstance)
        .map(AdapterVersion.class::cast).toList();
    assertEquals(3, results.size(), results.toString());
    assertTrue(results.get(0).getAccepted(), results.get(0).getReason());
    assertTrue(results.get(1).getAccepted(), results.get(1).getReason());
    assertFalse(results.get(2).getAccepted());
    assertTrue(results.get(2).getReason().startsWith("skipped"), results.get(2).getReason());
    assertEquals(2, versions.size());
    AdapterVersion v1 = versions.get(0);
    AdapterVersion v2 = versions.get(1);
    assertEquals(1, v1.getVersion());
    assertEquals(2, v2.getVersion());
    assertEquals(27, v1.getCoveredSeq(), "30 items, the newest 2 held out");
    assertEquals(28, results.get(0).getLagsMillis().size());
    assertTrue(results.get(0).getLagsMillis().stream().allMatch(l -> l >= 500), "lag counts from arrival");
    assertEquals(40, v2.getCoveredSeq(), "v2 covers v1's held-out items and the new ones (28..41) but its own held-out (41)");
    assertNotNull(v1.getWeights(), "a small adapter travels inline");
    assertNull(v1.getWeightsPath());
    assertEquals(models.baseFingerprint(), v2.getBaseFingerprint());
    assertEquals(AdapterPayload.NO_TASK_ADAPTER, v2.getTaskFingerprint());
    TaskModels.TaskModel tm = models.get(Task.MOVIE_TAGGING.id());
    try (LoraAdapter a = AdapterRecords.load(v2, tm.baseFingerprint(), tm.taskFingerprint(), tm.model().config(),
        tm.model().manager(), null, Files.createDirectories(tmp.resolve("scratch")))) {
      assertEquals(LoraConfig.oppuUser().targetModules(), a.config().targetModules());
      assertEquals(v2.getWeightsSha256(), AdapterPayload.sha256(a.weightsBytes()));
    }
    // a record claiming another base is refused
    AdapterVersion alien = AdapterVersion.newBuilder(v2).setBaseFingerprint("0".repeat(64)).build();
    assertThrowsIllegalState(() -> AdapterRecords.load(alien, tm.baseFingerprint(), tm.taskFingerprint(),
        tm.model().config(), tm.model().manager(), null, tmp));
  }

  @Test
  void aGenerationAdapterRecordsTheTermDistributionTheTriggersCompute(SharedKafka kafka, @TempDir Path tmp)
      throws Exception {
    // the trainer's own copy recorded an empty distribution for generation tasks (ShiftDetector's is the rule now)
    Topics topics = kafka.freshTopics("trainer-terms", 1);
    List<HistoryItem> h = new ArrayList<>();
    for (HistoryItem m : history(12, 12, 0)) {
      h.add(HistoryItem.newBuilder(m).setFields(Map.of("text", m.getFields().get("description"),
          "title", m.getFields().get("description").split(" ", 2)[1])).build());
    }
    TrainTrigger t = TrainTrigger.newBuilder(trigger("g1", "u6", h, 0)).setTask(Task.NEWS_HEADLINE.id()).build();
    List<Object> seen = roundTrip(kafka, topics, settings(LoraConfig.oppuUser()),
        TrainerService.Settings.defaults(tmp.resolve("store")), List.of(t), 1);
    AdapterVersion v = seen.stream().filter(AdapterVersion.class::isInstance).map(AdapterVersion.class::cast)
        .findFirst().orElseThrow(() -> new AssertionError("no adapter version: " + seen));
    List<Map<String, String>> covered = h.stream().filter(i -> i.getSeq() <= v.getCoveredSeq())
        .map(HistoryItem::getFields).toList();
    assertFalse(v.getLabelDistribution().isEmpty(), "a generation adapter records its term distribution");
    assertEquals(dev.oppu.streams.ShiftDetector.distribution(Task.NEWS_HEADLINE, covered,
        dev.oppu.streams.IngestConfig.defaults().newAnalyzer()), v.getLabelDistribution());
  }

  @Test
  void anAdapterOverOneMegabyteGoesThroughTheStoreByReference(SharedKafka kafka, @TempDir Path tmp)
      throws Exception {
    Topics topics = kafka.freshTopics("trainer-big", 1);
    // every projection, rank 320: ~1.3 MB of float32, over Kafka's 1 MB default record size
    LoraConfig big = new LoraConfig(320, 320, 0.0, LoraConfig.ALL_MODULES, false);
    List<Object> seen = roundTrip(kafka, topics, settings(big), TrainerService.Settings.defaults(tmp.resolve("store")),
        List.of(trigger("big1", "u2", history(12, 9, 0), 0)), 1);
    AdapterVersion v = seen.stream().filter(AdapterVersion.class::isInstance).map(AdapterVersion.class::cast)
        .findFirst().orElseThrow(() -> new AssertionError("no adapter version: " + seen));
    assertNull(v.getWeights());
    assertNotNull(v.getWeightsPath());
    byte[] weights = AdapterRecords.weights(v, tmp.resolve("store"));
    assertTrue(weights.length > 1_048_576, "adapter of " + weights.length + " bytes");
    TaskModels.TaskModel tm = models.get(Task.MOVIE_TAGGING.id());
    try (LoraAdapter a = AdapterRecords.load(v, tm.baseFingerprint(), tm.taskFingerprint(), tm.model().config(),
        tm.model().manager(), tmp.resolve("store"), tmp)) {
      assertEquals(320, a.config().r());
    }
    // a corrupted stored file is detected by its SHA-256
    Files.write(Path.of(v.getWeightsPath()), new byte[] {1, 2, 3});
    assertThrowsIllegalState(() -> AdapterRecords.weights(v, tmp.resolve("store")));
    // and a reader with no store, or another one, does not follow the path at all
    assertThrows(AdapterPayload.RefusedPathException.class, () -> AdapterRecords.weights(v, null));
    assertThrows(AdapterPayload.RefusedPathException.class, () -> AdapterRecords.weights(v, tmp.resolve("other")));
  }

  @Test
  void aTriggerOlderThanItsUsersDeletionPublishesNothingAndTheDeletedAdaptersStoredFileGoes(SharedKafka kafka,
      @TempDir Path tmp) throws Exception {
    Topics topics = kafka.freshTopics("trainer-deleted", 1);
    LoraConfig big = new LoraConfig(320, 320, 0.0, LoraConfig.ALL_MODULES, false); // stored by reference
    TrainerService.Settings s = TrainerService.Settings.defaults(tmp.resolve("store"));
    List<Object> seen = roundTrip(kafka, topics, settings(big), s,
        List.of(trigger("d1", "u5", history(12, 10, 0), 0)), 1);
    AdapterVersion v1 = seen.stream().filter(AdapterVersion.class::isInstance).map(AdapterVersion.class::cast)
        .findFirst().orElseThrow(() -> new AssertionError("no adapter version: " + seen));
    Path stored = Path.of(v1.getWeightsPath());
    assertTrue(Files.exists(stored));

    // A trigger was created, then the user was deleted (ingestion tombstones the adapter keys) before it trained.
    TrainTrigger late = trigger("d2", "u5", history(20, 11, 0), 0);
    Thread.sleep(5);
    try (KafkaProducer<String, byte[]> p = new KafkaProducer<>(kafka.clientConfig().producer(),
        new StringSerializer(), new org.apache.kafka.common.serialization.ByteArraySerializer())) {
      p.send(new ProducerRecord<>(topics.adapters.name(), Topics.adapterKey("u5", "LaMP_2M", "plain"), null)).get();
    }
    List<Object> after = roundTrip(kafka, topics, settings(big), s, List.of(late), 2);
    TrainResult r = after.stream().filter(o -> o instanceof TrainResult tr && tr.getTriggerId().equals("d2"))
        .map(TrainResult.class::cast).findFirst().orElseThrow(() -> new AssertionError(after.toString()));
    assertFalse(r.getAccepted());
    assertTrue(r.getReason().startsWith("dropped"), r.getReason());
    assertEquals(1, after.stream().filter(AdapterVersion.class::isInstance).count(), "only v1, from before: " + after);
    assertFalse(Files.exists(stored), "the deleted adapter's stored weights are removed");
    assertFalse(Files.exists(stored.getParent()));
  }

  interface Body {
    void run() throws Exception;
  }

  static void assertThrowsIllegalState(Body body) {
    try {
      body.run();
    } catch (IllegalStateException expected) {
      return;
    } catch (Exception e) {
      throw new AssertionError("expected IllegalStateException, got " + e, e);
    }
    throw new AssertionError("expected IllegalStateException");
  }
}
