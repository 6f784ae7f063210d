package dev.oppu.broker;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * Kafka client settings shared by every command: a bootstrap address plus an optional properties file whose keys
 * ({@code security.protocol}, {@code sasl.*}, {@code ssl.*}, any other client key) pass through unchanged to
 * producers, consumers, admin clients and Streams. Keys starting with {@code oppu.} are the project's own settings
 * (topic names, behaviors retention): they are kept in {@link #raw()} and not handed to Kafka clients, which would
 * warn about unknown configs.
 */
public final class ClientConfig {

  public static final String DEFAULT_BOOTSTRAP = "localhost:9092";

  /**
   * Largest record the project writes (an adapter inlined in an {@code AdapterVersion}): producers, the adapters
   * topic and the embedded broker are all configured for it; Kafka's default (~1 MB) is too small for real adapters.
   */
  public static final int MAX_RECORD_BYTES = 16 * 1024 * 1024;

  private final Properties raw;

  private ClientConfig(Properties raw) {
    this.raw = raw;
  }

  /** Bootstrap only (plaintext). */
  public static ClientConfig of(String bootstrapServers) {
    return of(bootstrapServers, null);
  }

  /**
   * {@code bootstrapServers} (may be null: then the file's {@code bootstrap.servers}, else localhost:9092) and the
   * client properties file (may be null). An explicit bootstrap wins over the file's.
   */
  public static ClientConfig of(String bootstrapServers, Path propertiesFile) {
    Properties p = new Properties();
    if (propertiesFile != null) {
      p.putAll(load(propertiesFile));
    }
    if (bootstrapServers != null && !bootstrapServers.isBlank()) {
      p.setProperty(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers.trim());
    }
    p.putIfAbsent(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, DEFAULT_BOOTSTRAP);
    return new ClientConfig(p);
  }

  /** From already-assembled properties (copied). */
  public static ClientConfig of(Properties props) {
    Properties p = new Properties();
    p.putAll(props);
    p.putIfAbsent(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, DEFAULT_BOOTSTRAP);
    return new ClientConfig(p);
  }

  /** Reads a properties file, with a clear message when it is missing or unreadable. */
  public static Properties load(Path file) {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      p.load(r);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read properties file " + file + ": " + e.getMessage(), e);
    }
    return p;
  }

  public String bootstrapServers() {
    return raw.getProperty(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
  }

  /** Everything, {@code oppu.*} keys included (for {@code Topics.from(raw())}). */
  public Properties raw() {
    Properties p = new Properties();
    p.putAll(raw);
    return p;
  }

  /** The settings common to every Kafka client: bootstrap, security and any other pass-through key. */
  public Properties common() {
    Properties p = new Properties();
    for (String k : raw.stringPropertyNames()) {
      if (!k.startsWith("oppu.")) {
        p.setProperty(k, raw.getProperty(k));
      }
    }
    return p;
  }

  public Properties admin() {
    return common();
  }

  /** Idempotent, acks=all, room for adapter-sized records; the file may still override any of these. */
  public Properties producer() {
    Properties p = new Properties();
    p.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.setProperty(ProducerConfig.ACKS_CONFIG, "all");
    p.setProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(MAX_RECORD_BYTES));
    p.putAll(common());
    return p;
  }

  /**
   * {@link #producer()} with one produce request in flight per broker connection, for the short-lived producers
   * that publish a burst of records whose order matters (replay, {@code oppu publish}); the file may still override.
   *
   * <p>Why, when {@link TopicAdmin} already waits until new partitions accept writes: an idempotent,
   * non-transactional producer with several requests in flight is exposed to a Kafka bug (KAFKA-15591/KAFKA-14359)
   * whenever its first batch to a partition is refused with a retriable error while a later batch of the same burst
   * is accepted: the broker, holding no state for this producer on that partition, takes any first sequence, then
   * refuses every retry of the first batch (OutOfOrderSequenceException) until delivery.timeout.ms, and the user's
   * first events are lost behind their later ones. The readiness wait removes the one cause we saw (a partition just
   * created by us). These producers are new on every run, so every partition they touch is a first contact, and
   * other causes remain outside our control: topics created by another tool just before ({@code publish
   * --no-create-topics}), a leader moving onto the broker the client addresses, NOT_ENOUGH_REPLICAS while an ISR
   * recovers on a real cluster. With one request in flight no later batch can overtake a refused one. The cost is
   * one round trip at a time per broker, each request still carrying a batch for every partition with data: small
   * for the volumes these commands send. Streams and the trainer (transactional) and the single-record senders keep
   * Kafka's default.
   */
  public Properties burstProducer() {
    Properties p = new Properties();
    p.setProperty(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
    p.putAll(producer());
    return p;
  }

  /** A consumer in {@code groupId} (null: no group, for assign()-style readers), reading from the earliest offset. */
  public Properties consumer(String groupId) {
    Properties p = new Properties();
    p.setProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.putAll(common());
    if (groupId != null) {
      p.setProperty(ConsumerConfig.GROUP_ID_CONFIG, groupId);
    }
    return p;
  }

  /**
   * Streams settings: the client keys apply to all of Streams' inner clients (Streams routes unprefixed client
   * configs to each); {@code application.id} set here. The caller adds processing settings.
   */
  public Properties streams(String applicationId) {
    Properties p = new Properties();
    p.setProperty("max.request.size", Integer.toString(MAX_RECORD_BYTES));
    p.putAll(common());
    p.setProperty("application.id", applicationId);
    return p;
  }

  /**
   * The user name this client logs in with: {@code username} of its {@code sasl.jaas.config} (PLAIN, SCRAM), else
   * {@code anonymous}. It is what the client claims; the broker checks it (only a client that logged in with this
   * name's password gets through), so a record that carries it names the login that wrote it.
   */
  public String principalName() {
    String protocol = raw.getProperty("security.protocol", "PLAINTEXT").trim().toUpperCase(java.util.Locale.ROOT);
    String user = protocol.startsWith("SASL_") ? jaasOption("username") : null;
    return user != null ? user : "anonymous";
  }

  /**
   * An option of {@code sasl.jaas.config} ({@code username}, {@code password}, ...), or null. Options are read left to
   * right, a quoted value consumed whole, so a password cannot fake a username.
   */
  public String jaasOption(String key) {
    String jaas = raw.getProperty("sasl.jaas.config");
    if (jaas == null) {
      return null;
    }
    java.util.regex.Matcher m = JAAS_OPTION.matcher(jaas);
    while (m.find()) {
      if (m.group(1).equals(key)) {
        String v = m.group(2);
        return v.startsWith("\"") ? v.substring(1, v.length() - 1) : v;
      }
    }
    return null;
  }

  private static final java.util.regex.Pattern JAAS_OPTION =
      java.util.regex.Pattern.compile("([A-Za-z0-9_.-]+)\\s*=\\s*(\"(?:[^\"\\\\]|\\\\.)*\"|[^\\s;]+)");

  @Override
  public String toString() {
    // Never print secrets (sasl.jaas.config, ssl passwords): only the bootstrap and the key names.
    return "ClientConfig{" + bootstrapServers() + ", keys=" + new java.util.TreeSet<>(raw.stringPropertyNames()) + "}";
  }
}
