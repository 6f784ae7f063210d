package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Topics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.Deserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code oppu publish} end to end against the shared test broker. */
@ExtendWith(KafkaExtension.class)
class PublishCommandTest {

  @TempDir
  Path dir;

  record Run(int code, String out, String err) {}

  private Run publish(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = new CommandLine(new PublishCommand());
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println("error: " + ex.getMessage());
      return 2;
    });
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }

  /** A --kafka-config file naming fresh topics, so this class's records are its own. */
  private Path config(SharedKafka kafka, Topics topics) throws Exception {
    Properties p = new Properties();
    p.setProperty(Topics.PREFIX + "behaviors", topics.behaviors.name());
    p.setProperty(Topics.PREFIX + "requests", topics.requests.name());
    for (String k : Topics.KEYS) {
      p.putIfAbsent(Topics.PREFIX + k, topics.all().get(Topics.KEYS.indexOf(k)).name());
    }
    Path f = dir.resolve("client.properties");
    try (var w = Files.newBufferedWriter(f)) {
      p.store(w, null);
    }
    return f;
  }

  private static <V> List<ConsumerRecord<String, V>> readAll(SharedKafka kafka, String topic, Deserializer<V> d) {
    List<ConsumerRecord<String, V>> got = new ArrayList<>();
    try (KafkaConsumer<String, V> c = new KafkaConsumer<>(kafka.clientConfig().consumer(null),
        Topics.KEY.deserializer(), d)) {
      List<TopicPartition> parts = c.partitionsFor(topic).stream()
          .map(pi -> new TopicPartition(topic, pi.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      // The command flushed before returning, so the end offsets are final.
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      long want = end.values().stream().mapToLong(Long::longValue).sum();
      long giveUp = System.currentTimeMillis() + 30_000;
      while (got.size() < want && System.currentTimeMillis() < giveUp) {
        c.poll(Duration.ofMillis(200)).forEach(got::add);
      }
    }
    return got;
  }

  private static String behavior(String user, String tag) {
    return "{\"userId\":\"" + user + "\",\"task\":\"LaMP_2M\",\"eventTime\":\"2024-01-01T00:00:00Z\","
        + "\"fields\":{\"description\":\"a film about " + tag + "\",\"tag\":\"" + tag + "\"}}";
  }

  @Test
  void publishesGoodBehaviorsKeyedByUser(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("publish-good", 3);
    Path f = dir.resolve("behaviors.jsonl");
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      lines.add(behavior("user" + (i % 5), (i % 2 == 0 ? "comedy " : "sci-fi ") + i));
    }
    lines.add(""); // blank lines are ignored
    Files.write(f, lines);

    Run r = publish("--file", f.toString(), "--bootstrap", kafka.bootstrapServers(),
        "--kafka-config", config(kafka, topics).toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("published 30 behaviors to " + topics.behaviors.name()), r.out());

    List<ConsumerRecord<String, Behavior>> got =
        readAll(kafka, topics.behaviors.name(), topics.behaviors.valueSerde().deserializer());
    assertEquals(30, got.size());
    for (ConsumerRecord<String, Behavior> rec : got) {
      assertEquals(rec.value().getUserId(), rec.key());
      assertEquals(TimestampType.LOG_APPEND_TIME, rec.timestampType());
    }
    // One user, one partition: per-user order is what ingestion relies on.
    Map<String, java.util.Set<Integer>> partitionsByUser = got.stream().collect(Collectors.groupingBy(
        ConsumerRecord::key, Collectors.mapping(ConsumerRecord::partition, Collectors.toSet())));
    assertEquals(5, partitionsByUser.size());
    partitionsByUser.values().forEach(ps -> assertEquals(1, ps.size()));
    assertEquals(30, got.stream().map(c -> c.value().getEventId()).distinct().count());
  }

  @Test
  void aFileWithBadLinesPublishesNothingAndNamesEveryBadLine(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("publish-bad", 1);
    Path f = dir.resolve("mixed.jsonl");
    Files.write(f, List.of(
        behavior("u1", "comedy"),
        "{not json",
        behavior("u2", "action"),
        "{\"userId\":\"u3\",\"task\":\"LaMP_42\",\"fields\":{\"description\":\"d\",\"tag\":\"t\"}}",
        "{\"task\":\"LaMP_2M\",\"fields\":{\"description\":\"d\",\"tag\":\"t\"}}"));
    Path cfg = config(kafka, topics);

    Run r = publish("--file", f.toString(), "--bootstrap", kafka.bootstrapServers(), "--kafka-config", cfg.toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains(f + ":2: bad JSON"), r.err());
    assertTrue(r.err().contains(f + ":4: unknown task 'LaMP_42'"), r.err());
    assertTrue(r.err().contains(f + ":5: missing \"userId\""), r.err());
    assertTrue(r.err().contains("3 bad line(s)") && r.err().contains("nothing published"), r.err());
    assertEquals(0, readAll(kafka, topics.behaviors.name(), topics.behaviors.valueSerde().deserializer()).size());

    Run skip = publish("--file", f.toString(), "--bootstrap", kafka.bootstrapServers(), "--kafka-config",
        cfg.toString(), "--skip-bad");
    assertEquals(0, skip.code(), skip.err());
    assertTrue(skip.out().contains("published 2 behaviors") && skip.out().contains("skipped 3 bad line(s)"), skip.out());
    List<ConsumerRecord<String, Behavior>> got =
        readAll(kafka, topics.behaviors.name(), topics.behaviors.valueSerde().deserializer());
    assertEquals(List.of("u1", "u2"), got.stream().map(ConsumerRecord::key).sorted().toList());
  }

  @Test
  void publishesRequests(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("publish-requests", 2);
    Path f = dir.resolve("requests.jsonl");
    Files.write(f, List.of(
        "{\"requestId\":\"r1\",\"userId\":\"u1\",\"task\":\"LaMP_2M\",\"input\":\"tags: [comedy] description: a clown\","
            + "\"mode\":\"OPPU\"}",
        "{\"requestId\":\"r2\",\"userId\":\"u2\",\"task\":\"LaMP_2M\",\"input\":\"tags: [comedy] description: a robot\","
            + "\"k\":2}"));
    Run r = publish("--file", f.toString(), "--kind", "requests", "--bootstrap", kafka.bootstrapServers(),
        "--kafka-config", config(kafka, topics).toString());
    assertEquals(0, r.code(), r.err());
    List<ConsumerRecord<String, Request>> got =
        readAll(kafka, topics.requests.name(), topics.requests.valueSerde().deserializer());
    assertEquals(2, got.size());
    Map<String, Request> byId = got.stream().collect(Collectors.toMap(c -> c.value().getRequestId(), ConsumerRecord::value));
    assertEquals("OPPU", byId.get("r1").getMode());
    assertEquals(2, byId.get("r2").getK());
    assertEquals("u2", byId.get("r2").getUserId());
  }
}
