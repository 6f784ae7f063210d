package dev.oppu.streams;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.StoreNames;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.metrics.Sensor;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.lucene.analysis.Analyzer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Behaviors (raw bytes, decoded here so failures can be routed) to history + BM25 index + train triggers. Bad input
 * becomes a dead letter; a duplicate event id is dropped and counted.
 */
final class BehaviorProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
  private static final Logger LOG = LoggerFactory.getLogger(BehaviorProcessor.class);

  private final AvroSerde<Behavior> serde;
  private final IngestConfig config;
  private Analyzer analyzer;
  private IngestStores stores;
  private KeyValueStore<Bytes, byte[]> dedup;
  private Sensor duplicates;
  private Sensor deadLetters;
  private Sensor triggersSent;
  private Cancellable reconcileOnce;
  // null when triggers are evaluated at each behavior (oppu.ingest.trigger-delay-ms 0)
  private TriggerDue due;

  BehaviorProcessor(AvroSerde<Behavior> serde, IngestConfig config) {
    this.serde = serde;
    this.config = config;
  }

  @Override
  public void init(ProcessorContext<String, SpecificRecord> context) {
    super.init(context);
    analyzer = config.newAnalyzer();
    dedup = context.getStateStore(StoreNames.DEDUP_STORE);
    stores = new IngestStores(context, config, analyzer, dedup);
    String task = context.taskId().toString();
    duplicates = IngestTopology.sensor(context, task, IngestTopology.METRIC_DUPLICATES);
    deadLetters = IngestTopology.sensor(context, task, IngestTopology.METRIC_DEAD_LETTERS);
    triggersSent = IngestTopology.sensor(context, task, IngestTopology.METRIC_TRIGGERS);
    // The stores are cached, and a cached store accepts writes only with a record context, which init() lacks:
    // reconcile in the first punctuation, or before the first record if that comes first.
    reconcileOnce = context.schedule(Duration.ofMillis(1), PunctuationType.WALL_CLOCK_TIME, now -> reconcile());
    if (!config.triggerDelay().isZero()) {
      due = new TriggerDue(context.getStateStore(StoreNames.TRIGGER_DUE_STORE), config.triggerDelay());
      context.schedule(due.interval(), PunctuationType.WALL_CLOCK_TIME, this::evaluateDue);
    }
  }

  /** Evaluates the triggers of every (user, task) whose behaviors paused for the trigger delay. */
  private void evaluateDue(long now) {
    reconcile();
    for (TriggerDue.Due d : due.takeDue(now)) {
      evaluate(d.userId(), d.task(), now);
    }
  }

  private void evaluate(String userId, Task task, long time) {
    for (String variant : config.variants()) {
      stores.triggers.evaluate(userId, task, variant, time).ifPresent(t -> {
        triggersSent.record();
        context().forward(new Record<>(userId, t, time));
      });
    }
  }

  private void reconcile() {
    if (reconcileOnce == null) {
      return;
    }
    reconcileOnce.cancel();
    reconcileOnce = null;
    int rebuilt = stores.index.reconcile();
    if (rebuilt > 0) {
      LOG.info("task {}: rebuilt the BM25 index of {} (user, task) histories from the logged history",
          context().taskId(), rebuilt);
    }
  }

  @Override
  public void process(Record<byte[], byte[]> rec) {
    reconcile();
    if (rec.value() == null) {
      dead(rec, "null value (tombstone) on the behaviors topic");
      return;
    }
    Behavior b;
    try {
      b = serde.decode(rec.value());
    } catch (SerializationException e) {
      dead(rec, "undecodable or wrong schema: " + e.getMessage());
      return;
    }
    Task task;
    TextAnalysis.Analyzed indexed;
    try {
      task = validate(b, rec.key());
      indexed = TextAnalysis.analyze(analyzer, b.getFields().get(task.inputField()));
      if (indexed.terms().isEmpty()) {
        throw new LampInputException("field '" + task.inputField() + "' has no indexable terms");
      }
    } catch (LampInputException e) {
      dead(rec, e.getMessage(), owner(b, rec.key()));
      return;
    }
    if (isDuplicate(b.getUserId(), b.getEventId(), rec.timestamp())) {
      duplicates.record();
      return;
    }
    HistoryItem.Builder item = HistoryItem.newBuilder()
        .setEventId(b.getEventId()).setItemId(b.getItemId()).setEventTime(b.getEventTime())
        .setArrivalTime(Instant.ofEpochMilli(rec.timestamp())).setFields(b.getFields());
    stores.index.append(task, b.getUserId(), item, indexed);
    if (due == null) {
      evaluate(b.getUserId(), task, rec.timestamp());
    } else {
      due.mark(b.getUserId(), task, context().currentSystemTimeMs());
    }
  }

  private Task validate(Behavior b, byte[] key) {
    if (blank(b.getEventId())) {
      throw new LampInputException("missing or empty field eventId");
    }
    if (blank(b.getUserId())) {
      throw new LampInputException("missing or empty field userId");
    }
    if (blank(b.getTask())) {
      throw new LampInputException("missing or empty field task");
    }
    if (b.getUserId().indexOf('\u0000') >= 0 || b.getTask().indexOf('\u0000') >= 0) {
      throw new LampInputException("userId or task contains a NUL character");
    }
    InputLimits limits = config.limits();
    for (String problem : new String[] {limits.idProblem("userId", b.getUserId()),
        limits.idProblem("eventId", b.getEventId()), limits.idProblem("itemId", b.getItemId())}) {
      if (problem != null) {
        throw new LampInputException(problem);
      }
    }
    if (key == null || !b.getUserId().equals(new String(key, StandardCharsets.UTF_8))) {
      throw new LampInputException("record key is not the behavior's userId (behaviors must be keyed by user)");
    }
    Task task = Task.of(b.getTask());
    if (b.getEventTime() == null || b.getEventTime().toEpochMilli() < 0) {
      throw new LampInputException("eventTime out of range: " + b.getEventTime());
    }
    if (b.getEventId().length() > config.maxFieldChars()
        || (b.getItemId() != null && b.getItemId().length() > config.maxFieldChars())) {
      throw new LampInputException("oversize eventId or itemId (max " + config.maxFieldChars() + " chars)");
    }
    for (Map.Entry<String, String> f : b.getFields().entrySet()) {
      if (f.getKey().length() > config.maxFieldChars() || f.getValue().length() > config.maxFieldChars()) {
        throw new LampInputException("oversize field '" + abbreviate(f.getKey()) + "': " + f.getValue().length()
            + " chars (max " + config.maxFieldChars() + ")");
      }
    }
    task.validateItem(b.getFields());
    return task;
  }

  private boolean isDuplicate(String userId, String eventId, long ts) {
    Bytes key = Keys.dedup(userId, eventId);
    byte[] seen = dedup.get(key);
    if (seen != null && Math.abs(ts - ByteBuffer.wrap(seen).getLong()) <= config.dedupRetention().toMillis()) {
      return true;
    }
    dedup.put(key, ByteBuffer.allocate(8).putLong(ts).array());
    return false;
  }

  private void dead(Record<byte[], byte[]> rec, String reason) {
    dead(rec, reason, rec.key() == null ? null : new String(rec.key(), StandardCharsets.UTF_8));
  }

  private void dead(Record<byte[], byte[]> rec, String reason, String owner) {
    deadLetters.record();
    context().forward(DeadLetters.of(context(), config.limits(), rec, reason, owner));
  }

  /** Whose data a refused behavior is: its userId when it has one, else whoever the record key names. */
  private static String owner(Behavior b, byte[] key) {
    if (!blank(b.getUserId()) && b.getUserId().indexOf('\u0000') < 0) {
      return b.getUserId();
    }
    return key == null ? null : new String(key, StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    context().metrics().removeSensor(duplicates);
    context().metrics().removeSensor(deadLetters);
    context().metrics().removeSensor(triggersSent);
    analyzer.close();
  }

  private static boolean blank(String s) {
    return s == null || s.isBlank();
  }

  private static String abbreviate(String s) {
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }
}
