package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(KafkaExtension.class)
class KafkaExtensionTest {

  static Topics topics;

  @BeforeAll
  static void topics(SharedKafka kafka) {
    SharedBrokerRegistry.SEEN.add(kafka);
    topics = kafka.freshTopics("extension-test", 2);
  }

  @Test
  void sharesOneBrokerAcrossTestClasses(SharedKafka kafka) {
    assertSame(kafka, KafkaExtension.kafka());
    assertEquals(kafka.bootstrapServers(), KafkaExtension.bootstrapServers());
    assertEquals(1, SharedBrokerRegistry.SEEN.size(), "every test class must get the same broker");
  }

  @Test
  void producesAndConsumesAnAvroBehaviorWithBrokerArrivalTimestamp(SharedKafka kafka) throws Exception {
    Topics.Topic<String, Behavior> t = topics.behaviors;
    Instant eventTime = Instant.parse("2020-01-01T00:00:00Z");
    Behavior b = Behavior.newBuilder().setEventId("e1").setUserId("u1").setTask("LaMP_2M").setEventTime(eventTime)
        .setItemId("i1").setFields(Map.of("description", "a film", "tag", "comedy")).build();
    long before = System.currentTimeMillis();
    RecordMetadata md;
    // The producer's record timestamp is the (old) event time; the topic must replace it with arrival time.
    try (KafkaProducer<String, Behavior> p = new KafkaProducer<>(kafka.clientConfig().producer(),
        t.keySerde().serializer(), t.valueSerde().serializer())) {
      md = p.send(new ProducerRecord<>(t.name(), null, eventTime.toEpochMilli(), "u1", b)).get();
    }
    List<ConsumerRecord<String, Behavior>> got = new ArrayList<>();
    try (KafkaConsumer<String, Behavior> c = new KafkaConsumer<>(kafka.clientConfig().consumer("extension-test"),
        t.keySerde().deserializer(), t.valueSerde().deserializer())) {
      c.subscribe(List.of(t.name()));
      long giveUp = System.currentTimeMillis() + 30_000;
      while (got.isEmpty() && System.currentTimeMillis() < giveUp) {
        c.poll(Duration.ofMillis(200)).forEach(got::add);
      }
    }
    assertEquals(1, got.size());
    ConsumerRecord<String, Behavior> r = got.get(0);
    assertEquals("u1", r.key());
    assertEquals(b, r.value());
    assertEquals(md.partition(), r.partition());
    assertEquals(TimestampType.LOG_APPEND_TIME, r.timestampType());
    assertNotEquals(eventTime.toEpochMilli(), r.timestamp());
    assertEquals(true, r.timestamp() >= before - 1000, "arrival timestamp " + r.timestamp() + " < send " + before);
  }
}
