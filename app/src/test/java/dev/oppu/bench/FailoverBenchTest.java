package dev.oppu.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.EmbeddedKafkaCluster;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Issue 15, cluster and failover, through {@code oppu bench failover} on one 3-node cluster shared by the class
 * (replication factor 3, min.insync.replicas 2, acks=all): two {@code run streams} processes (one standby replica) and
 * two trainers replay a load of behaviors and requests, and in the middle of it a streams process, or the Kafka node
 * leading a requests partition, is killed with SIGKILL. Every behavior reaches the history exactly once and every
 * request is answered exactly once; the moved partitions are answered again; every topic the run created (the
 * system's and Kafka Streams' changelog and repartition topics) has 3 replicas, which on this cluster (broker
 * default.replication.factor 1) only the properties oppu.topic.replication.factor give, and min.insync.replicas 2.
 * Timings are the bench's business, not asserted here.
 */
class FailoverBenchTest {

  /** Requests of a run: 600 behaviors at 30/s, so 20 s of load, a request every 0.5 s, the kill at 10 s. */
  static final int REQUESTS = 40;

  static EmbeddedKafkaCluster cluster;

  @BeforeAll
  static void startCluster() {
    cluster = EmbeddedKafkaCluster.start();
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) {
      cluster.close();
    }
  }

  /** A node killed by a test comes back (log recovery on its log dir), so the next test has three again. */
  @AfterEach
  void restartKilledNodes() {
    for (int id = 1; id <= cluster.nodes(); id++) {
      if (!cluster.isAlive(id)) {
        cluster.restart(id);
      }
    }
  }

  @Test
  void streamsInstanceKilledMidReplayLosesAndDuplicatesNothing() throws Exception {
    JsonNode r = run("streams");
    assertTrue(r.get("killed").asText().startsWith("streams-"), r.toString());
    assertExactlyOnce(r);
  }

  @Test
  void brokerKilledMidReplayLosesAndDuplicatesNothing() throws Exception {
    JsonNode r = run("broker");
    assertTrue(r.get("killed").asText().startsWith("kafka node "), r.toString());
    assertExactlyOnce(r);
  }

  private static void assertExactlyOnce(JsonNode r) throws Exception {
    assertEquals(137, r.get("kill_exit").asInt(), "a SIGKILL: " + r);
    assertTrue(r.get("moved_partitions").asInt() > 0, "the killed part held requests partitions: " + r);
    assertEquals(0, r.get("failed_sends").asLong(), "every behavior and request acknowledged: " + r);
    assertEquals(REQUESTS, r.get("requests").asInt(), r.toString());
    assertEquals(0, r.get("lost").asLong(), "lost behaviors or requests: " + r);
    assertEquals(0, r.get("duplicated").asLong(), "duplicated behaviors or answers: " + r);
    assertEquals(0, r.get("error_responses").asLong(), r.toString());
    assertEquals(0, r.get("dead_letters").asLong(), r.toString());
    assertFalse(r.get("resume_s").isNull(), "a request of a moved partition sent after the kill was answered: " + r);
    assertTrue(r.get("requests_during_move").asInt() > 0, r.toString());
    assertTrue(r.get("complete").asBoolean(), r.toString());
    assertReplicated();
  }

  /** Every topic on the cluster but the KRaft metadata: 3 replicas, min.insync.replicas 2. */
  private static void assertReplicated() throws Exception {
    try (Admin admin = Admin.create(cluster.clientConfig().admin())) {
      List<String> names = new ArrayList<>(admin.listTopics().names().get(30, TimeUnit.SECONDS));
      assertTrue(names.stream().anyMatch(n -> n.endsWith("-changelog")), "Streams' changelogs: " + names);
      assertTrue(names.stream().anyMatch(n -> n.endsWith("-repartition")), "Streams' repartition topics: " + names);
      Map<String, TopicDescription> d = admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS);
      List<ConfigResource> resources = names.stream().map(n -> new ConfigResource(ConfigResource.Type.TOPIC, n))
          .toList();
      Map<ConfigResource, Config> configs = admin.describeConfigs(resources).all().get(30, TimeUnit.SECONDS);
      for (String n : names) {
        d.get(n).partitions().forEach(p -> assertEquals(3, p.replicas().size(), n + " partition " + p.partition()));
        assertEquals("2", configs.get(new ConfigResource(ConfigResource.Type.TOPIC, n))
            .get(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG).value(), n + " min.insync.replicas");
      }
    }
  }

  /** A small failover run on the class's cluster; returns its JSON line. */
  private static JsonNode run(String kill) throws Exception {
    FailoverBench bench = new FailoverBench();
    bench.cluster = cluster;
    PrintStream original = System.out;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    int exit;
    try (PrintStream tee = new PrintStream(new SoakBenchTest.Tee(original, captured), true, StandardCharsets.UTF_8)) {
      System.setOut(tee);
      exit = new CommandLine(bench).execute("--kill", kill, "--events", "600", "--requests", "" + REQUESTS,
          "--users", "10", "--rate", "30", "--kill-at", "0.5", "--model", TestModels.defaultModel().toString(), "--stall-minutes", "3");
    } finally {
      System.setOut(original);
    }
    List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("{")).toList();
    assertFalse(lines.isEmpty(), "the bench printed no JSON line (exit " + exit + ")");
    JsonNode r = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    assertEquals(0, exit, r.toString());
    return r;
  }
}
