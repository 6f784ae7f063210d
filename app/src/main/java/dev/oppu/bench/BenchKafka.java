package dev.oppu.bench;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.KafkaStreams;

/** The broker a benchmark runs on (embedded unless a bootstrap is given), and waiting for a Streams app to catch up. */
final class BenchKafka implements AutoCloseable {
  final ClientConfig client;
  private final EmbeddedKafkaBroker broker;

  BenchKafka(dev.oppu.cli.KafkaOptions cluster) {
    if (!cluster.given()) {
      broker = EmbeddedKafkaBroker.create().start();
      client = broker.clientConfig();
    } else {
      broker = null;
      client = cluster.clientConfig();
    }
  }

  /** A fresh set of topic names ({@code <prefix>-<time>.<key>}), created with {@code partitions}. */
  Topics freshTopics(String prefix, int partitions) {
    Properties names = new Properties();
    String base = prefix + "-" + Long.toHexString(System.currentTimeMillis());
    for (String key : Topics.KEYS) {
      names.setProperty(Topics.PREFIX + key, base + "." + key);
    }
    Topics topics = Topics.from(names);
    TopicAdmin.ensureTopics(client.raw(), topics, partitions);
    return topics;
  }

  /** Waits until the app's committed offsets on {@code topic} reach its end offsets; returns false on timeout. */
  boolean awaitCaughtUp(KafkaStreams streams, String appId, String topic, int partitions, Duration timeout)
      throws Exception {
    try (Admin admin = Admin.create(client.admin())) {
      Map<TopicPartition, OffsetSpec> latest = new java.util.HashMap<>();
      for (int p = 0; p < partitions; p++) {
        latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
      }
      Map<TopicPartition, Long> ends = new java.util.HashMap<>();
      admin.listOffsets(latest).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
          throw new IllegalStateException("streams stopped: " + streams.state());
        }
        ListConsumerGroupOffsetsResult r = admin.listConsumerGroupOffsets(appId);
        Map<TopicPartition, OffsetAndMetadata> committed = r.partitionsToOffsetAndMetadata().get();
        boolean done = true;
        for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
          OffsetAndMetadata c = committed.get(e.getKey());
          // Under exactly-once, the committed offset may sit past the last record (transaction markers).
          if (c == null || c.offset() < e.getValue()) {
            done = false;
            break;
          }
        }
        if (done) {
          return true;
        }
        Thread.sleep(50);
      }
      return false;
    }
  }

  @Override
  public void close() {
    if (broker != null) {
      broker.close();
    }
  }
}
