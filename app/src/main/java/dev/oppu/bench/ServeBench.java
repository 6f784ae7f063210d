package dev.oppu.bench;

import dev.oppu.schemas.StoreNames;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.cli.KafkaOptions;
import dev.oppu.cli.ServingOptions;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.system.OppuSystem;
import dev.oppu.system.ServingModels;
import dev.oppu.system.StreamsApplication;
import dev.oppu.trainer.pretrain.BpeTokenizerTrainer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code oppu bench serve}: the serving application (Kafka Streams, exactly-once, on a broker) under a closed loop of
 * clients keeping {@code --outstanding} requests in flight, each asking for {@code --new-tokens} new tokens (OPPU
 * mode: every request uses its user's own adapter), over 1, 100 and 1,000 distinct users' adapters. The baseline is
 * the same server with a maximum batch of 1, measured in the same run with the same StreamsConfig. Requests go to the
 * users round-robin, so a batch mixes as many distinct adapters as it has rows (up to the number of users).
 */
@Command(name = "serve", description = "Mixed-adapter micro-batched serving vs batch size 1 over 1, 100 and 1,000 "
    + "users' adapters (closed loop); last line is one JSON object.")
public final class ServeBench implements Callable<Integer> {

  @Option(names = "--model", paramLabel = "DIR",
      description = "Model checkpoint directory with tokenizer.json (default: the project's default model shape "
          + "with random weights and a BPE tokenizer trained on the bench's text; speed does not depend on weights).")
  Path model;

  @Option(names = "--adapters", split = ",", defaultValue = "1,100,1000",
      description = "Distinct users' adapters per configuration (default: ${DEFAULT-VALUE}).")
  List<Integer> adapterCounts;

  @Option(names = "--outstanding", defaultValue = "32", description = "Requests in flight (default: ${DEFAULT-VALUE}).")
  int outstanding;

  @Mixin
  ServingOptions serving = new ServingOptions();

  /** Where and in what precision the model computes (one default for every command). */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.DeviceOptions device = new dev.oppu.cli.DeviceOptions();


  @Option(names = "--requests", defaultValue = "320",
      description = "Measured requests per configuration, after --warmup ones (default: ${DEFAULT-VALUE}).")
  int requests;

  @Option(names = "--warmup", defaultValue = "64", description = "Warm-up requests (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--commit-interval-ms", defaultValue = "20",
      description = "Streams commit interval: exactly-once responses become visible at commits (default: "
          + "${DEFAULT-VALUE}).")
  long commitMs;

  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  /** The bench's own serving settings, unless given: 8 new tokens, batches of up to 32, 20 ms of waiting. */
  private int newTokens;
  private int maxBatch;
  private long batchWaitMs;

  private static final String[] WORDS = ("robot space family drama love war city night story friend secret "
      + "journey ship island king queen detective murder comedy music school dream future past ghost forest river "
      + "mountain battle hero villain team game money heist prison escape doctor virus planet alien machine time")
      .split(" ");

  record Result(int adapters, int maxBatch, double rps, double p50, double p99) {}

  @Override
  public Integer call() throws Exception {
    device.check();
    newTokens = serving.maxNewTokens(8);
    maxBatch = serving.batchMax(32);
    batchWaitMs = serving.batchWaitMs(20);
    Path work = Files.createTempDirectory("oppu-bench-serve");
    EmbeddedKafkaBroker broker = null;
    try {
      ClientConfig client;
      if (kafka.given()) {
        client = kafka.clientConfig();
      } else {
        broker = EmbeddedKafkaBroker.builder().logDir(work.resolve("kafka")).build().start();
        client = broker.clientConfig();
      }
      Path modelDir = model != null ? model : defaultModel(work.resolve("model"));
      List<Result> results = new ArrayList<>();
      try (ServingModels models = ServingModels.load(new OppuSystem.Models(modelDir, null, device.device()),
          EnumSet.of(Task.MOVIE_TAGGING), generation(), null)) {
        ModelBatchGenerator.TaskModel tm = models.load(Task.MOVIE_TAGGING);
        int run = 0;
        for (int n : adapterCounts) {
          String adaptersTopic = "bench-serve-" + n + "-" + Long.toHexString(System.nanoTime()) + ".adapters";
          publishAdapters(client, adaptersTopic, n, tm);
          for (int batch : new int[] {maxBatch, 1}) {
            Topics topics = topics("bench-serve-" + (run++) + "-" + Long.toHexString(System.nanoTime()),
                adaptersTopic);
            Result r = measure(client, topics, models, n, batch, work.resolve("state-" + run));
            results.add(r);
            System.err.printf("%5d adapters, max batch %2d: %7.1f req/s, p50 %7.1f ms, p99 %7.1f ms%n",
                n, batch, r.rps(), r.p50(), r.p99());
          }
        }
      }
      Map<String, Object> out = new LinkedHashMap<>();
      int top = adapterCounts.get(adapterCounts.size() - 1);
      Result b = find(results, top, maxBatch);
      Result s = find(results, top, 1);
      out.put("adapters", top);
      out.put("rps_batched", round(b.rps()));
      out.put("rps_single", round(s.rps()));
      out.put("p50_ms", round(b.p50()));
      out.put("p99_ms", round(b.p99()));
      out.put("ratio", round(b.rps() / s.rps()));
      out.put("outstanding", outstanding);
      out.put("new_tokens", newTokens);
      out.put("max_batch", maxBatch);
      List<Map<String, Object>> runs = new ArrayList<>();
      for (Result r : results) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("adapters", r.adapters());
        m.put("max_batch", r.maxBatch());
        m.put("rps", round(r.rps()));
        m.put("p50_ms", round(r.p50()));
        m.put("p99_ms", round(r.p99()));
        runs.add(m);
      }
      out.put("runs", runs);
      System.out.println(new ObjectMapper().writeValueAsString(out));
      return 0;
    } finally {
      if (broker != null) {
        broker.close();
      }
    }
  }

  private static Result find(List<Result> rs, int n, int batch) {
    return rs.stream().filter(r -> r.adapters() == n && r.maxBatch() == batch).findFirst().orElseThrow();
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }

  private static Topics topics(String base, String adaptersTopic) {
    Properties names = new Properties();
    for (String key : Topics.KEYS) {
      names.setProperty(Topics.PREFIX + key, base + "." + key);
    }
    names.setProperty(Topics.PREFIX + "adapters", adaptersTopic);
    return Topics.from(names);
  }

  /** The default model's shape with random weights, and a byte-level BPE tokenizer trained on the bench's words. */
  static Path defaultModel(Path dir) throws Exception {
    Files.createDirectories(dir);
    try (NDManager m = NDManager.newBaseManager();
        LlamaModel random = LlamaModel.random(LlamaConfig.defaultSmall(), 1, m)) {
      random.save(dir);
    }
    BpeTokenizerTrainer bpe = new BpeTokenizerTrainer(600);
    Random rnd = new Random(1);
    for (int i = 0; i < 2000; i++) {
      bpe.add(text(rnd, 40));
    }
    bpe.add(Task.MOVIE_TAGGING.promptTemplate());
    bpe.trainAndSave(dir);
    return dir;
  }

  static String text(Random rnd, int words) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < words; i++) {
      sb.append(i == 0 ? "" : " ").append(WORDS[rnd.nextInt(WORDS.length)]);
    }
    return sb.toString();
  }

  /** {@code n} users' plain adapters (OPPU's per-user recipe, non-zero B) trained, as far as serving can tell, on the model. */
  private static void publishAdapters(ClientConfig client, String topic, int n, ModelBatchGenerator.TaskModel tm)
      throws Exception {
    Topics t = topics("unused", topic);
    TopicAdmin.ensureTopics(client.raw(), t, 1);
    LlamaConfig cfg = tm.model().config();
    try (NDManager m = NDManager.newBaseManager();
        KafkaProducer<String, AdapterVersion> p = new KafkaProducer<>(client.producer(),
            Serdes.String().serializer(), t.adapters.valueSerde().serializer())) {
      for (int i = 0; i < n; i++) {
        try (LoraAdapter a = LoraAdapter.create(cfg, LoraConfig.oppuUser(), i, m)) {
          for (String path : a.modulePaths()) {
            NDArray b = a.b(path);
            b.addi(m.randomNormal(0, 0.02f, b.getShape(), DataType.FLOAT32));
          }
          byte[] w = a.weightsBytes();
          AdapterVersion v = AdapterVersion.newBuilder().setUserId(user(i)).setTask(Task.MOVIE_TAGGING.id())
              .setVariant("plain").setVersion(1).setTriggerId("bench").setCoveredSeq(0).setItemsTrained(0)
              .setLossBefore(0).setLossAfter(0).setTrainMillis(0).setPublishedAt(Instant.now())
              .setBaseFingerprint(tm.baseFingerprint()).setTaskFingerprint(tm.taskFingerprint())
              .setAdapterConfig(new String(a.configJson(), StandardCharsets.UTF_8)).setWeights(ByteBuffer.wrap(w))
              .setWeightsPath(null).setWeightsSha256(AdapterPayload.sha256(w)).setLabelDistribution(Map.of()).build();
          p.send(new ProducerRecord<>(topic, Topics.adapterKey(user(i), Task.MOVIE_TAGGING.id(), "plain"), v));
        }
      }
      p.flush();
    }
  }

  private static String user(int i) {
    return "user-" + i;
  }

  private ModelBatchGenerator.Options generation() {
    return serving.sampling()
        ? new ModelBatchGenerator.Options(0.1, 10, 0.9, 1, ModelBatchGenerator.Options.SCORE_BATCH)
        : ModelBatchGenerator.Options.greedy();
  }

  private Result measure(ClientConfig client, Topics topics, ServingModels models, int n, int batch, Path state)
      throws Exception {
    OppuSystem system = OppuSystem.builder(client).topics(topics).ensureTopics(1)
        .serving(c -> serving.apply(c).withMaxBatch(batch).withMaxWaitMs(batchWaitMs).withMaxNewTokens(newTokens)
            .withCache(Math.max(256, 2 * n), 1L << 30))
        .applicationId("bench-serve-" + Long.toHexString(System.nanoTime()))
        .stateDir(state)
        .streamsProperty(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.toString(commitMs))
        .build();
    try (StreamsApplication app = system.streams(models).start()) {
      KafkaStreams streams = app.kafkaStreams();
      long giveUp = System.nanoTime() + Duration.ofMinutes(5).toNanos();
      while (streams.state() != KafkaStreams.State.RUNNING) {
        check(giveUp, "streams running");
        Thread.sleep(50);
      }
      ReadOnlyKeyValueStore<String, AdapterVersion> store = streams.store(StoreQueryParameters.fromNameAndType(
          StoreNames.ADAPTER_STORE, QueryableStoreTypes.keyValueStore()));
      while (store.approximateNumEntries() < n) {
        check(giveUp, n + " adapters materialized");
        Thread.sleep(50);
      }
      Result r = closedLoop(client, topics, n, batch);
      System.err.println("  streams thread (" + n + " adapters, max batch " + batch + "): " + threadMetrics(streams));
      return r;
    }
  }

  /** Where the stream thread's time went: averages (ms) and rates of its commit, poll, process and punctuate. */
  private static String threadMetrics(KafkaStreams streams) {
    StringBuilder sb = new StringBuilder();
    for (String name : List.of("commit-latency-avg", "commit-rate", "poll-latency-avg", "process-latency-avg",
        "process-rate", "punctuate-latency-avg", "punctuate-rate")) {
      streams.metrics().forEach((k, v) -> {
        if (k.group().equals("stream-thread-metrics") && k.name().equals(name)
            && v.metricValue() instanceof Double d && !d.isNaN()) {
          sb.append(name).append(' ').append(String.format("%.2f", d)).append("; ");
        }
      });
    }
    return sb.toString();
  }

  private static void check(long giveUp, String what) {
    if (System.nanoTime() > giveUp) {
      throw new IllegalStateException("bench serve: gave up waiting for " + what);
    }
  }

  /** Keeps {@code outstanding} requests in flight; latency is client send to client receipt of the response. */
  private Result closedLoop(ClientConfig client, Topics topics, int n, int batch) throws Exception {
    Random rnd = new Random(42);
    Histogram latency = new Histogram(3_600_000_000L, 3);
    Map<String, Long> sentAt = new ConcurrentHashMap<>();
    int total = warmup + requests;
    try (KafkaProducer<String, Request> p = new KafkaProducer<>(client.producer(), Serdes.String().serializer(),
        topics.requests.valueSerde().serializer());
        KafkaConsumer<String, Response> c = new KafkaConsumer<>(client.consumer(null), Serdes.String().deserializer(),
            topics.responses.valueSerde().deserializer())) {
      List<TopicPartition> parts = List.of(new TopicPartition(topics.responses.name(), 0));
      c.assign(parts);
      c.seekToBeginning(parts);
      int sent = 0;
      int received = 0;
      long measureStart = 0;
      for (; sent < Math.min(outstanding, total); sent++) {
        send(p, topics, sent, n, rnd, sentAt);
      }
      p.flush();
      long giveUp = System.nanoTime() + Duration.ofMinutes(10).toNanos();
      while (received < total) {
        check(giveUp, "responses");
        for (ConsumerRecord<String, Response> rec : c.poll(Duration.ofMillis(50))) {
          Response r = rec.value();
          Long t0 = sentAt.remove(r.getRequestId());
          if (t0 == null) {
            continue;
          }
          if (r.getError() != null) {
            throw new IllegalStateException("bench request failed: " + r.getError());
          }
          if (r.getAdapterVersion() == null) {
            throw new IllegalStateException("bench request answered without its adapter: " + r);
          }
          long now = System.nanoTime();
          received++;
          if (received == warmup) {
            measureStart = now;
          } else if (received > warmup) {
            latency.recordValue(Math.max(1, (now - t0) / 1000));
          }
          if (sent < total) {
            send(p, topics, sent++, n, rnd, sentAt);
          }
        }
        p.flush();
      }
      double seconds = (System.nanoTime() - measureStart) / 1e9;
      return new Result(n, batch, requests / seconds, latency.getValueAtPercentile(50) / 1000.0,
          latency.getValueAtPercentile(99) / 1000.0);
    }
  }

  private static void send(KafkaProducer<String, Request> p, Topics topics, int i, int n, Random rnd,
      Map<String, Long> sentAt) {
    String user = user(i % n);
    String id = "r" + i;
    Request r = Request.newBuilder().setRequestId(id).setUserId(user).setTask(Task.MOVIE_TAGGING.id())
        .setInput(Task.MOVIE_TAGGING.lampInput(text(rnd, 30), List.of())).setMode("OPPU").setK(null)
        .setRequestTime(Instant.now()).setDeadline(null).build();
    sentAt.put(id, System.nanoTime());
    p.send(new ProducerRecord<>(topics.requests.name(), user, r));
  }
}
