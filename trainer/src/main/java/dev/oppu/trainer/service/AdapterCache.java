package dev.oppu.trainer.service;

import dev.oppu.broker.ClientConfig;
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
 * (read_committed, all partitions, no group): what other trainer instances published too. Tombstones remove a key.
 */
public final class AdapterCache implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AdapterCache.class);

  private final Map<String, AdapterVersion> latest = new ConcurrentHashMap<>();
  private final Map<String, Long> deletedAt = new ConcurrentHashMap<>();
  private final KafkaConsumer<String, byte[]> consumer;
  private final Topics.Topic<String, AdapterVersion> topic;
  private final CountDownLatch caughtUp = new CountDownLatch(1);
  private final Thread thread;
  private volatile boolean running = true;

  public AdapterCache(ClientConfig clients, Topics topics) {
    this.topic = topics.adapters;
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
            latest.remove(r.key());
            deletedAt.put(r.key(), System.currentTimeMillis());
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

  @Override
  public void close() throws InterruptedException {
    running = false;
    consumer.wakeup();
    thread.join(10_000);
  }
}
