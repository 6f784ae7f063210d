package dev.oppu.broker;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * Test support: sends whose results are checked. A burst sent with {@link #send} keeps its pipelining (nothing waits
 * per record); {@link #await} then waits for every acknowledgement and fails on the first send that failed, naming
 * it, instead of a test going on with records the broker never took.
 */
public final class CheckedSends {

  private record Sent(String what, Future<RecordMetadata> ack) {}

  private final List<Sent> sent = new ArrayList<>();

  /** Sends {@code record} with {@code producer}; its result is checked by {@link #await}. */
  public <K, V> CheckedSends send(Producer<K, V> producer, ProducerRecord<K, V> record) {
    sent.add(new Sent(record.topic() + " key " + record.key(), producer.send(record)));
    return this;
  }

  /** Waits for every send since the last call; throws on the first that failed or was not acknowledged in time. */
  public List<RecordMetadata> await(Duration timeout) {
    long giveUp = System.nanoTime() + timeout.toNanos();
    List<RecordMetadata> out = new ArrayList<>(sent.size());
    try {
      for (int i = 0; i < sent.size(); i++) {
        Sent s = sent.get(i);
        try {
          out.add(s.ack().get(Math.max(0, giveUp - System.nanoTime()), TimeUnit.NANOSECONDS));
        } catch (ExecutionException e) {
          throw new IllegalStateException("send " + (i + 1) + " of " + sent.size() + " (" + s.what() + ") failed: "
              + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
          throw new IllegalStateException("send " + (i + 1) + " of " + sent.size() + " (" + s.what()
              + ") not acknowledged within " + timeout.toMillis() + " ms", e);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for sends", e);
    } finally {
      sent.clear();
    }
    return out;
  }

  /** {@link #await(Duration)} with 60 s. */
  public List<RecordMetadata> await() {
    return await(Duration.ofSeconds(60));
  }
}
