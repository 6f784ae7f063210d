package dev.oppu.broker;

import dev.oppu.schemas.Topics;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka cluster tests share (one per test JVM): an external broker, a Testcontainers broker or the embedded
 * broker, picked by {@link KafkaExtension}. Test classes share it, so each should work in its own topics:
 * {@link #freshTopics} gives a registry with names no other test uses.
 */
public final class SharedKafka implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(SharedKafka.class);

  /** Where the broker comes from. */
  public enum Source { EXTERNAL, TESTCONTAINERS, EMBEDDED }

  private static final AtomicInteger TOPIC_SETS = new AtomicInteger();

  private final Source source;
  private final ClientConfig clientConfig;
  private final AutoCloseable owned;
  private volatile boolean closed;

  SharedKafka(Source source, ClientConfig clientConfig, AutoCloseable owned) {
    this.source = source;
    this.clientConfig = clientConfig;
    this.owned = owned;
  }

  public Source source() {
    return source;
  }

  public String bootstrapServers() {
    return clientConfig.bootstrapServers();
  }

  /** Client settings for this cluster (security settings included for an external one). */
  public ClientConfig clientConfig() {
    return clientConfig;
  }

  /** Creates (idempotently) the registry's topics with their per-topic configuration. */
  public TopicAdmin.Result createTopics(Topics topics, int partitions) {
    return TopicAdmin.ensureTopics(clientConfig.raw(), topics, partitions);
  }

  /**
   * A registry whose topic names are unique in this JVM and on the cluster ({@code <prefix>-<n>-<random>.<key>}),
   * with every topic created: test classes sharing the broker do not see each other's records.
   */
  public Topics freshTopics(String prefix, int partitions) {
    String base = prefix.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + TOPIC_SETS.incrementAndGet() + "-"
        + Long.toHexString(System.nanoTime() & 0xffffffL);
    Properties names = new Properties();
    for (String key : Topics.KEYS) {
      names.setProperty(Topics.PREFIX + key, base + "." + key);
    }
    Topics topics = Topics.from(names);
    createTopics(topics, partitions);
    return topics;
  }

  @Override
  public synchronized void close() throws Exception {
    if (closed) {
      return;
    }
    closed = true;
    if (owned != null) {
      LOG.info("stopping the shared {} Kafka at {}", source, bootstrapServers());
      owned.close();
    }
  }

  @Override
  public String toString() {
    return "SharedKafka{" + source + " at " + bootstrapServers() + "}";
  }
}
