package dev.oppu.system;

import dev.oppu.schemas.Topics;
import dev.oppu.serving.AdapterCache;
import dev.oppu.serving.GivenProfiles;
import dev.oppu.serving.ServingConfig;
import dev.oppu.serving.StreamsApp;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.RefusedRecordHandler;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;

/**
 * The Kafka Streams application of the system (ingestion + serving in one topology, {@link StreamsApp}) with its
 * loaded-adapter cache; made by {@link OppuSystem#streams}. Closing it closes the cache, not the serving models.
 */
public final class StreamsApplication implements AutoCloseable {
  private final KafkaStreams streams;
  private final AdapterCache cache;
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  private StreamsApplication(KafkaStreams streams, AdapterCache cache) {
    this.streams = streams;
    this.cache = cache;
  }

  static StreamsApplication of(Topics topics, IngestConfig ingest, ServingConfig serving, ServingModels served,
      GivenProfiles profiles, Properties config) {
    AdapterCache cache = new AdapterCache(serving.cacheMaxAdapters(), serving.cacheMaxBytes());
    KafkaStreams streams = OppuSystem.application(
        StreamsApp.topology(topics, ingest, serving, served.generator(), cache, profiles), config);
    return new StreamsApplication(streams, cache);
  }

  /** The running instance: state listener, interactive queries. */
  public KafkaStreams kafkaStreams() {
    return streams;
  }

  /**
   * Starts the application; a stream thread's uncaught error shuts it down (state ERROR) and is kept, except an
   * output refused by the broker that {@link RefusedRecordHandler} made recoverable: that thread is replaced, and the
   * output, produced again, becomes a dead letter.
   */
  public StreamsApplication start() {
    streams.setUncaughtExceptionHandler(e -> {
      if (RefusedRecordHandler.replaceThread(e)) {
        return StreamThreadExceptionResponse.REPLACE_THREAD;
      }
      failure.set(e);
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.start();
    return this;
  }

  /** Waits until the application runs; on an error or after {@code timeout} it is closed and this throws. */
  public StreamsApplication awaitRunning(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (streams.state() != KafkaStreams.State.RUNNING) {
      if (failure.get() != null || streams.state() == KafkaStreams.State.ERROR || System.nanoTime() > deadline) {
        streams.close(Duration.ofSeconds(10));
        throw new IllegalStateException("the streams application did not start: "
            + (failure.get() == null ? streams.state() : failure.get().getMessage()));
      }
      Thread.sleep(50);
    }
    return this;
  }

  /** The error that stopped a stream thread, or null. */
  public Throwable failure() {
    return failure.get();
  }

  public void close(Duration timeout) {
    streams.close(timeout);
    cache.close();
  }

  @Override
  public void close() {
    streams.close();
    cache.close();
  }
}
