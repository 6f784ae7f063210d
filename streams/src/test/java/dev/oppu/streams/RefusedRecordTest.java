package dev.oppu.streams;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.broker.CheckedSends;
import dev.oppu.broker.KafkaExtension;
import dev.oppu.broker.SharedKafka;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A dead letter the broker refuses (its topic's {@code max.message.bytes} is smaller than the dead letter) does not
 * stop the Streams thread: {@link RefusedRecordHandler} replaces it by a small dead letter naming the input, or drops
 * and counts it when that is refused too, and the next input is processed. Real broker, exactly-once v2.
 */
@ExtendWith(KafkaExtension.class)
class RefusedRecordTest {
  @TempDir
  Path stateDir;

  /**
   * A dead-letters topic whose records may be 2 KiB: a 20 KB dead letter is refused by the broker, the thread is
   * replaced, the same dead letter is refused by the guard before sending and replaced by a small one; the next record
   * is processed.
   */
  @Test
  void aRefusedDeadLetterBecomesASmallDeadLetterAndTheNextRecordIsProcessed(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("refused", 1);
    limitRecordSize(kafka, topics.deadLetters.name(), 2048);
    String appId = "refused-it-" + System.nanoTime();
    byte[] big = randomBytes(20_000, 1); // undecodable, and incompressible: its dead letter is ~20 KB
    byte[] small = randomBytes(100, 2);
    try (Running app = start(kafka, topics, appId)) {
      produce(kafka, topics.behaviors.name(), List.of(big, small));

      List<ConsumerRecord<String, byte[]>> got = readDeadLetters(kafka, topics, 2, Duration.ofSeconds(60));
      assertEquals(2, got.size(), "a small dead letter for the refused one, and the next record's dead letter");
      DeadLetter replacement = null;
      DeadLetter next = null;
      for (ConsumerRecord<String, byte[]> r : got) {
        DeadLetter dl = topics.deadLetters.valueSerde().deserializer().deserialize(r.topic(), r.value());
        if (dl.getReason().startsWith("output to ")) {
          replacement = dl;
        } else {
          next = dl;
        }
      }
      assertTrue(replacement != null, "the refused dead letter was replaced: " + got);
      assertTrue(next != null, "the record after the refused one was processed: " + got);
      assertEquals(topics.behaviors.name(), replacement.getSourceTopic(), "names the input");
      assertEquals(0L, replacement.getOffset(), "names the input's offset");
      assertTrue(replacement.getReason().contains("exceeds the limit of 2048 bytes"), replacement.getReason());
      assertTrue(replacement.getOriginalSize() > big.length, "size of the refused dead letter: "
          + replacement.getOriginalSize());
      assertEquals(64, replacement.getOriginalSha256().length());
      assertEquals(0, replacement.getValue().remaining(), "none of the refused bytes");
      assertTrue(replacement.getTruncated());
      assertEquals(1L, next.getOffset());
      assertEquals(java.nio.ByteBuffer.wrap(small), next.getValue());

      await(() -> app.streams.state() == KafkaStreams.State.RUNNING, Duration.ofSeconds(30));
      assertNull(app.failure.get(), "the application was not shut down");
      await(() -> RefusedRecordHandler.counts(appId).deadLettered() == 1, Duration.ofSeconds(10));
      RefusedRecordHandler.Counts counts = RefusedRecordHandler.counts(appId);
      // the broker refused it once (that transaction aborted), then the guard refused it before sending
      assertTrue(counts.brokerRefusals() >= 1, counts.toString());
      assertEquals(1, counts.guardRefusals(), counts.toString());
      assertEquals(0, counts.dropped(), counts.toString());
    }
  }

  /**
   * A dead-letters topic so small (200 bytes: transaction markers still fit) that even the replacement is refused:
   * both records are dropped and counted, and the application moves past them.
   */
  @Test
  void whenTheReplacementIsRefusedTooTheRecordIsDroppedAndCounted(SharedKafka kafka) throws Exception {
    Topics topics = kafka.freshTopics("refused-twice", 1);
    limitRecordSize(kafka, topics.deadLetters.name(), 200);
    String appId = "refused-twice-it-" + System.nanoTime();
    try (Running app = start(kafka, topics, appId)) {
      produce(kafka, topics.behaviors.name(), List.of(randomBytes(20_000, 3), randomBytes(100, 4)));
      await(() -> RefusedRecordHandler.counts(appId).dropped() == 2, Duration.ofSeconds(90));
      RefusedRecordHandler.Counts counts = RefusedRecordHandler.counts(appId);
      assertTrue(counts.brokerRefusals() >= 1, counts.toString());
      assertEquals(2, counts.guardRefusals(), counts.toString());
      assertEquals(0, counts.deadLettered(), counts.toString());
      // both inputs are behind the application: its committed offset moved past them
      await(() -> committed(kafka, appId, new TopicPartition(topics.behaviors.name(), 0)) == 2,
          Duration.ofSeconds(30));
      await(() -> app.streams.state() == KafkaStreams.State.RUNNING, Duration.ofSeconds(30));
      assertNull(app.failure.get(), "the application was not shut down");
    }
  }

  private record Running(KafkaStreams streams, AtomicReference<Throwable> failure) implements AutoCloseable {
    @Override
    public void close() {
      streams.close(Duration.ofSeconds(30));
    }
  }

  private Running start(SharedKafka kafka, Topics topics, String appId) throws InterruptedException {
    IngestConfig config = IngestConfig.defaults().withAdapterPartitions(1);
    Properties overrides = new Properties();
    overrides.putAll(kafka.clientConfig().streams(appId));
    overrides.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    overrides.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100");
    overrides.putAll(RefusedRecordHandler.settings(topics, config.limits()));
    KafkaStreams streams = new KafkaStreams(IngestTopology.build(topics, config),
        IngestTopology.streamsConfig(appId, kafka.bootstrapServers(), overrides));
    AtomicReference<Throwable> failure = new AtomicReference<>();
    streams.setUncaughtExceptionHandler(e -> {
      if (RefusedRecordHandler.replaceThread(e)) {
        return StreamThreadExceptionResponse.REPLACE_THREAD; // as the application does (StreamsApplication)
      }
      failure.set(e);
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.start();
    await(() -> streams.state() == KafkaStreams.State.RUNNING, Duration.ofSeconds(60));
    return new Running(streams, failure);
  }

  private static void limitRecordSize(SharedKafka kafka, String topic, int bytes) throws Exception {
    try (Admin admin = Admin.create(kafka.clientConfig().admin())) {
      ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
      Map<ConfigResource, Collection<AlterConfigOp>> ops = Map.of(r, List.of(new AlterConfigOp(
          new ConfigEntry(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(bytes)), AlterConfigOp.OpType.SET)));
      admin.incrementalAlterConfigs(ops).all().get();
      await(() -> {
        try {
          return Integer.toString(bytes).equals(admin.describeConfigs(List.of(r)).all().get().get(r)
              .get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG).value());
        } catch (Exception e) {
          return false;
        }
      }, Duration.ofSeconds(30));
    }
  }

  private static void produce(SharedKafka kafka, String topic, List<byte[]> values) throws Exception {
    Properties p = new Properties();
    p.putAll(kafka.clientConfig().producer());
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      CheckedSends sends = new CheckedSends();
      for (int i = 0; i < values.size(); i++) {
        sends.send(producer, new ProducerRecord<>(topic, ("u" + i).getBytes(), values.get(i)));
      }
      sends.await();
    }
  }

  private static List<ConsumerRecord<String, byte[]>> readDeadLetters(SharedKafka kafka, Topics topics, int n,
      Duration timeout) {
    List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(kafka.clientConfig().consumer(null),
        new StringDeserializer(), new ByteArrayDeserializer())) {
      c.assign(List.of(new TopicPartition(topics.deadLetters.name(), 0)));
      c.seekToBeginning(c.assignment());
      long deadline = System.nanoTime() + timeout.toNanos();
      while (out.size() < n && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(out::add);
      }
      c.poll(Duration.ofMillis(500)).forEach(out::add); // nothing more
    }
    return out;
  }

  private static long committed(SharedKafka kafka, String group, TopicPartition tp) {
    try (Admin admin = Admin.create(kafka.clientConfig().admin())) {
      OffsetAndMetadata o = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp);
      return o == null ? -1 : o.offset();
    } catch (Exception e) {
      return -1;
    }
  }

  private static byte[] randomBytes(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static void await(BooleanSupplier condition, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within " + timeout);
      }
      Thread.sleep(50);
    }
  }
}
