package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Topics;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(KafkaExtension.class)
class TopicAdminTest {

  private static Properties named(String base) {
    Properties p = new Properties();
    for (String k : Topics.KEYS) {
      p.setProperty(Topics.PREFIX + k, base + "." + k);
    }
    return p;
  }

  @Test
  void createsEveryTopicWithItsConfigAndIsIdempotent(SharedKafka kafka) throws Exception {
    Properties client = kafka.clientConfig().raw();
    client.putAll(named("topicadmin-" + System.nanoTime()));
    client.setProperty(TopicAdmin.BEHAVIORS_RETENTION_PROPERTY, "3600000");
    Topics topics = Topics.from(client);

    TopicAdmin.Result first = TopicAdmin.ensureTopics(client, topics, 3);
    assertEquals(Topics.KEYS.size(), first.created().size());
    first.partitions().values().forEach(n -> assertEquals(3, n));

    // Again, asking for another partition count: nothing created, nothing changed, no error.
    TopicAdmin.Result second = TopicAdmin.ensureTopics(client, topics, 5);
    assertTrue(second.created().isEmpty());
    second.partitions().values().forEach(n -> assertEquals(3, n));

    try (Admin admin = Admin.create(kafka.clientConfig().admin())) {
      ConfigResource behaviors = new ConfigResource(ConfigResource.Type.TOPIC, topics.behaviors.name());
      ConfigResource adapters = new ConfigResource(ConfigResource.Type.TOPIC, topics.adapters.name());
      ConfigResource requests = new ConfigResource(ConfigResource.Type.TOPIC, topics.requests.name());
      Map<ConfigResource, Config> cfg = admin.describeConfigs(List.of(behaviors, adapters, requests))
          .all().get(30, TimeUnit.SECONDS);
      assertEquals("LogAppendTime", cfg.get(behaviors).get("message.timestamp.type").value());
      assertEquals("3600000", cfg.get(behaviors).get("retention.ms").value());
      assertEquals("compact", cfg.get(adapters).get("cleanup.policy").value());
      assertEquals(Integer.toString(ClientConfig.MAX_RECORD_BYTES), cfg.get(adapters).get("max.message.bytes").value());
      assertEquals("delete", cfg.get(requests).get("cleanup.policy").value());
      assertEquals("CreateTime", cfg.get(requests).get("message.timestamp.type").value());
    }
  }

  @Test
  void replicationPropertiesReachTopicConfigsAndStreamsInternalTopics() {
    Properties p = named("replicated");
    p.setProperty(TopicAdmin.REPLICATION_PROPERTY, "3");
    p.setProperty(TopicAdmin.MIN_INSYNC_PROPERTY, "2");
    Topics topics = Topics.from(p);
    TopicAdmin.Settings s = TopicAdmin.Settings.from(p, 4);
    assertEquals(java.util.Optional.of((short) 3), s.replicationFactor());
    for (Topics.Topic<String, ?> t : topics.all()) {
      assertEquals("2", TopicAdmin.topicConfig(topics, t, s).get("min.insync.replicas"), t.name());
    }
    Properties streams = TopicAdmin.streamsReplication(p);
    assertEquals("3", streams.getProperty("replication.factor"));
    assertEquals("2", streams.getProperty("topic.min.insync.replicas"));

    // Streams' own keys win; unset properties leave the broker's defaults (right for a single broker)
    p.setProperty("replication.factor", "2");
    assertEquals(null, TopicAdmin.streamsReplication(p).getProperty("replication.factor"));
    Properties none = named("single");
    assertTrue(TopicAdmin.streamsReplication(none).isEmpty());
    TopicAdmin.Settings defaults = TopicAdmin.Settings.from(none, 1);
    assertTrue(defaults.replicationFactor().isEmpty());
    assertTrue(TopicAdmin.topicConfig(Topics.from(none), Topics.from(none).requests, defaults).isEmpty());

    // more replicas in sync than there are replicas: refused at once, not by the broker later
    p.setProperty(TopicAdmin.MIN_INSYNC_PROPERTY, "4");
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> TopicAdmin.Settings.from(p, 4));
  }

  @Test
  void adaptersTopicTakesARecordOverKafkasDefaultLimit(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("big-adapter", 1);
    byte[] weights = new byte[3 * 1024 * 1024]; // Kafka's default limit is ~1 MB
    new Random(7).nextBytes(weights);
    AdapterVersion a = AdapterVersion.newBuilder().setUserId("u").setTask("LaMP_2M").setVariant("plain")
        .setVersion(1).setTriggerId("t").setCoveredSeq(10).setItemsTrained(10).setLossBefore(2).setLossAfter(1)
        .setTrainMillis(5).setPublishedAt(Instant.now()).setBaseFingerprint("b").setTaskFingerprint("t")
        .setAdapterConfig("{}").setWeights(ByteBuffer.wrap(weights)).setWeightsSha256("x").build();
    var t = topics.adapters;
    String key = Topics.adapterKey("u", "LaMP_2M", "plain");
    try (KafkaProducer<String, AdapterVersion> p = new KafkaProducer<>(kafka.clientConfig().producer(),
        t.keySerde().serializer(), t.valueSerde().serializer())) {
      p.send(new ProducerRecord<>(t.name(), key, a)).get(60, TimeUnit.SECONDS);
    }
    ConsumerRecord<String, AdapterVersion> got = null;
    try (KafkaConsumer<String, AdapterVersion> c = new KafkaConsumer<>(kafka.clientConfig().consumer("big"),
        t.keySerde().deserializer(), t.valueSerde().deserializer())) {
      c.subscribe(List.of(t.name()));
      long giveUp = System.currentTimeMillis() + 30_000;
      while (got == null && System.currentTimeMillis() < giveUp) {
        for (ConsumerRecord<String, AdapterVersion> r : c.poll(Duration.ofMillis(200))) {
          got = r;
        }
      }
    }
    assertEquals(key, got.key());
    ByteBuffer w = got.value().getWeights();
    byte[] back = new byte[w.remaining()];
    w.get(back);
    assertArrayEquals(weights, back);
  }
}
