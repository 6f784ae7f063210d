package dev.oppu.streams;

import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.InvalidRecordException;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.RecordBatchTooLargeException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.DefaultProductionExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.apache.kafka.streams.errors.ProductionExceptionHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The application's {@code production.exception.handler}: an output record refused for its size (or otherwise
 * invalid) no longer stops the application, which would re-read the same input after every restart and be refused
 * again. The refusal is logged (topic, key, size, reason) and counted ({@link #counts}), and the record is replaced by
 * a small dead letter on the dead-letters topic: the input's topic, partition and offset, the reason, the refused
 * record's key, and its value's size and SHA-256 but none of its bytes. If that dead letter cannot be written either,
 * the record is dropped and counted. Any other production error is left to Kafka Streams' default handler.
 *
 * <p>Where the refusal happens matters under exactly-once (Kafka 4.1):
 * <ul>
 *   <li>Refused at serialization by {@link OutputSizeGuard} (dead letters and responses over
 *       {@code oppu.output.max.record.bytes}): the record never reaches the producer, the transaction is intact, the
 *       handler answers CONTINUE and the task goes on with the next record.</li>
 *   <li>Refused by the producer or the broker: the transactional producer is then in an error state whatever the
 *       handler answers, the commit fails and the stream thread dies. The handler makes the guard learn the topic's
 *       smaller limit; {@link #replaceThread} tells the application's uncaught-exception handler to replace the thread;
 *       the input is processed again and its output is now refused at serialization, as above. For a topic without the
 *       guard, or whose limit the broker does not tell, the dead letter is written at once and no replacement is
 *       asked (nothing would change on the retry).
 *       Under at-least-once the handler's CONTINUE drops the record and the dead letter is written at once.</li>
 * </ul>
 *
 * <p>Kafka Streams 4.1 has no dead-letter queue of its own (KIP-1034, {@code errors.dead.letter.queue.topic.name},
 * comes with 4.2) and a handler cannot write through the task's producer, so the dead letter goes through a producer
 * of this class: idempotent but <em>not</em> transactional. The trade-off: it is written at least once, outside the
 * task's transaction; if that transaction aborts later for another reason and the input is processed again, a second
 * dead letter may be written for it. Losing the refusal silently would be worse. The producer is created on the first
 * refusal and shared by the application's handlers; its threads are daemons and it lives until the JVM exits (the
 * handler interface has no close).
 *
 * <p>Settings (in the Streams properties, see {@link #settings}): {@code oppu.topic.dead-letters} (the dead-letters
 * topic, default {@code oppu.dead-letters}) and {@link InputLimits#MAX_ID_LENGTH} for the dead letter's key.
 */
public final class RefusedRecordHandler implements ProductionExceptionHandler {
  private static final Logger LOG = LoggerFactory.getLogger(RefusedRecordHandler.class);

  /** Where the dead letters of refused records go. */
  public static final String DEAD_LETTERS_TOPIC = Topics.PREFIX + "dead-letters";

  /**
   * What happened to refused records of one application: refused by the producer or broker, refused at serialization
   * by {@link OutputSizeGuard}, replaced by a dead letter, dropped (the dead letter was refused too).
   */
  public record Counts(long brokerRefusals, long guardRefusals, long deadLettered, long dropped) {}

  private static final class Counters {
    final AtomicLong brokerRefusals = new AtomicLong();
    final AtomicLong guardRefusals = new AtomicLong();
    final AtomicLong deadLettered = new AtomicLong();
    final AtomicLong dropped = new AtomicLong();
  }

  private static final Map<String, Counters> COUNTERS = new ConcurrentHashMap<>();
  private static final Map<String, Sidecar> SIDECARS = new ConcurrentHashMap<>();
  private static final AvroSerde<DeadLetter> DEAD_LETTER_SERDE = new AvroSerde<>(DeadLetter.class);
  /** Broker refusals on guarded topics under exactly-once whose thread may be replaced (each allows one). */
  private static final AtomicInteger RETRIES = new AtomicInteger();

  private final DefaultProductionExceptionHandler fallback = new DefaultProductionExceptionHandler();
  private String applicationId = "";
  private boolean exactlyOnce = true;
  private String deadLetterTopic = Topics.defaults().deadLetters.name();
  private InputLimits limits = InputLimits.defaults();
  private Map<String, Object> producerConfig = Map.of();
  private Map<String, Object> adminConfig = Map.of();

  /** The Streams properties this handler needs: itself, the dead-letters topic, the limits. */
  public static Properties settings(Topics topics, InputLimits limits) {
    Properties p = new Properties();
    p.put(StreamsConfig.PRODUCTION_EXCEPTION_HANDLER_CLASS_CONFIG, RefusedRecordHandler.class.getName());
    p.put(DEAD_LETTERS_TOPIC, topics.deadLetters.name());
    p.putAll(limits.toProperties());
    return p;
  }

  /** The refusals of application {@code applicationId} so far in this JVM. */
  public static Counts counts(String applicationId) {
    Counters c = COUNTERS.get(applicationId);
    return c == null ? new Counts(0, 0, 0, 0)
        : new Counts(c.brokerRefusals.get(), c.guardRefusals.get(), c.deadLettered.get(), c.dropped.get());
  }

  /**
   * For a {@code StreamsUncaughtExceptionHandler}: whether the stream thread died of a refusal this handler has made
   * recoverable (the guard now refuses the same output at serialization), so replacing the thread lets the task
   * continue. Each such refusal allows one replacement: a refusal that repeats stops the application.
   */
  public static boolean replaceThread(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof Exception e && refusedByBroker(e)) {
        return RETRIES.getAndUpdate(n -> Math.max(0, n - 1)) > 0;
      }
    }
    return false;
  }

  @Override
  public void configure(Map<String, ?> configs) {
    fallback.configure(configs);
    Object app = configs.get(StreamsConfig.APPLICATION_ID_CONFIG);
    applicationId = app == null ? "" : app.toString();
    Object guarantee = configs.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG);
    exactlyOnce = guarantee != null && guarantee.toString().startsWith("exactly_once");
    Object topic = configs.get(DEAD_LETTERS_TOPIC);
    if (topic != null) {
      deadLetterTopic = topic.toString();
    }
    limits = InputLimits.from(configs);
    // The application's own client settings (bootstrap, security, sizes), then its producer. overrides.
    Map<String, Object> p = new HashMap<>();
    for (Map.Entry<String, ?> e : configs.entrySet()) {
      if (ProducerConfig.configNames().contains(e.getKey())) {
        p.put(e.getKey(), e.getValue());
      }
    }
    for (Map.Entry<String, ?> e : configs.entrySet()) {
      String k = e.getKey();
      if (k.startsWith(StreamsConfig.PRODUCER_PREFIX)
          && ProducerConfig.configNames().contains(k.substring(StreamsConfig.PRODUCER_PREFIX.length()))) {
        p.put(k.substring(StreamsConfig.PRODUCER_PREFIX.length()), e.getValue());
      }
    }
    p.remove(ProducerConfig.TRANSACTIONAL_ID_CONFIG);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, applicationId + "-refused-records");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "60000");
    p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "30000");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
    producerConfig = Map.copyOf(p);
    Map<String, Object> a = new HashMap<>();
    for (Map.Entry<String, ?> e : configs.entrySet()) {
      if (AdminClientConfig.configNames().contains(e.getKey())) {
        a.put(e.getKey(), e.getValue());
      }
    }
    a.put(AdminClientConfig.CLIENT_ID_CONFIG, applicationId + "-refused-records-admin");
    adminConfig = Map.copyOf(a);
  }

  /** Refused by the producer or the broker. */
  @Override
  public ProductionExceptionHandlerResponse handle(ErrorHandlerContext context, ProducerRecord<byte[], byte[]> record,
      Exception exception) {
    if (!refusedByBroker(exception)) {
      return fallback.handle(context, record, exception);
    }
    Counters counters = counters();
    counters.brokerRefusals.incrementAndGet();
    int size = record.value() == null ? 0 : record.value().length;
    // The broker may refuse a whole batch for one record in it: learn the topic's limit, not this record's size.
    boolean retried = exactlyOnce && OutputSizeGuard.isGuarded(record.topic())
        && sidecar().learnLimit(record.topic());
    // Refused with a larger record of its batch: on the retry it passes (no dead letter, no replacement of its own).
    boolean innocent = retried && !OutputSizeGuard.refuses(record.topic(), size);
    LOG.error("record refused: topic {}, key {}, {} bytes, input {}-{}@{}, reason {}; {}", record.topic(),
        InputLimits.clip(utf8(record.key()), 80), size, context.topic(), context.partition(), context.offset(),
        exception.toString(), retried ? "the transaction aborts; processed again, it is refused at serialization"
            + " and dead-lettered" : "replaced by a dead letter");
    if (retried) {
      if (!innocent) {
        RETRIES.incrementAndGet();
      }
    } else {
      deadLetter(context, record.topic(), record.key(), record.value(), exception, record.timestamp(), counters);
    }
    return ProductionExceptionHandlerResponse.CONTINUE;
  }

  /** Refused at serialization: by {@link OutputSizeGuard}, or another serialization error (left to the default). */
  @Override
  @SuppressWarnings("rawtypes")
  public ProductionExceptionHandlerResponse handleSerializationException(ErrorHandlerContext context,
      ProducerRecord record, Exception exception, SerializationExceptionOrigin origin) {
    if (!(exception instanceof OutputSizeGuard.OversizeValueException oversize)) {
      return ProductionExceptionHandler.super.handleSerializationException(context, record, exception, origin);
    }
    Counters counters = counters();
    counters.guardRefusals.incrementAndGet();
    Object k = record.key();
    byte[] key = k instanceof byte[] b ? b : k == null ? null : k.toString().getBytes(StandardCharsets.UTF_8);
    LOG.error("record refused before sending: topic {}, key {}, input {}-{}@{}, reason {}; replaced by a dead letter",
        record.topic(), InputLimits.clip(utf8(key), 80), context.topic(), context.partition(), context.offset(),
        exception.getMessage());
    deadLetter(context, record.topic(), key, oversize.value(), exception, record.timestamp(), counters);
    return ProductionExceptionHandlerResponse.CONTINUE;
  }

  private Counters counters() {
    return COUNTERS.computeIfAbsent(applicationId, k -> new Counters());
  }

  private void deadLetter(ErrorHandlerContext context, String refusedTopic, byte[] key, byte[] value,
      Exception exception, Long timestamp, Counters counters) {
    String reason = "output to " + refusedTopic + " refused (" + (value == null ? 0 : value.length) + " bytes): "
        + exception;
    // None of the value bytes: they are what was refused. The input that produced them is named instead.
    DeadLetter dl = limits.deadLetter(context.topic(), context.partition(), context.offset(), key, value, reason,
        Instant.ofEpochMilli(timestamp == null ? context.timestamp() : timestamp), 0);
    byte[] dlKey = limits.owner(utf8(key)) == null ? null : key;
    sidecar().send(new ProducerRecord<>(deadLetterTopic, dlKey, DEAD_LETTER_SERDE.encode(dl)), counters, refusedTopic);
  }

  private Sidecar sidecar() {
    return SIDECARS.computeIfAbsent(applicationId, k -> new Sidecar(producerConfig, adminConfig));
  }

  private static String utf8(byte[] b) {
    return b == null ? null : new String(b, StandardCharsets.UTF_8);
  }

  /** Errors about the record itself, which the same record would meet again on every retry. */
  static boolean refusedByBroker(Exception e) {
    return e instanceof RecordTooLargeException || e instanceof RecordBatchTooLargeException
        || e instanceof InvalidRecordException;
  }

  /**
   * The handler's own producer and admin client. The producer is used from a thread of its own: the handler may be
   * called on the task producer's network thread, which must not block on another producer's metadata.
   */
  private static final class Sidecar {
    private final Map<String, Object> config;
    private final Map<String, Object> adminConfig;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "oppu-refused-records");
      t.setDaemon(true);
      return t;
    });
    private Producer<byte[], byte[]> producer;
    private Admin admin;

    Sidecar(Map<String, Object> config, Map<String, Object> adminConfig) {
      this.config = config;
      this.adminConfig = adminConfig;
    }

    /**
     * Asks the broker for {@code topic}'s {@code max.message.bytes} and lowers the guard's limit to it; false when
     * the broker does not say (then nothing changes for the retry, and none is asked). Blocks up to 10 s: the
     * transaction is lost anyway, and the limit must be known before the input is processed again.
     */
    synchronized boolean learnLimit(String topic) {
      try {
        if (admin == null) {
          admin = Admin.create(adminConfig);
        }
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        ConfigEntry e = admin.describeConfigs(List.of(r)).all().get(10, TimeUnit.SECONDS).get(r)
            .get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG);
        if (e == null || e.value() == null) {
          return false;
        }
        OutputSizeGuard.learn(topic, Integer.parseInt(e.value()));
        return true;
      } catch (Exception e) {
        LOG.warn("cannot read max.message.bytes of {}: {}", topic, e.toString());
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        return false;
      }
    }

    /**
     * Sends one dead letter at a time and waits for it: a batch of several records the broker refuses is split and
     * retried by the producer, which can loop; a batch of one fails at once.
     */
    void send(ProducerRecord<byte[], byte[]> dl, Counters counters, String refusedTopic) {
      thread.execute(() -> {
        try {
          if (producer == null) {
            producer = new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
          }
          producer.send(dl).get();
          counters.deadLettered.incrementAndGet();
        } catch (ExecutionException e) {
          dropped(counters, refusedTopic, e.getCause() instanceof Exception c ? c : e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          dropped(counters, refusedTopic, e);
        } catch (RuntimeException e) {
          dropped(counters, refusedTopic, e);
        }
      });
    }

    private static void dropped(Counters counters, String refusedTopic, Exception e) {
      counters.dropped.incrementAndGet();
      LOG.error("the dead letter of a record refused on {} could not be written either: the record is dropped ({})",
          refusedTopic, e.toString());
    }
  }
}
