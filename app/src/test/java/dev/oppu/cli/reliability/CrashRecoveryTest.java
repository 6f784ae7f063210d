package dev.oppu.cli.reliability;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.oppu.broker.CheckedSends;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.TaskModels;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.AdapterCache;
import dev.oppu.serving.GivenProfiles;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.ServingConfig;
import dev.oppu.serving.StreamsApp;
import dev.oppu.streams.HistoryIndex;
import dev.oppu.streams.IngestConfig;
import dev.oppu.system.ServingModels;
import dev.oppu.trainer.service.AdapterRecords;
import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.processor.api.MockProcessorContext;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * SPEC section 6, exactly once under hard kills: {@code oppu run streams} and {@code oppu run trainer} run as separate
 * OS processes on the test broker while a synthetic LaMP_2M replay is published; they are SIGKILLed at seeded random
 * points (one kill lands while a training run is in progress) and restarted. Each streams kill must find the process
 * with committed history or a transaction in flight, and a training killed midway must be started again from its
 * uncommitted trigger and get exactly one result. Afterwards every behavior is in the
 * history exactly once, the BM25 index equals one rebuilt from that history, every request has exactly one committed
 * answer, and every adapter version on the adapters topic is whole and loads on the base it names.
 *
 * <p>The seed is {@code -Doppu.crash.seed=N} (default fixed), so a failing schedule can be replayed.
 */
@ExtendWith(KafkaExtension.class)
class CrashRecoveryTest {
  static final Task TASK = Task.MOVIE_TAGGING;
  static final long SEED = Long.getLong("oppu.crash.seed", 20261127L);
  static final int USERS = 6;
  static final int CHUNKS = 5;
  static final String MODE = "OPPU+RAG";
  static final Path FIXTURES = Path.of(System.getProperty("oppu.fixtures", "../fixtures"));
  static final Duration PATIENCE = Duration.ofMinutes(8);
  /** What a JVM killed by SIGKILL exits with (128 + 9): proves destroyForcibly was a hard kill. */
  static final int SIGKILL_EXIT = 137;

  @TempDir
  Path dir;

  /** One OS process of the system; restartable; its output goes to one log file per incarnation. */
  final class Service {
    final String name;
    final List<String> args;
    Process process;
    Path log;
    int incarnation;

    Service(String name, List<String> args) {
      this.name = name;
      this.args = args;
    }

    Path log(int incarnation) {
      return dir.resolve(name + "-" + incarnation + ".log");
    }

    void start() throws IOException {
      incarnation++;
      log = log(incarnation);
      List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx768m", "-Djava.io.tmpdir=" + Files.createDirectories(dir.resolve("tmp-" + name)),
          "-Dai.djl.offline=true", "-Dai.djl.pytorch.graph_optimizer=false", "-Dai.djl.pytorch.num_threads=1",
          "-Dai.djl.pytorch.num_interop_threads=1", "-Dorg.slf4j.simpleLogger.log.dev.oppu=info",
          // surefire's class path (possibly a manifest-only jar, which -cp follows)
          "-cp", System.getProperty("java.class.path"), "dev.oppu.cli.Main", "run"));
      cmd.addAll(args);
      process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    String output() throws IOException {
      return Files.exists(log) ? Files.readString(log) : "";
    }

    void awaitOutput(String text) throws Exception {
      await(name + " prints '" + text + "'", () -> {
        try {
          return output().contains(text);
        } catch (IOException e) {
          return false;
        }
      });
    }

    /** SIGKILL; returns the exit code (137 for a hard kill). */
    int kill() throws InterruptedException {
      process.destroyForcibly();
      return process.waitFor();
    }

