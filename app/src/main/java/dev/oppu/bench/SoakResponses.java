package dev.oppu.bench;

import dev.oppu.broker.ClientConfig;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Tails a soak's responses topic (read_committed) from the start: which requests were answered, and how often. */
final class SoakResponses {
  private final BitSet answered = new BitSet();
  private final java.util.Map<Integer, Long> firstAnswerNanos = new java.util.HashMap<>();
  private final java.util.Map<Integer, Long> serverLatencyMs = new java.util.HashMap<>();
  final AtomicLong dups = new AtomicLong();
  final AtomicLong errors = new AtomicLong();
  final AtomicLong cold = new AtomicLong();
  final AtomicLong foreign = new AtomicLong();
  private final ClientConfig client;
  private final Topics topics;
  private volatile boolean running = true;
  private final Thread thread;
  private final CountDownLatch stopped = new CountDownLatch(1);
  private volatile Throwable failure;

  SoakResponses(ClientConfig client, Topics topics) {
    this.client = client;
    this.topics = topics;
    this.thread = new Thread(this::run, "soak-responses");
    thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** What stopped the reader before {@link #stop()}, or null: its counts are then incomplete. */
  Throwable failure() {
    return failure;
  }

  synchronized long answeredCount() {
    return answered.cardinality();
  }

  /**
   * The latency serving stamped on request {@code i}'s first answer ({@code latencyMs}: from the request's time to
   * the answer being made, before its transaction commits), or -1.
   */
  synchronized long serverLatencyMs(int i) {
    return serverLatencyMs.getOrDefault(i, -1L);
  }

  /** When request {@code i}'s first answer was read here ({@code System.nanoTime()}), or -1. */
  synchronized long answeredAtNanos(int i) {
    return firstAnswerNanos.getOrDefault(i, -1L);
  }

  private void run() {
    AvroSerde<Response> serde = (AvroSerde<Response>) topics.responses.valueSerde();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(client.consumer(null), new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      String topic = topics.responses.name();
      List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
          .map(pi -> new TopicPartition(topic, pi.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      while (running) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
          Response resp = serde.decode(r.value());
          String id = resp.getRequestId();
          int i = id.startsWith("r") ? SoakAudit.parseOr(id.substring(1), -1) : -1;
          if (i < 0) {
            foreign.incrementAndGet();
            continue;
          }
          if (resp.getError() != null) {
            errors.incrementAndGet();
          }
          if (resp.getCold()) {
            cold.incrementAndGet();
          }
          synchronized (this) {
            if (answered.get(i)) {
              dups.incrementAndGet();
            } else {
              answered.set(i);
              firstAnswerNanos.put(i, System.nanoTime());
              serverLatencyMs.put(i, resp.getLatencyMs());
            }
          }
        }
      }
    } catch (RuntimeException | Error e) {
      failure = e;
      System.out.println("the responses reader stopped: " + e);
    } finally {
      stopped.countDown();
    }
  }

  /** Reads what is left for a few seconds (a late duplicate would show up here), then stops. */
  void stop() throws InterruptedException {
    Thread.sleep(3000);
    running = false;
    stopped.await(30, TimeUnit.SECONDS);
  }
}
