package dev.oppu.bench;

import dev.oppu.schemas.StoreNames;
import dev.oppu.broker.ClientConfig;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The end of a soak ({@link SoakBench}): waits until the system has processed the load, then counts what reached the
 * history (read back from its changelog) and the dead letters.
 */
final class SoakAudit {

  private SoakAudit() {}

  /**
   * Waits until the streams application has committed every behavior and request and every request is answered;
   * gives up when nothing moves for {@code --stall-minutes}. Returns whether the run completed.
   */
  static boolean awaitDone(ClientConfig client, Topics topics, String applicationId, int partitions, int events,
      double stallMinutes, SoakLoad.Sent sent, SoakResponses responses, SoakLoad.Watch watch) throws Exception {
    String group = applicationId;
    long t0 = System.nanoTime();
    long lastProgress = t0;
    long lastReport = t0;
    long lastCommitted = -1;
    long lastAnswered = -1;
    try (Admin admin = Admin.create(client.admin())) {
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      for (String topic : List.of(topics.behaviors.name(), topics.requests.name())) {
        for (int p = 0; p < partitions; p++) {
          latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
      }
      Map<TopicPartition, Long> ends = new HashMap<>();
      admin.listOffsets(latest).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
      while (true) {
        Map<TopicPartition, OffsetAndMetadata> committed =
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        long behind = 0;
        long done = 0;
        for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
          OffsetAndMetadata c = committed.get(e.getKey());
          long at = c == null ? 0 : c.offset();
          done += Math.min(at, e.getValue());
          behind += Math.max(0, e.getValue() - at); // under exactly-once a commit may sit past the last record
        }
        long answered = responses.answeredCount();
        if (behind == 0 && answered >= sent.requests()) {
          return true;
        }
        long now = System.nanoTime();
        if (done != lastCommitted || answered != lastAnswered) {
          lastCommitted = done;
          lastAnswered = answered;
          lastProgress = now;
        } else if (now - lastProgress > stallMinutes * 60e9) {
          System.out.printf(Locale.ROOT, "no progress for %.0f min: %d records not committed, %d of %d answered%n",
              stallMinutes, behind, answered, sent.requests());
          return false;
        }
        if (responses.failure() != null) {
          return false; // counts no longer move: said when it stopped
        }
        if (!watch.alive()) {
          System.out.println("the system under load died; see " + watch.where());
          return false;
        }
        if (now - lastReport > 30e9) {
          lastReport = now;
          System.out.printf(Locale.ROOT, "draining: %d records behind, ", behind);
          SoakLoad.report("draining", now - t0, events, sent.requests(), responses, watch);
        }
        Thread.sleep(500);
      }
    }
  }

  /** Behaviors found in the history, found twice, and tombstones (evictions). */
  record History(long found, long dups, long tombstones) {}

  /**
   * Every behavior's event id in the history changelog of application {@code applicationId} (read_committed),
   * counted once per appearance.
   */
  static History readHistory(ClientConfig client, Topics topics, String applicationId, int events) {
    String changelog = applicationId + "-" + StoreNames.HISTORY_STORE + "-changelog";
    AvroSerde<dev.oppu.schemas.HistoryItem> serde = new AvroSerde<>(dev.oppu.schemas.HistoryItem.class);
    BitSet seen = new BitSet(events);
    long[] dups = {0};
    long[] tombstones = {0};
    long[] foreign = {0};
    readAll(client, changelog, r -> {
      if (r.value() == null) {
        tombstones[0]++;
        return;
      }
      String id = serde.decode(r.value()).getEventId();
      int i = id.startsWith("e") ? parseOr(id.substring(1), -1) : -1;
      if (i < 0 || i >= events) {
        foreign[0]++;
      } else if (seen.get(i)) {
        dups[0]++;
      } else {
        seen.set(i);
      }
    });
    if (foreign[0] > 0) {
      System.out.println("history holds " + foreign[0] + " items the soak never sent");
    }
    return new History(seen.cardinality(), dups[0], tombstones[0]);
  }

  /** Records on a topic (read_committed). */
  static long countRecords(ClientConfig client, String topic) {
    long[] n = {0};
    readAll(client, topic, r -> n[0]++);
    return n[0];
  }

  /** Reads a topic from the beginning to its current end, read_committed. */
  private static void readAll(ClientConfig client, String topic,
      java.util.function.Consumer<ConsumerRecord<byte[], byte[]>> each) {
    Properties p = client.consumer(null);
    p.setProperty(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
          .map(pi -> new TopicPartition(topic, pi.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
          each.accept(r);
        }
      }
    }
  }

  static int parseOr(String s, int dflt) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      return dflt;
    }
  }
}
