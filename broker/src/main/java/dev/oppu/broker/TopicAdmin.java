package dev.oppu.broker;

import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.KafkaFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the topics of a {@link Topics} registry on a real cluster, idempotently: a topic that already exists is
 * left as it is (its partition count is reported, since behaviors and requests must be co-partitioned by user).
 *
 * <p>Per-topic settings: the adapters topic is compacted (latest adapter per user|task|variant) and takes records up
 * to {@link ClientConfig#MAX_RECORD_BYTES}; the behaviors topic stamps records with {@code LogAppendTime}, so a
 * record's timestamp is its arrival at the broker (where adaptation lag starts), and keeps records for
 * {@code retentionMs} (the raw behaviors topic is the one place a deleted user's events survive until then).
 */
public final class TopicAdmin {

  private static final Logger LOG = LoggerFactory.getLogger(TopicAdmin.class);

  /** Property (in the client properties file) giving the behaviors topic's retention in ms. */
  public static final String BEHAVIORS_RETENTION_PROPERTY = "oppu.behaviors.retention.ms";
  /** Property giving the replication factor of created topics; unset = the broker's default.replication.factor. */
  public static final String REPLICATION_PROPERTY = "oppu.topic.replication.factor";
  /** Partitions of the project's topics unless told otherwise: the scale-out limit of one Streams application. */
  public static final int DEFAULT_PARTITIONS = 4;
  /** Kafka's own default retention (7 days), used for behaviors unless configured. */
  public static final long DEFAULT_BEHAVIORS_RETENTION_MS = Duration.ofDays(7).toMillis();

  /** Settings for topic creation; {@code replicationFactor} empty = broker default. */
  public record Settings(int partitions, Optional<Short> replicationFactor, long behaviorsRetentionMs) {
    public Settings {
      if (partitions < 1) {
        throw new IllegalArgumentException("partitions must be >= 1, got " + partitions);
      }
      if (behaviorsRetentionMs < -1 || behaviorsRetentionMs == 0) {
        throw new IllegalArgumentException("behaviors retention must be > 0 ms or -1 (forever), got " + behaviorsRetentionMs);
      }
    }

    public static Settings of(int partitions) {
      return new Settings(partitions, Optional.empty(), DEFAULT_BEHAVIORS_RETENTION_MS);
    }

    /** Reads {@link #BEHAVIORS_RETENTION_PROPERTY} and {@link #REPLICATION_PROPERTY} from {@code props}. */
    public static Settings from(Properties props, int partitions) {
      String retention = props.getProperty(BEHAVIORS_RETENTION_PROPERTY);
      String rf = props.getProperty(REPLICATION_PROPERTY);
      try {
        return new Settings(partitions,
            rf == null ? Optional.empty() : Optional.of(Short.parseShort(rf.trim())),
            retention == null ? DEFAULT_BEHAVIORS_RETENTION_MS : Long.parseLong(retention.trim()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad number in " + BEHAVIORS_RETENTION_PROPERTY + " or "
            + REPLICATION_PROPERTY + ": " + e.getMessage(), e);
      }
    }

    public Settings withBehaviorsRetentionMs(long ms) {
      return new Settings(partitions, replicationFactor, ms);
    }
  }

  /** What {@link #ensureTopics} found: topic name to partition count, and which of them it created. */
  public record Result(Map<String, Integer> partitions, List<String> created) {}

  private TopicAdmin() {}

  /** The topic-level configs of one registry topic. */
  public static Map<String, String> topicConfig(Topics topics, Topics.Topic<?, ?> topic, Settings settings) {
    Map<String, String> c = new HashMap<>();
    if (topic.compacted()) {
      c.put(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT);
    }
    if (topic.name().equals(topics.adapters.name())) {
      c.put(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    }
    if (topic.name().equals(topics.behaviors.name())) {
      c.put(TopicConfig.MESSAGE_TIMESTAMP_TYPE_CONFIG, "LogAppendTime");
      c.put(TopicConfig.RETENTION_MS_CONFIG, Long.toString(settings.behaviorsRetentionMs()));
    }
    return c;
  }

  /** {@link #ensureTopics(Properties, Topics, Settings)} with settings read from the client properties. */
  public static Result ensureTopics(Properties clientProps, Topics topics, int partitions) {
    return ensureTopics(clientProps, topics, Settings.from(clientProps, partitions));
  }

  /** Creates every topic of {@code topics} that does not exist yet; waits until all are described. */
  public static Result ensureTopics(Properties clientProps, Topics topics, Settings settings) {
    Properties adminProps = ClientConfig.of(clientProps).admin();
    try (Admin admin = Admin.create(adminProps)) {
      return ensureTopics(admin, topics, settings);
    }
  }

  public static Result ensureTopics(Admin admin, Topics topics, Settings settings) {
    List<NewTopic> wanted = new ArrayList<>();
    for (Topics.Topic<String, ?> t : topics.all()) {
      wanted.add(new NewTopic(t.name(), Optional.of(settings.partitions()), settings.replicationFactor())
          .configs(topicConfig(topics, t, settings)));
    }
    List<String> created = new ArrayList<>();
    Map<String, KafkaFuture<Void>> futures = admin.createTopics(wanted).values();
    for (Map.Entry<String, KafkaFuture<Void>> e : futures.entrySet()) {
      try {
        e.getValue().get(60, TimeUnit.SECONDS);
        created.add(e.getKey());
      } catch (ExecutionException ex) {
        if (!(ex.getCause() instanceof TopicExistsException)) {
          throw new IllegalStateException("cannot create topic " + e.getKey() + ": " + ex.getCause().getMessage(), ex.getCause());
        }
      } catch (TimeoutException ex) {
        throw new IllegalStateException("timed out creating topic " + e.getKey() + " (is the broker reachable?)", ex);
      } catch (InterruptedException ex) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while creating topics", ex);
      }
    }
    Map<String, Integer> partitions = describe(admin, wanted.stream().map(NewTopic::name).toList());
    // Streams joins requests with behaviors-derived state by user: both must have the same partition count.
    int b = partitions.get(topics.behaviors.name());
    int r = partitions.get(topics.requests.name());
    if (b != r) {
      LOG.warn("topics {} ({} partitions) and {} ({} partitions) are not co-partitioned; Streams will refuse them",
          topics.behaviors.name(), b, topics.requests.name(), r);
    }
    // A user's delete command must reach the stream task that holds the user's state.
    int u = partitions.get(topics.userCommands.name());
    if (b != u) {
      LOG.warn("topics {} ({} partitions) and {} ({} partitions) are not co-partitioned; a user's deletion would "
          + "miss the task holding the user's data", topics.behaviors.name(), b, topics.userCommands.name(), u);
    }
    Map<String, Integer> differing = new LinkedHashMap<>();
    partitions.forEach((name, n) -> {
      if (!created.contains(name) && n != settings.partitions()) {
        differing.put(name, n);
      }
    });
    if (!differing.isEmpty()) {
      LOG.info("existing topics left as they are (asked for {} partitions): {}", settings.partitions(), differing);
    }
    return new Result(partitions, created);
  }

  private static Map<String, Integer> describe(Admin admin, List<String> names) {
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    try {
      while (true) {
        try {
          Map<String, TopicDescription> d = admin.describeTopics(names).allTopicNames().get(60, TimeUnit.SECONDS);
          // Just-created partitions get their leader a moment later; producers would log retries until then.
          boolean leaderless = d.values().stream().flatMap(t -> t.partitions().stream()).anyMatch(p -> p.leader() == null);
          if (!leaderless || System.nanoTime() > giveUp) {
            Map<String, Integer> out = new LinkedHashMap<>();
            for (String n : names) {
              out.put(n, d.get(n).partitions().size());
            }
            return out;
          }
          Thread.sleep(50);
        } catch (ExecutionException e) {
          // A just-created topic may not be in the metadata the admin client reads yet.
          if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > giveUp) {
            throw e;
          }
          Thread.sleep(100);
        }
      }
    } catch (ExecutionException e) {
      throw new IllegalStateException("cannot describe topics " + names + ": " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("timed out describing topics " + names, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while describing topics", e);
    }
  }
}
