package dev.oppu.broker;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/**
 * Testcontainers' Kafka (apache/kafka image, KRaft), configured for adapter-sized records like the embedded broker.
 * Only loaded when Testcontainers is on the class path: it is an optional dependency of this module.
 */
final class ContainerKafka implements AutoCloseable {

  static final String IMAGE = "apache/kafka:4.1.1";

  private final KafkaContainer container;

  private ContainerKafka(KafkaContainer container) {
    this.container = container;
  }

  /** True when a Docker engine answers; false (never an exception) when it does not. */
  static boolean dockerAvailable() {
    try {
      return DockerClientFactory.instance().isDockerAvailable();
    } catch (Throwable t) {
      return false;
    }
  }

  static ContainerKafka start() {
    String max = Integer.toString(ClientConfig.MAX_RECORD_BYTES);
    KafkaContainer c = new KafkaContainer(IMAGE)
        .withEnv("KAFKA_MESSAGE_MAX_BYTES", max)
        .withEnv("KAFKA_REPLICA_FETCH_MAX_BYTES", max)
        .withEnv("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0");
    c.start();
    return new ContainerKafka(c);
  }

  String bootstrapServers() {
    return container.getBootstrapServers();
  }

  @Override
  public void close() {
    container.stop();
  }
}