    void stop() throws InterruptedException {
      if (process != null && process.isAlive()) {
        process.destroy(); // SIGTERM: shutdown hooks close the clients
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor();
        }
      }
    }

    void assertAlive() throws IOException {
      assertTrue(process.isAlive(), name + " died on its own:\n" + output());
    }
  }

  @Test
  void killedStreamsAndTrainerProcessesLoseDuplicateAndTearNothing(SharedKafka kafka) throws Exception {
    long started = System.nanoTime();
    Topics topics = kafka.freshTopics("crash", 2);
    String appId = "crash-" + Long.toHexString(System.nanoTime());
    Path cfg = dir.resolve("client.properties");
    Properties settings = new Properties();
    settings.putAll(kafka.clientConfig().raw());
    for (Topics.Topic<String, ?> t : topics.all()) {
      settings.setProperty(Topics.PREFIX + t.key(), t.name());
    }
    // a killed member blocks its group's next rebalance until its session times out: keep that short here
    settings.setProperty("session.timeout.ms", "6000");
    settings.setProperty("heartbeat.interval.ms", "1000");
    settings.setProperty(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
    settings.setProperty(IngestConfig.PREFIX + "first-min-items", "4");
    settings.setProperty(IngestConfig.PREFIX + "new-items-max", "8");
    try (Writer w = Files.newBufferedWriter(cfg)) {
      settings.store(w, null);
    }

    Path modelDir = dir.resolve("model");
    String baseFingerprint;
    LlamaConfig modelConfig;
    try (NDManager m = NDManager.newBaseManager();
        LlamaModel model = LlamaModel.random(LlamaConfig.of(512, 64, 172, 2, 4, 2, 512, 10000.0, false), 5, m)) {
      model.save(modelDir);
      Files.copy(FIXTURES.resolve("hf-llama-mha").resolve("tokenizer.json"), modelDir.resolve("tokenizer.json"));
      baseFingerprint = model.fingerprint();
      modelConfig = model.config();
    }

    Path stateDir = dir.resolve("state");
    Service streams = new Service("streams", List.of("streams", "--model", modelDir.toString(), "--tasks", TASK.id(),
        "--mode", MODE, "--batch-wait-ms", "20", "--max-new-tokens", "4", "--application-id", appId,
        "--state-dir", stateDir.toString(), "--partitions", "2",
        "--bootstrap", kafka.bootstrapServers(), "--kafka-config", cfg.toString()));
    Service trainer = new Service("trainer", List.of("trainer", "--base-model", modelDir.toString(),
        "--adapter-store", dir.resolve("adapter-store").toString(), "--instance", appId, "--device", "cpu",
        "--bootstrap", kafka.bootstrapServers(), "--kafka-config", cfg.toString()));

    SynthDataset data = Synth.generate(TASK,
        Synth.Params.defaults().withUsers(USERS).withTrainUsers(0).withQueries(CHUNKS).withSeed(SEED));
    List<List<Behavior>> chunks = behaviorChunks(data);
    Map<String, Behavior> published = new LinkedHashMap<>();
    Map<String, Request> requests = new LinkedHashMap<>();
    Random rnd = new Random(SEED);
    int kills = 0;
    int midTrainingKills = 0;
    List<String> killLog = new ArrayList<>();
    // What each kill interrupted, checked once the replay is processed: a killed streams process had committed state
    // or an open transaction; a training killed midway is run again from its trigger's uncommitted offset.
    List<StreamsKill> streamsKilled = new ArrayList<>();
    List<String> interruptedTriggers = new ArrayList<>();
    String historyChangelog = appId + "-" + StoreNames.HISTORY_STORE + "-changelog";
    // what the streams process writes, in its exactly-once transactions
    List<String> streamsOutputs = List.of(historyChangelog, appId + "-" + StoreNames.PENDING_STORE + "-changelog",
        topics.responses.name(), topics.trainTriggers.name());

    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka.clientConfig().producer(),
        Serdes.String().serializer(), new ByteArraySerializer())) {
      streams.start();
      trainer.start();
      streams.awaitOutput("oppu streams: running");
      CheckedSends sends = new CheckedSends();
      for (int c = 0; c < CHUNKS; c++) {
        long historyWrittenBefore = endOffsets(kafka, List.of(historyChangelog), "read_uncommitted");
        for (Behavior b : chunks.get(c)) {
          sends.send(producer, new ProducerRecord<>(topics.behaviors.name(), b.getUserId(),
              topics.behaviors.valueSerde().serializer().serialize(topics.behaviors.name(), b)));
          published.put(b.getEventId(), b);
        }
        for (UserData u : data.users()) {
          Query q = u.queries().get(c);
          Request r = Request.newBuilder().setRequestId(q.id() + "/" + MODE).setUserId(u.userId())
              .setTask(TASK.id()).setInput(q.input()).setMode(MODE).setRequestTime(Instant.now()).build();
          sends.send(producer, new ProducerRecord<>(topics.requests.name(), u.userId(),
              topics.requests.valueSerde().serializer().serialize(topics.requests.name(), r)));
          requests.put(r.getRequestId(), r);
        }
        sends.await(); // every behavior and request of the chunk acknowledged before anything is killed
        if (c == CHUNKS - 1) {
          break; // the last chunk runs to completion undisturbed
        }
        // Round c: 0 streams, 1 trainer mid-training, 2 both, 3 streams again; at a seeded random moment.
        boolean killStreams = c != 1;
        boolean killTrainer = c == 1 || c == 2;
        if (killTrainer && c == 1) {
          // wait for a training run to start, then kill within a few ms of it (retrying if it finished first)
          boolean mid = false;
          for (int attempt = 0; attempt < 5 && !mid; attempt++) {
            int seen = countStarts(trainer.output());
            await("trainer starts a training run", () -> {
              try {
                return countStarts(trainer.output()) > seen;
              } catch (IOException e) {
                return false;
              }
            });
            Thread.sleep(rnd.nextInt(40));
            assertEquals(SIGKILL_EXIT, trainer.kill(), "SIGKILL");
            String after = trainer.output();
            mid = trainingInProgress(after);
            kills++;
            killLog.add("trainer (" + (mid ? "during " : "after ") + lastRun(after) + ")");
            if (mid) {
              midTrainingKills++;
              interruptedTriggers.add(lastTrigger(after));
            }
            trainer.start();
          }
          assertTrue(mid, "a kill landed in the middle of a training run: " + killLog);
        } else {
          if (killStreams) {
            // the kill must find the process at work: wait until it has begun writing this chunk's history
            await("streams writes the history of chunk " + c,
                () -> endOffsets(kafka, List.of(historyChangelog), "read_uncommitted") > historyWrittenBefore);
          }
          Thread.sleep(200 + rnd.nextInt(2500));
          if (killTrainer) {
            trainer.assertAlive();
            assertEquals(SIGKILL_EXIT, trainer.kill(), "SIGKILL");
            String after = trainer.output(); // read after the kill: the log can no longer grow
            boolean mid = trainingInProgress(after);
            kills++;
            killLog.add("trainer (training " + (mid ? "in progress" : "idle") + ")");
            if (mid) {
              midTrainingKills++;
              interruptedTriggers.add(lastTrigger(after));
            }
          }
          if (killStreams) {
            streams.assertAlive();
            assertEquals(SIGKILL_EXIT, streams.kill(), "SIGKILL");
            // read after the kill and before the restart: what the killed process had committed, and what it had
            // written in its open transaction (offsets past the last stable offset), which its successor must abort
            int committedHistory = latest(readCommitted(kafka, historyChangelog)).size();
            long inFlight = endOffsets(kafka, streamsOutputs, "read_uncommitted")
                - endOffsets(kafka, streamsOutputs, "read_committed");
            kills++;
            killLog.add("streams after chunk " + c + " (" + committedHistory + " history entries committed, "
                + inFlight + " records in its open transaction)");
            streamsKilled.add(new StreamsKill(c, committedHistory, inFlight));
            streams.start();
          }
          if (killTrainer) {
            trainer.start();
          }
          if (killStreams) {
            streams.awaitOutput("oppu streams: running");
          }
        }
      }

      // Quiescence: every request answered, every behavior in the history, every trigger trained on.
      AvroSerde<dev.oppu.schemas.HistoryItem> itemSerde = new AvroSerde<>(dev.oppu.schemas.HistoryItem.class);
      java.util.concurrent.atomic.AtomicReference<String> progress = new java.util.concurrent.atomic.AtomicReference<>();
      await(() -> "the replay is fully processed (" + progress.get() + ")", () -> {
        try {
          streams.assertAlive();
          trainer.assertAlive();
          Set<String> answered = new java.util.HashSet<>();
          for (ConsumerRecord<byte[], byte[]> r : readCommitted(kafka, topics.responses.name())) {
            answered.add(topics.responses.valueSerde().deserializer().deserialize(r.topic(), r.value())
                .getRequestId());
          }
          long stored = latest(readCommitted(kafka, historyChangelog)).size();
          Set<String> triggered = new java.util.HashSet<>();
          for (ConsumerRecord<byte[], byte[]> r : readCommitted(kafka, topics.trainTriggers.name())) {
            triggered.add(topics.trainTriggers.valueSerde().deserializer().deserialize(r.topic(), r.value())
                .getTriggerId());
          }
          Set<String> trained = new java.util.HashSet<>();
          for (ConsumerRecord<byte[], byte[]> r : readCommitted(kafka, topics.trainResults.name())) {
            trained.add(topics.trainResults.valueSerde().deserializer().deserialize(r.topic(), r.value())
                .getTriggerId());
          }
          Set<String> untrained = new java.util.HashSet<>(triggered);
          untrained.removeAll(trained);
          progress.set(String.format(java.util.Locale.ROOT, "%d/%d requests answered, %d/%d behaviors stored, "
              + "%d triggers, %d without a result", answered.size(), requests.size(), stored, published.size(),
              triggered.size(), untrained.size()));
          return answered.size() == requests.size() && stored >= published.size() && !triggered.isEmpty()
              && untrained.isEmpty();
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      streams.stop();
      trainer.stop();

      // 0. what the kills did: each was observed to interrupt work that had to be recovered
      List<String> notRecovered = new ArrayList<>();
      for (StreamsKill k : streamsKilled) {
        // a kill of a process with neither committed state nor a transaction in flight would recover nothing; what
        // the restarts made of both is checked below (history exactly once, index equal to its rebuild, answers once)
        if (k.committedHistory() == 0 && k.inFlight() == 0) {
          notRecovered.add("streams kill after chunk " + k.chunk() + " interrupted nothing: no committed history, "
              + "no open transaction");
        }
      }
      Map<String, Integer> results = new HashMap<>();
      for (ConsumerRecord<byte[], byte[]> r : readCommitted(kafka, topics.trainResults.name())) {
        results.merge(topics.trainResults.valueSerde().deserializer().deserialize(r.topic(), r.value())
            .getTriggerId(), 1, Integer::sum);
      }
      for (String triggerId : interruptedTriggers) {
        // the trigger of an interrupted training was not committed: a restarted trainer consumed it again and ran it
        int runs = 0;
        for (int i = 1; i <= trainer.incarnation; i++) {
          runs += countOccurrences(Files.readString(trainer.log(i)), "training started (trigger " + triggerId + ",");
        }
        if (runs < 2) {
          notRecovered.add("trigger " + triggerId + " killed mid-training was started " + runs + " time(s), not again");
        }
        if (results.getOrDefault(triggerId, 0) != 1) {
          notRecovered.add("trigger " + triggerId + " killed mid-training has " + results.getOrDefault(triggerId, 0)
              + " committed results");
        }
      }
      assertFalse(interruptedTriggers.isEmpty(), "a training interrupted by a kill: " + killLog);
      assertTrue(notRecovered.isEmpty(), notRecovered + " (kills: " + killLog + ")");

      // 1. every behavior in the history exactly once
      Map<Bytes, byte[]> history = latest(readCommitted(kafka, historyChangelog));
      Map<String, Integer> copies = new HashMap<>();
      for (byte[] v : history.values()) {
        copies.merge(itemSerde.decode(v).getEventId(), 1, Integer::sum);
      }
      for (String id : published.keySet()) {
        assertEquals(1, copies.getOrDefault(id, 0), "copies of behavior " + id + " in the history");
      }
      assertEquals(published.size(), history.size(), "history holds only the published behaviors");

      // 2. every request answered exactly once, read_committed
      Map<String, Integer> answers = new HashMap<>();
      for (ConsumerRecord<byte[], byte[]> r : readCommitted(kafka, topics.responses.name())) {
        Response resp = topics.responses.valueSerde().deserializer().deserialize(r.topic(), r.value());
        answers.merge(resp.getRequestId(), 1, Integer::sum);
        assertNull(resp.getError(), "request " + resp.getRequestId() + " failed");
        assertEquals(requests.get(resp.getRequestId()).getUserId(), resp.getUserId());
      }
      for (String id : requests.keySet()) {
        assertEquals(1, answers.getOrDefault(id, 0), "answers to request " + id);
      }
      assertEquals(requests.size(), answers.size(), "no answer to a request nobody made");

      // 3. every adapter version whole and loadable on the base it was trained on; versions only go up
      int adapters = 0;
      Map<String, Long> lastVersion = new HashMap<>();
      Path scratch = Files.createDirectories(dir.resolve("scratch"));
      try (NDManager m = NDManager.newBaseManager()) {
        for (ConsumerRecord<byte[], byte[]> r : readCommitted(kafka, topics.adapters.name())) {
          AdapterVersion v = topics.adapters.valueSerde().deserializer().deserialize(r.topic(), r.value());
          assertEquals(baseFingerprint, v.getBaseFingerprint());
          assertEquals(AdapterPayload.NO_TASK_ADAPTER, v.getTaskFingerprint());
          // whole: the payload as the record carries it (inline bytes, or the stored file read back here) hashes to
          // the SHA-256 the trainer recorded when it encoded the adapter; read and hashed by the test itself, not
          // through AdapterRecords/AdapterPayload, whose own check is part of what is tested
          assertTrue(v.getWeights() == null ^ v.getWeightsPath() == null, "inline weights xor a stored file: " + v);
          byte[] payload = v.getWeights() != null ? bytes(v.getWeights()) : Files.readAllBytes(Path.of(
              v.getWeightsPath()));
          assertEquals(v.getWeightsSha256(), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
              .digest(payload)), "SHA-256 of the payload of " + v.getUserId() + " v" + v.getVersion());
          try (LoraAdapter a = AdapterRecords.load(v, baseFingerprint, AdapterPayload.NO_TASK_ADAPTER, modelConfig, m,
              null, scratch)) {
            assertFalse(a.modulePaths().isEmpty());
          }
          String key = new String(r.key(), java.nio.charset.StandardCharsets.UTF_8);
          Long prev = lastVersion.put(key, v.getVersion());
          assertTrue(prev == null || v.getVersion() > prev, key + ": version " + v.getVersion() + " after " + prev);
          adapters++;
        }
      }
      assertTrue(adapters > 0, "training published adapters");

      // 4. the BM25 index the application serves equals one rebuilt from the history changelog
      Map<String, Map<Bytes, byte[]>> served = servedIndex(kafka, topics, settings, modelDir, appId, stateDir);
      Map<String, Map<Bytes, byte[]>> rebuilt = rebuiltIndex(history,
          latest(readCommitted(kafka, appId + "-" + StoreNames.HISTORY_META_STORE + "-changelog")),
          IngestConfig.from(settings));
      assertFalse(rebuilt.get(StoreNames.POSTINGS_STORE).isEmpty());
      for (String store : List.of(StoreNames.POSTINGS_STORE, StoreNames.INDEX_STATS_STORE)) {
        assertEquals(hex(rebuilt.get(store)), hex(served.get(store)), store + " equals its rebuild from history");
      }

      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
      System.out.printf(java.util.Locale.ROOT, "crash recovery: seed %d, %d kills (%d streams, %d mid-training): %s;"
              + " %d behaviors, %d requests, %d adapter versions, %d s%n", SEED, kills, streamsKilled.size(),
          midTrainingKills, killLog, published.size(), requests.size(), adapters, seconds);
    } finally {
      streams.stop();
      trainer.stop();
      keepLogs();
    }
  }

  /** The processes' logs outlive the temporary directory (under java.io.tmpdir, i.e. target/tmp in Maven). */
  private void keepLogs() throws IOException {
    Path keep = Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir"), "crash-recovery-logs"));
    try (var old = Files.list(keep)) {
      for (Path f : old.toList()) {
        Files.delete(f);
      }
    }
    try (var logs = Files.list(dir)) {
      for (Path f : logs.filter(f -> f.toString().endsWith(".log")).toList()) {
        Files.copy(f, keep.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
  }

  /** The behaviors in publishing order (users interleaved, each user's items in order), cut into CHUNKS parts. */
  static List<List<Behavior>> behaviorChunks(SynthDataset data) {
    List<Behavior> all = new ArrayList<>();
    int longest = data.users().stream().mapToInt(u -> u.profile().size()).max().orElse(0);
    for (int i = 0; i < longest; i++) {
      for (UserData u : data.users()) {
        if (i < u.profile().size()) {
          HistoryItem h = u.profile().get(i);
          all.add(Behavior.newBuilder().setEventId(TASK.id() + "/" + u.userId() + "/" + h.id())
              .setUserId(u.userId()).setTask(TASK.id()).setEventTime(Instant.parse(h.date() + "T00:00:00Z"))
              .setItemId(h.id()).setFields(new LinkedHashMap<>(h.fields())).build());
        }
      }
    }
    List<List<Behavior>> out = new ArrayList<>();
    for (int c = 0; c < CHUNKS; c++) {
      out.add(all.subList(all.size() * c / CHUNKS, all.size() * (c + 1) / CHUNKS));
    }
    return out;
  }

  /** The adapter key and version of the last run the trainer started, e.g. {@code u0001|LaMP_2M|plain v2}. */
  static String lastRun(String log) {
    int start = log.lastIndexOf("training started");
    int lineStart = log.lastIndexOf('\n', start) + 1;
    String line = log.substring(lineStart, start);
    return line.substring(line.lastIndexOf(" - ") + 3).replaceAll(":\\s*$", "");
  }

  static int countStarts(String log) {
    return countOccurrences(log, "training started");
  }

  static int countOccurrences(String text, String part) {
    int n = 0;
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      n++;
    }
    return n;
  }

  /** The trigger id of the last run the trainer started ({@code ... training started (trigger ID, ...}). */
  static String lastTrigger(String log) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("training started \\(trigger ([^,]+),").matcher(log);
    String last = null;
    while (m.find()) {
      last = m.group(1);
    }
    assertNotNull(last, "no training started in the log");
    return last;
  }

  /**
   * A kill of the streams process: after which chunk, the history entries it had committed, and the records it had
   * written in its open transaction.
   */
  record StreamsKill(int chunk, int committedHistory, long inFlight) {}

  /**
   * The summed end offsets of the topics' partitions as a consumer of that isolation level sees them: the high
   * watermarks ({@code read_uncommitted}) or the last stable offsets ({@code read_committed}).
   */
  static long endOffsets(SharedKafka kafka, List<String> topicNames, String isolation) {
    Properties p = kafka.clientConfig().consumer(null);
    p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> parts = new ArrayList<>();
      for (String topic : topicNames) {
        c.partitionsFor(topic, Duration.ofSeconds(30)).forEach(i -> parts.add(new TopicPartition(topic,
            i.partition())));
      }
      return c.endOffsets(parts, Duration.ofSeconds(30)).values().stream().mapToLong(Long::longValue).sum();
    }
  }

  private static byte[] bytes(java.nio.ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.duplicate().get(out);
    return out;
  }

  /** Whether the trainer's last log line about a run is its start (no outcome logged after it). */
  static boolean trainingInProgress(String log) {
    int start = log.lastIndexOf("training started");
    if (start < 0) {
      return false;
    }
    String rest = log.substring(log.indexOf('\n', start) < 0 ? log.length() : log.indexOf('\n', start));
    return !rest.contains("items, loss") && !rest.contains("training failed");
  }

  /** Every committed record of a topic, from the beginning up to its last stable offset. */
  static List<ConsumerRecord<byte[], byte[]>> readCommitted(SharedKafka kafka, String topic) {
    Properties p = kafka.clientConfig().consumer("crash-check-" + System.nanoTime());
    p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.setProperty(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(16 * 1024 * 1024));
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
          .map(i -> new TopicPartition(topic, i.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      long giveUp = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        if (System.nanoTime() > giveUp) {
          throw new AssertionError("could not read " + topic + " to its end");
        }
        c.poll(Duration.ofMillis(200)).forEach(out::add);
      }
    }
    return out;
  }

  /** A compacted topic's content: the latest value per key, tombstones removing it. */
  static Map<Bytes, byte[]> latest(List<ConsumerRecord<byte[], byte[]>> records) {
    Map<Bytes, byte[]> out = new TreeMap<>();
    for (ConsumerRecord<byte[], byte[]> r : records) {
      if (r.value() == null) {
        out.remove(Bytes.wrap(r.key()));
      } else {
        out.put(Bytes.wrap(r.key()), r.value());
      }
    }
    return out;
  }

  static Map<String, String> hex(Map<Bytes, byte[]> m) {
    Map<String, String> out = new TreeMap<>();
    m.forEach((k, v) -> out.put(HexFormat.of().formatHex(k.get()), HexFormat.of().formatHex(v)));
    return out;
  }

  /**
   * The index stores as the application serves them after all the kills: a fresh instance of the same application
   * (same id and state directory as the last streams process) started in this JVM, read through interactive queries.
   */
  static Map<String, Map<Bytes, byte[]>> servedIndex(SharedKafka kafka, Topics topics, Properties settings,
      Path modelDir, String appId, Path stateDir) throws Exception {
    ServingConfig serving = ServingConfig.from(settings);
    IngestConfig ingest = IngestConfig.from(settings).withAdapterPartitions(2);
    Properties overrides = kafka.clientConfig().streams(appId);
    overrides.putAll(clientKeys(settings));
    overrides.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    try (TaskModels models = new TaskModels(modelDir, null, Set.of(TASK.id()), null);
        AdapterCache cache = new AdapterCache(serving.cacheMaxAdapters(), serving.cacheMaxBytes());
        KafkaStreams app = new KafkaStreams(StreamsApp.topology(topics, ingest, serving,
            new ModelBatchGenerator(ServingModels.byTask(models), models.tokenizer(), ModelBatchGenerator.Options.greedy()), cache,
            GivenProfiles.none()), StreamsApp.config(appId, kafka.bootstrapServers(), serving, overrides))) {
      app.start();
      Map<String, Map<Bytes, byte[]>> out = new HashMap<>();
      await("the fresh instance serves its stores", () -> {
        if (app.state() != KafkaStreams.State.RUNNING) {
          return false;
        }
        try {
          for (String name : List.of(StoreNames.POSTINGS_STORE, StoreNames.INDEX_STATS_STORE)) {
            ReadOnlyKeyValueStore<Bytes, byte[]> s = app.store(StoreQueryParameters.fromNameAndType(name,
                QueryableStoreTypes.<Bytes, byte[]>keyValueStore()));
            Map<Bytes, byte[]> content = new TreeMap<>();
            try (KeyValueIterator<Bytes, byte[]> it = s.all()) {
              it.forEachRemaining(kv -> content.put(kv.key, kv.value));
            }
            out.put(name, content);
          }
          return true;
        } catch (InvalidStateStoreException notYet) {
          return false;
        }
      });
      app.close(Duration.ofSeconds(30));
      return out;
    }
  }

  private static Properties clientKeys(Properties settings) {
    Properties p = new Properties();
    settings.forEach((k, v) -> {
      if (!k.toString().startsWith("oppu.")) {
        p.put(k, v);
      }
    });
    return p;
  }

  /** The index rebuilt from scratch out of the history and its ranges (the logged truth). */
  static Map<String, Map<Bytes, byte[]>> rebuiltIndex(Map<Bytes, byte[]> history, Map<Bytes, byte[]> meta,
      IngestConfig config) {
    MockProcessorContext<Object, Object> ctx = new MockProcessorContext<>();
    Map<String, KeyValueStore<Bytes, byte[]>> stores = new LinkedHashMap<>();
    for (String name : List.of(StoreNames.HISTORY_STORE, StoreNames.HISTORY_META_STORE,
        StoreNames.POSTINGS_STORE, StoreNames.INDEX_STATS_STORE)) {
      KeyValueStore<Bytes, byte[]> s = Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name),
          Serdes.Bytes(), Serdes.ByteArray()).withLoggingDisabled().build();
      s.init(ctx.getStateStoreContext(), s);
      stores.put(name, s);
    }
    history.forEach((k, v) -> stores.get(StoreNames.HISTORY_STORE).put(k, v));
    meta.forEach((k, v) -> stores.get(StoreNames.HISTORY_META_STORE).put(k, v));
    int rebuilt = new HistoryIndex(stores.get(StoreNames.HISTORY_STORE),
        stores.get(StoreNames.HISTORY_META_STORE), stores.get(StoreNames.POSTINGS_STORE),
        stores.get(StoreNames.INDEX_STATS_STORE), config.newAnalyzer(), config.maxHistory()).reconcile();
    assertEquals(meta.size(), rebuilt, "every (user, task) rebuilt");
    Map<String, Map<Bytes, byte[]>> out = new HashMap<>();
    for (String name : List.of(StoreNames.POSTINGS_STORE, StoreNames.INDEX_STATS_STORE)) {
      Map<Bytes, byte[]> content = new TreeMap<>();
      try (KeyValueIterator<Bytes, byte[]> it = stores.get(name).all()) {
        it.forEachRemaining((KeyValue<Bytes, byte[]> kv) -> content.put(kv.key, kv.value));
      }
      out.put(name, content);
    }
    return out;
  }

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    await(() -> what, condition);
  }

  static void await(java.util.function.Supplier<String> what, BooleanSupplier condition) throws InterruptedException {
    long giveUp = System.nanoTime() + PATIENCE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > giveUp) {
        throw new AssertionError("timed out waiting until " + what.get());
      }
      Thread.sleep(250);
    }
  }
}
