package dev.oppu.bench;

import dev.oppu.broker.TopicAdmin;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Topics;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.IngestTopology;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Behaviors per second through the ingestion topology (decode, validate, dedup, history, BM25 index, shift detection)
 * on a real broker, against a plain {@code count()} topology over the same input with the same StreamsConfig
 * (exactly-once v2 included). Each is timed from RUNNING until its committed offsets reach the end of the input.
 */
@Command(name = "ingest", mixinStandardHelpOptions = true,
    description = "Events/s of the ingestion topology vs a count() topology on the same input and StreamsConfig.")
public final class IngestBench implements Callable<Integer> {

  /** The cluster to use; none given: an embedded broker. */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.KafkaOptions cluster = new dev.oppu.cli.KafkaOptions();

  @Option(names = "--events", defaultValue = "200000", description = "Behaviors (default ${DEFAULT-VALUE}).")
  int events;

  @Option(names = "--users", defaultValue = "1000", description = "Distinct users (default ${DEFAULT-VALUE}).")
  int users;

  @Option(names = "--partitions", defaultValue = "2", description = "Partitions (default ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--threads", defaultValue = "1", description = "Stream threads (default ${DEFAULT-VALUE}).")
  int threads;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seed = new dev.oppu.cli.SeedOptions();

  @Option(names = "--commit-interval-ms", description = "commit.interval.ms for both topologies (default: the"
      + " application's, i.e. Kafka Streams' exactly-once default of 100 ms).")
  Long commitIntervalMs;

  @Override
  public Integer call() throws Exception {
    Path stateDir = Files.createTempDirectory("oppu-bench-ingest");
    try (BenchKafka kafka = new BenchKafka(cluster)) {
      Topics topics = kafka.freshTopics("bench-ingest", partitions);
      String countOut = topics.behaviors.name() + ".counts";
      try (Admin admin = Admin.create(kafka.client.admin())) {
        admin.createTopics(List.of(new NewTopic(countOut, partitions, (short) 1))).all().get();
        // The count app's exactly-once producer writes here at once: wait until its partitions accept writes.
        TopicAdmin.awaitWritable(admin, List.of(countOut), TopicAdmin.READY_TIMEOUT);
      }
      long t0 = System.nanoTime();
      long bytes = produce(kafka, topics);
      System.out.printf(Locale.ROOT, "produced %d behaviors of %d users (%.1f MB) in %.1f s%n", events, users,
          bytes / 1e6, (System.nanoTime() - t0) / 1e9);

      IngestConfig config = IngestConfig.defaults().withAdapterPartitions(partitions);
      StreamsBuilder cb = new StreamsBuilder();
      cb.stream(topics.behaviors.name(), Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
          .groupByKey().count().toStream().to(countOut, Produced.with(Serdes.ByteArray(), Serdes.Long()));
      double countSeconds = run(kafka, cb.build(), "bench-count", topics, stateDir, null);
      double[] ingestMetrics = new double[3];
      double ingestSeconds = run(kafka, IngestTopology.build(topics, config), "bench-ingest", topics, stateDir,
          ingestMetrics);

      double eps = events / ingestSeconds;
      double ceps = events / countSeconds;
      System.out.printf(Locale.ROOT, "count():   %.1f s, %.0f events/s%n", countSeconds, ceps);
      System.out.printf(Locale.ROOT, "ingestion: %.1f s, %.0f events/s (dead letters %.0f, duplicates %.0f,"
          + " train triggers %.0f)%n", ingestSeconds, eps, ingestMetrics[0], ingestMetrics[1], ingestMetrics[2]);
      System.out.println(dev.oppu.cli.JsonOut.object().put("bench", "ingest").put("events", events)
          .put("users", users).put("partitions", partitions).put("threads", threads)
          .put("commit_interval_ms", commitIntervalMs).put("events_per_s", eps, 0).put("count_events_per_s", ceps, 0)
          .put("ratio", eps / ceps, 3).put("ingest_s", ingestSeconds, 2).put("count_s", countSeconds, 2)
          .put("dead_letters", ingestMetrics[0], 0).put("train_triggers", ingestMetrics[2], 0));
    } finally {
      RetrieveBench.deleteTree(stateDir);
    }
    return 0;
  }

  private long produce(BenchKafka kafka, Topics topics) {
    SyntheticText gen = new SyntheticText(5000, seed.seed());
    Properties pp = kafka.client.producer();
    pp.put("linger.ms", "20");
    pp.put("batch.size", Integer.toString(256 * 1024));
    AtomicLong bytes = new AtomicLong();
    List<String> tags = Task.MOVIE_TAGGING.labels();
    try (KafkaProducer<String, Behavior> producer = new KafkaProducer<>(pp, new StringSerializer(),
        topics.behaviors.valueSerde().serializer())) {
      for (int i = 0; i < events; i++) {
        String user = "user-" + gen.nextInt(users);
        String text = gen.text(30, 100);
        bytes.addAndGet(text.length());
        Behavior b = Behavior.newBuilder().setEventId("ev-" + i).setUserId(user).setTask(Task.MOVIE_TAGGING.id())
            .setEventTime(Instant.now()).setItemId(Integer.toString(i))
            .setFields(Map.of("description", text, "tag", tags.get(gen.nextInt(tags.size())))).build();
        producer.send(new ProducerRecord<>(topics.behaviors.name(), user, b));
      }
      producer.flush();
    }
    return bytes.get();
  }

  /** Seconds from RUNNING until the app has committed the whole input. */
  private double run(BenchKafka kafka, Topology topology, String name, Topics topics, Path stateDir,
      double[] ingestMetrics) throws Exception {
    String appId = name + "-" + System.currentTimeMillis();
    Properties o = kafka.client.streams(appId);
    o.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    o.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.toString(threads));
    if (commitIntervalMs != null) {
      o.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Long.toString(commitIntervalMs));
    }
    Properties props = IngestTopology.streamsConfig(appId, kafka.client.bootstrapServers(), o);
    AtomicLong runningAt = new AtomicLong();
    try (KafkaStreams streams = dev.oppu.system.OppuSystem.application(topology, props)) {
      streams.setStateListener((now, old) -> {
        if (now == KafkaStreams.State.RUNNING) {
          runningAt.compareAndSet(0, System.nanoTime());
        }
      });
      streams.start();
      if (!kafka.awaitCaughtUp(streams, appId, topics.behaviors.name(), partitions, Duration.ofMinutes(30))) {
        throw new IllegalStateException(name + " did not catch up");
      }
      long end = System.nanoTime();
      if (ingestMetrics != null) {
        ingestMetrics[0] = IngestTopology.metricTotal(streams.metrics(), IngestTopology.METRIC_DEAD_LETTERS);
        ingestMetrics[1] = IngestTopology.metricTotal(streams.metrics(), IngestTopology.METRIC_DUPLICATES);
        ingestMetrics[2] = IngestTopology.metricTotal(streams.metrics(), IngestTopology.METRIC_TRIGGERS);
      }
      streams.close(Duration.ofSeconds(60));
      streams.cleanUp();
      return (end - runningAt.get()) / 1e9;
    }
  }
}
