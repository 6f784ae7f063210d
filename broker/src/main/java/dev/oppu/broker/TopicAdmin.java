package dev.oppu.broker;

import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.RetriableException;
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
  /**
   * Property giving the replication factor of every topic the system creates: the registry's topics here, and Kafka
   * Streams' changelog and repartition topics (its {@code replication.factor}, unless that is given). Unset = the
   * broker's {@code default.replication.factor} (1 on a single broker, so the default is right there).
   */
  public static final String REPLICATION_PROPERTY = "oppu.topic.replication.factor";
  /**
   * Property giving {@code min.insync.replicas} of every topic the system creates (the registry's topics, and Streams'
   * internal topics as {@code topic.min.insync.replicas} unless that is given). Unset = the broker's
   * {@code min.insync.replicas}. With producers' {@code acks=all} (every producer of the system), a write is
   * acknowledged only once this many replicas have it: replication factor 3 and 2 here lose no acknowledged record
   * when one broker dies.
   */
  public static final String MIN_INSYNC_PROPERTY = "oppu.topic.min.insync.replicas";
  /** Partitions of the project's topics unless told otherwise: the scale-out limit of one Streams application. */
  public static final int DEFAULT_PARTITIONS = 4;
  /** Kafka's own default retention (7 days), used for behaviors unless configured. */
  public static final long DEFAULT_BEHAVIORS_RETENTION_MS = Duration.ofDays(7).toMillis();
  /** How long {@link #ensureTopics} waits for the topics' partitions to be served by their leaders. */
  public static final Duration READY_TIMEOUT = Duration.ofSeconds(60);

  /** Settings for topic creation; {@code replicationFactor} and {@code minInsyncReplicas} empty = broker default. */
  public record Settings(int partitions, Optional<Short> replicationFactor, Optional<Integer> minInsyncReplicas,
      long behaviorsRetentionMs) {
    public Settings {
      if (partitions < 1) {
        throw new IllegalArgumentException("partitions must be >= 1, got " + partitions);
      }
      if (replicationFactor.isPresent() && replicationFactor.get() < 1) {
        throw new IllegalArgumentException(REPLICATION_PROPERTY + " must be >= 1, got " + replicationFactor.get());
      }
      if (minInsyncReplicas.isPresent() && (minInsyncReplicas.get() < 1
          || replicationFactor.isPresent() && minInsyncReplicas.get() > replicationFactor.get())) {
        throw new IllegalArgumentException(MIN_INSYNC_PROPERTY + " must be >= 1 and <= the replication factor, got "
            + minInsyncReplicas.get());
      }
      if (behaviorsRetentionMs < -1 || behaviorsRetentionMs == 0) {
        throw new IllegalArgumentException("behaviors retention must be > 0 ms or -1 (forever), got " + behaviorsRetentionMs);
      }
    }

    public static Settings of(int partitions) {
      return new Settings(partitions, Optional.empty(), Optional.empty(), DEFAULT_BEHAVIORS_RETENTION_MS);
    }

    /**
     * Reads {@link #BEHAVIORS_RETENTION_PROPERTY}, {@link #REPLICATION_PROPERTY} and {@link #MIN_INSYNC_PROPERTY}
     * from {@code props}.
     */
    public static Settings from(Properties props, int partitions) {
      String retention = props.getProperty(BEHAVIORS_RETENTION_PROPERTY);
      String rf = props.getProperty(REPLICATION_PROPERTY);
      String minIsr = props.getProperty(MIN_INSYNC_PROPERTY);
      try {
        return new Settings(partitions,
            rf == null ? Optional.empty() : Optional.of(Short.parseShort(rf.trim())),
            minIsr == null ? Optional.empty() : Optional.of(Integer.parseInt(minIsr.trim())),
            retention == null ? DEFAULT_BEHAVIORS_RETENTION_MS : Long.parseLong(retention.trim()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad number in " + BEHAVIORS_RETENTION_PROPERTY + ", "
            + REPLICATION_PROPERTY + " or " + MIN_INSYNC_PROPERTY + ": " + e.getMessage(), e);
      }
    }

    public Settings withBehaviorsRetentionMs(long ms) {
      return new Settings(partitions, replicationFactor, minInsyncReplicas, ms);
    }
  }

  /**
   * The Kafka Streams settings that give its internal topics (changelogs, repartition topics) the same replication
   * as the registry's: {@code replication.factor} from {@link #REPLICATION_PROPERTY} and
   * {@code topic.min.insync.replicas} from {@link #MIN_INSYNC_PROPERTY}, each only when set and when {@code props}
   * does not give the Streams key itself.
   */
  public static Properties streamsReplication(Properties props) {
    Properties out = new Properties();
    String rf = props.getProperty(REPLICATION_PROPERTY);
    if (rf != null && !props.containsKey("replication.factor")) {
      out.setProperty("replication.factor", rf.trim());
    }
    String minIsr = props.getProperty(MIN_INSYNC_PROPERTY);
    if (minIsr != null && !props.containsKey("topic." + TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG)) {
      out.setProperty("topic." + TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, minIsr.trim());
    }
    return out;
  }

  /** What {@link #ensureTopics} found: topic name to partition count, and which of them it created. */
  public record Result(Map<String, Integer> partitions, List<String> created) {}

  private TopicAdmin() {}

  /** The topic-level configs of one registry topic. */
  public static Map<String, String> topicConfig(Topics topics, Topics.Topic<?, ?> topic, Settings settings) {
    Map<String, String> c = new HashMap<>();
    settings.minInsyncReplicas().ifPresent(n -> c.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, Integer.toString(n)));
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

  /**
   * Creates every topic of {@code topics} that does not exist yet; returns when every partition of every topic is
   * served by its leader ({@link #awaitWritable}), and throws naming the topic and partition that is not within
   * {@link #READY_TIMEOUT}.
   */
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
    // Returns only when every partition accepts writes (see awaitWritable): callers produce right away.
    Map<String, Integer> partitions = awaitWritable(admin, wanted.stream().map(NewTopic::name).toList(), READY_TIMEOUT);
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

  /**
   * Waits until every partition of {@code names} answers a ListOffsets request, then returns. ListOffsets is served
   * only by a partition's leader, from the same state a produce request needs: until the broker's replica manager has
   * made the partition leader (its log created), it answers NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION or
   * LEADER_NOT_AVAILABLE, which are retried here. describeTopics is not enough: a KRaft broker publishes new
   * metadata (leader included) before its replica manager applies it, so a topic can be described with a leader
   * while produce requests are still refused. An idempotent producer whose first batch to such a partition was
   * refused while a later batch of its burst was appended can never deliver that first batch (the broker accepts any
   * first sequence from a producer it has no state for, then refuses the retry as OutOfOrderSequenceException until
   * delivery.timeout.ms; Kafka bug family KAFKA-15591/KAFKA-14359; issue 11).
   *
   * @return topic name to partition count
   * @throws IllegalStateException naming the topic and partition when one is not ready within {@code timeout}
   */
  public static Map<String, Integer> awaitWritable(Admin admin, Collection<String> names, Duration timeout) {
    long giveUp = System.nanoTime() + timeout.toNanos();
    Map<String, Integer> partitions = describe(admin, List.copyOf(names), giveUp, timeout);
    Set<TopicPartition> pending = new LinkedHashSet<>();
    partitions.forEach((name, n) -> {
      for (int p = 0; p < n; p++) {
        pending.add(new TopicPartition(name, p));
      }
    });
    Map<TopicPartition, Throwable> lastError = new HashMap<>();
    try {
      while (!pending.isEmpty()) {
        long left = TimeUnit.NANOSECONDS.toMillis(giveUp - System.nanoTime());
        if (left <= 0) {
          TopicPartition tp = pending.iterator().next();
          Throwable why = lastError.get(tp);
          throw new IllegalStateException("partition " + tp.partition() + " of topic " + tp.topic()
              + " did not answer a request served by its leader within " + timeout.toMillis() + " ms"
              + (pending.size() > 1 ? " (not ready: " + pending.size() + " partitions, " + pending + ")" : "")
              + (why == null ? "" : "; last error: " + why), why);
        }
        Map<TopicPartition, OffsetSpec> ask = new LinkedHashMap<>();
        pending.forEach(tp -> ask.put(tp, OffsetSpec.latest()));
        int attemptMs = (int) Math.max(1, Math.min(left, 5_000));
        ListOffsetsResult result = admin.listOffsets(ask, new ListOffsetsOptions().timeoutMs(attemptMs));
        for (TopicPartition tp : List.copyOf(pending)) {
          try {
            result.partitionResult(tp).get(attemptMs + 1_000L, TimeUnit.MILLISECONDS);
            pending.remove(tp);
            lastError.remove(tp);
          } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (!(cause instanceof RetriableException)) {
              throw new IllegalStateException("partition " + tp.partition() + " of topic " + tp.topic()
                  + " cannot be read by its leader: " + cause, cause);
            }
            lastError.put(tp, cause);
          } catch (TimeoutException e) {
            lastError.put(tp, e);
          }
        }
        if (!pending.isEmpty()) {
          Thread.sleep(50);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the partitions of " + names, e);
    }
    return partitions;
  }

  /** Partition counts of {@code names}; a just-created topic may not be in the metadata the admin reads yet. */
  private static Map<String, Integer> describe(Admin admin, List<String> names, long giveUp, Duration timeout) {
    try {
      while (true) {
        try {
          long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(giveUp - System.nanoTime()));
          Map<String, TopicDescription> d = admin.describeTopics(names).allTopicNames().get(left, TimeUnit.MILLISECONDS);
          Map<String, Integer> out = new LinkedHashMap<>();
          for (String n : names) {
            out.put(n, d.get(n).partitions().size());
          }
          return out;
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > giveUp) {
            throw e;
          }
          Thread.sleep(100);
        }
      }
    } catch (ExecutionException e) {
      throw new IllegalStateException("cannot describe topics " + names + ": " + e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("topics " + names + " were not described within " + timeout.toMillis() + " ms", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while describing topics", e);
    }
  }
}
