package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.schemas.Topics;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine.Option;

/**
 * Kafka connection options shared by every command that talks to a broker ({@code @Mixin KafkaOptions kafka}).
 * Security (SASL/SSL) is plain client configuration: put {@code security.protocol}, {@code sasl.*} and {@code ssl.*}
 * keys in the {@code --kafka-config} file, or give them with {@code -X key=value}; they reach every producer,
 * consumer, admin client and Streams application the command makes.
 */
public final class KafkaOptions {

  @Option(names = "--bootstrap", paramLabel = "HOST:PORT[,...]",
      description = "Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS, else the --kafka-config file's "
          + "bootstrap.servers, else " + ClientConfig.DEFAULT_BOOTSTRAP + ").")
  String bootstrap;

  @Option(names = "--kafka-config", paramLabel = "FILE",
      description = "Kafka client properties file: security.protocol, sasl.*, ssl.*, any producer/consumer/admin/"
          + "streams key; plus oppu.topic.<key>=NAME to rename a topic (keys: behaviors, requests, responses, "
          + "dead-letters, train-triggers, train-results, adapters, user-commands), " + TopicAdmin.BEHAVIORS_RETENTION_PROPERTY
          + " (behaviors topic retention, default 7 days), " + TopicAdmin.REPLICATION_PROPERTY + " and "
          + TopicAdmin.MIN_INSYNC_PROPERTY + " (replication of every topic the system creates, Kafka Streams' "
          + "changelogs included; default: the broker's).")
  Path configFile;

  @Option(names = "-X", paramLabel = "KEY=VALUE",
      description = "One more Kafka client (or oppu.*) property; repeatable; wins over --kafka-config.")
  Map<String, String> extra = new LinkedHashMap<>();

  /** Whether a cluster was named: --bootstrap, --kafka-config, -X or $KAFKA_BOOTSTRAP_SERVERS (else: embedded). */
  public boolean given() {
    return bootstrap != null || configFile != null || !extra.isEmpty() || System.getenv("KAFKA_BOOTSTRAP_SERVERS") != null;
  }

  /** The client settings: file, then -X, then --bootstrap (or $KAFKA_BOOTSTRAP_SERVERS when neither names one). */
  public ClientConfig clientConfig() {
    Properties p = new Properties();
    if (configFile != null) {
      p.putAll(ClientConfig.load(configFile));
    }
    p.putAll(extra);
    String b = bootstrap;
    if ((b == null || b.isBlank()) && !p.containsKey("bootstrap.servers")) {
      b = System.getenv("KAFKA_BOOTSTRAP_SERVERS");
    }
    if (b != null && !b.isBlank()) {
      p.setProperty("bootstrap.servers", b.trim());
    }
    return ClientConfig.of(p);
  }

  /** The topic registry, names from {@code oppu.topic.<key>} settings. */
  public Topics topics() {
    return Topics.from(clientConfig().raw());
  }
}
