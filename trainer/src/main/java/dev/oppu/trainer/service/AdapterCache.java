package dev.oppu.trainer.service;

import dev.oppu.broker.ClientConfig;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The latest committed adapter version of every (user, task, variant), tailed from the compacted adapters topic
 * (read_committed, all partitions, no group): what other trainer instances published too. Tombstones remove a key
 * (a user deletion tombstones all of the user's keys), and the stored weights file of the removed version when it lies
 * in this trainer's adapter store.
 */
public final class AdapterCache implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterCache.class);

  private final Map<String, AdapterVersion> latest = new ConcurrentHashMap<>();
  /** Key -> when this cache read its latest tombstone (wall clock). */
  private final Map<String, Long> deletedAt = new ConcurrentHashMap<>();
  /** Key -> record timestamp of its latest tombstone (when the deletion was asked for). */
  private final Map<String, Long> tombstoneTime = new ConcurrentHashMap<>();
  /** Tombstones older than this are forgotten (no training runs that long). */
  static final long TOMBSTONE_MEMORY_MS = Duration.ofDays(1).toMillis();
  private final java.nio.file.Path store;
  private long tombstonesSincePrune;
  private final KafkaConsumer<String, byte[]> consumer;
  private final Topics.Topic<String, AdapterVersion> topic;
  private final CountDownLatch caughtUp = new CountDownLatch(1);
  private final Thread thread;
  private volatile boolean running = true;

  public AdapterCache(ClientConfig clients, Topics topics) {
    this(clients, topics, null);
  }

  /** @param store the trainer's adapter store: weights files of deleted adapters are removed from it */
  public AdapterCache(ClientConfig clients, Topics topics, java.nio.file.Path store) {
    this.topic = topics.adapters;
    this.store = store;
    Properties p = clients.consumer(null);
    p.setProperty(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    p.setProperty(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
    this.thread = new Thread(this::run, "oppu-trainer-adapter-cache");
    thread.setDaemon(true);
    thread.start();
  }

  /** Waits until everything committed on the topic when the cache started has been read. */
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    return caughtUp.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  public AdapterVersion get(String key) {
    return latest.get(key);
  }

  /** Whether the key was deleted (a tombstone read) at or after {@code sinceMillis}. */
  public boolean deletedSince(String key, long sinceMillis) {
    Long at = deletedAt.get(key);
    return at != null && at >= sinceMillis;
  }

  /**
   * Whether the key was tombstoned by a deletion asked for at or after {@code millis} (a trigger's creation time: a
   * training for a trigger created before its user's deletion must publish nothing).
   */
  public boolean deletedAfter(String key, long millis) {
    Long at = tombstoneTime.get(key);
    return at != null && at >= millis;
  }

  /** Records what this process just published, ahead of reading it back. */
  public void put(String key, AdapterVersion v) {
    latest.merge(key, v, (old, nu) -> nu.getVersion() >= old.getVersion() ? nu : old);
  }

  private void run() {
    try {
      List<TopicPartition> parts = consumer.partitionsFor(topic.name(), Duration.ofSeconds(30)).stream()
          .map(pi -> new TopicPartition(pi.topic(), pi.partition())).toList();
      consumer.assign(parts);
      consumer.seekToBeginning(parts);
      Map<TopicPartition, Long> end = consumer.endOffsets(parts);
      while (running) {
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          if (r.value() == null) {
            onTombstone(r.key(), r.timestamp());
            continue;
          }
          try {
            put(r.key(), topic.valueSerde().deserializer().deserialize(r.topic(), r.value()));
          } catch (RuntimeException e) {
            LOG.warn("skipping undecodable adapter record {}-{}@{}: {}", r.topic(), r.partition(), r.offset(),
                e.getMessage());
          }
        }
        if (caughtUp.getCount() > 0 && end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
          caughtUp.countDown();
        }
      }
    } catch (WakeupException e) {
      // closing
    } catch (RuntimeException e) {
      LOG.error("adapter cache stopped", e);
    } finally {
      consumer.close();
    }
  }

  private void onTombstone(String key, long recordTime) {
    long now = System.currentTimeMillis();
    AdapterVersion gone = latest.remove(key);
    deletedAt.put(key, now);
    tombstoneTime.merge(key, recordTime, Math::max);
    if (gone != null && gone.getWeightsPath() != null && store != null
        && latest.values().stream().noneMatch(v -> gone.getWeightsPath().equals(v.getWeightsPath()))) {
      try {
        if (AdapterPayload.deleteStored(store, gone.getWeightsPath())) {
          LOG.info("deleted the stored weights of {} v{}", key, gone.getVersion());
        }
      } catch (java.io.IOException e) {
        LOG.warn("could not delete the stored weights of {} at {}: {}", key, gone.getWeightsPath(), e.getMessage());
      }
    }
    if (++tombstonesSincePrune >= 10_000) { // a deletion tombstones some twenty keys: keep the maps bounded
      tombstonesSincePrune = 0;
      deletedAt.values().removeIf(t -> now - t > TOMBSTONE_MEMORY_MS);
      tombstoneTime.keySet().removeIf(k -> !deletedAt.containsKey(k));
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    consumer.wakeup();
    thread.join(10_000);
  }
}
