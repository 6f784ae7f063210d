package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The extension's Testcontainers path for real: the project's image ({@link ContainerKafka#IMAGE}, built locally)
 * running {@code oppu broker} in a container. Where no Docker engine answers or the image is absent it is skipped,
 * except under {@code CI=true}, where it fails: a green CI means the container broker ran.
 */
@Tag("docker")
@ExtendWith(KafkaExtension.class)
class ContainerKafkaTest {

  static boolean ci() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  @Test
  void theExtensionRunsTheLocallyBuiltBrokerImage(SharedKafka kafka) throws Exception {
    String why = ContainerKafka.unusableReason(ContainerKafka.image());
    if (ci()) {
      assertNull(why, "CI=true: the Testcontainers broker must run here");
      assertEquals(SharedKafka.Source.TESTCONTAINERS, kafka.source(), "CI=true: the extension must use it");
    } else {
      assumeTrue(why == null, "Testcontainers' Kafka cannot run here: " + why);
      assumeTrue(kafka.source() == SharedKafka.Source.TESTCONTAINERS, "the extension was told to use " + kafka);
    }
    // The adapters topic (compacted, keyed) takes adapter-sized records; freshTopics waits until it is writable.
    String topic = kafka.freshTopics("container-kafka", 1).adapters.name();
    // An adapter-sized record: the container broker takes what the embedded one takes.
    String big = "x".repeat(2_000_000);
    try (var p = new KafkaProducer<>(kafka.clientConfig().producer(), new StringSerializer(), new StringSerializer())) {
      p.send(new ProducerRecord<>(topic, "u1", big)).get();
    }
    List<ConsumerRecord<String, String>> got = new ArrayList<>();
    try (var c = new KafkaConsumer<>(kafka.clientConfig().consumer("container-kafka-test"), new StringDeserializer(),
        new StringDeserializer())) {
      c.subscribe(List.of(topic));
      long giveUp = System.currentTimeMillis() + 60_000;
      while (got.isEmpty() && System.currentTimeMillis() < giveUp) {
        c.poll(Duration.ofMillis(200)).forEach(got::add);
      }
    }
    assertEquals(1, got.size());
    assertEquals(big, got.get(0).value());
  }

  @Test
  void anAbsentImageIsReportedQuicklyNeverPulled() {
    // Where no registry answers, a pull would stall: the check must answer at once, and name the reason.
    String why = assertTimeoutPreemptively(Duration.ofSeconds(60),
        () -> ContainerKafka.unusableReason("oppu-test/no-such-image:absent"));
    assertNotNull(why);
    assertTrue(why.contains("not present locally") || why.contains("no Docker engine answers"), why);
  }
}
