package dev.oppu.streams;

import dev.oppu.lamp.LampInputException;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.UserAction;
import dev.oppu.schemas.UserCommand;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.BytesSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.lucene.analysis.Analyzer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * User commands (keyed by user, co-partitioned with behaviors). DELETE removes every key of the user from every
 * ingestion store (history, history meta, index postings and statistics, train state, dedup); the deletes reach the
 * logged stores' changelogs as tombstones when the transaction commits. It forwards a tombstone for every adapter key
 * the user could have ({@code user|task|variant} for all tasks and variants: an adapter still on its way through the
 * repartition is covered too), fences the user's pending trainings (see {@link UserDeletions}), and forwards the
 * command itself so serving can drop the user's pending requests, adapters and caches in the same task.
 */
final class UserCommandProcessor extends ContextualProcessor<byte[], byte[], String, SpecificRecord> {
  private static final Logger LOG = LoggerFactory.getLogger(UserCommandProcessor.class);
  private static final BytesSerializer BYTES = new BytesSerializer();
  /** Every variant the trainer knows (SPEC section 2), whatever this application triggers. */
  static final List<String> ALL_VARIANTS = List.of("plain", "rag", "pag");

  private final AvroSerde<UserCommand> serde;
  private final IngestConfig config;
  private Analyzer analyzer;
  private IngestStores stores;
  private KeyValueStore<Bytes, byte[]> dedup;

  UserCommandProcessor(AvroSerde<UserCommand> serde, IngestConfig config) {
    this.serde = serde;
    this.config = config;
  }

  @Override
  public void init(ProcessorContext<String, SpecificRecord> context) {
    super.init(context);
    analyzer = config.newAnalyzer();
    dedup = context.getStateStore(StoreNames.DEDUP_STORE);
    stores = new IngestStores(context, config, analyzer, dedup);
    long every = Math.max(1_000, Math.min(60_000, config.deletionFence().toMillis() / 10));
    context.schedule(Duration.ofMillis(every), PunctuationType.WALL_CLOCK_TIME, this::expireFences);
  }

  @Override
  public void process(Record<byte[], byte[]> rec) {
    UserCommand cmd;
    try {
      if (rec.value() == null) {
        throw new LampInputException("null value (tombstone) on the user-commands topic");
      }
      cmd = serde.decode(rec.value());
      String user = cmd.getUserId();
      if (user == null || user.isBlank()) {
        throw new LampInputException("missing or empty field userId");
      }
      if (user.indexOf('\u0000') >= 0) {
        throw new LampInputException("userId contains a NUL character");
      }
      String tooLong = config.limits().idProblem("userId", user);
      if (tooLong != null) {
        throw new LampInputException(tooLong);
      }
      if (rec.key() == null || !user.equals(new String(rec.key(), StandardCharsets.UTF_8))) {
        throw new LampInputException("record key is not the command's userId (user commands must be keyed by user)");
      }
    } catch (SerializationException | LampInputException e) {
      context().forward(DeadLetters.of(context(), config.limits(), rec, "user command: " + e.getMessage()));
      return;
    }
    if (cmd.getAction() == UserAction.DELETE) {
      delete(cmd, rec.timestamp());
    }
    context().forward(new Record<>(cmd.getUserId(), cmd, rec.timestamp()));
  }

  private void delete(UserCommand cmd, long ts) {
    String user = cmd.getUserId();
    Bytes userPrefix = Bytes.wrap((user + '\u0000').getBytes(StandardCharsets.UTF_8));
    int keys = 0;
    keys += deleteAll(stores.history, userPrefix);
    keys += deleteAll(stores.meta, userPrefix);
    keys += deleteAll(stores.postings, userPrefix);
    keys += deleteAll(stores.stats, userPrefix);
    keys += deleteAll(dedup, userPrefix);
    // Train state: its pending triggers are trainings that may still publish; fence them.
    UserDeletions.Marker old = UserDeletions.marker(stores.deletions, user);
    Map<String, UserDeletions.Fence> fenced = new LinkedHashMap<>(old == null ? Map.of() : old.fenced());
    List<KeyValue<Bytes, byte[]>> states = scan(stores.trainState, userPrefix);
    for (KeyValue<Bytes, byte[]> kv : states) {
      TrainState st = TrainState.decode(kv.value);
      if (st.pendingTriggerId() != null) {
        fenced.putIfAbsent(st.pendingTriggerId(), new UserDeletions.Fence(st.version(), false, false, false));
      }
      stores.trainState.delete(kv.key);
    }
    keys += states.size();
    UserDeletions.save(stores.deletions, user, new UserDeletions.Marker(ts, fenced));
    Set<String> variants = new LinkedHashSet<>(ALL_VARIANTS);
    variants.addAll(config.variants());
    for (Task task : Task.values()) {
      for (String variant : variants) {
        context().forward(new Record<>(user, AdapterProcessors.deletedMarker(user, task.id(), variant), ts));
      }
    }
    LOG.info("user deleted by command {} requested by {}: {} store keys removed in task {}, {} training(s) fenced",
        printable(cmd.getCommandId()), cmd.getRequestedBy() == null ? "(not recorded)" : printable(cmd.getRequestedBy()),
        keys, context().taskId(), fenced.size());
  }

  private static int deleteAll(KeyValueStore<Bytes, byte[]> store, Bytes prefix) {
    List<KeyValue<Bytes, byte[]>> found = scan(store, prefix);
    for (KeyValue<Bytes, byte[]> kv : found) {
      store.delete(kv.key);
    }
    return found.size();
  }

  private static List<KeyValue<Bytes, byte[]>> scan(KeyValueStore<Bytes, byte[]> store, Bytes prefix) {
    List<KeyValue<Bytes, byte[]>> out = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> it = store.prefixScan(prefix, BYTES)) {
      it.forEachRemaining(out::add);
    }
    return out;
  }

  /** Ends fences older than the configured bound (a fenced trigger whose answer never came, e.g. dead-lettered). */
  private void expireFences(long now) {
    List<Bytes> expired = new ArrayList<>();
    try (KeyValueIterator<Bytes, byte[]> it = stores.deletions.all()) {
      while (it.hasNext()) {
        KeyValue<Bytes, byte[]> kv = it.next();
        if (now - UserDeletions.Marker.decode(kv.value).deletedAt() > config.deletionFence().toMillis()) {
          expired.add(kv.key);
        }
      }
    }
    for (Bytes k : expired) {
      stores.deletions.delete(k);
    }
  }

  @Override
  public void close() {
    analyzer.close();
  }

  /** A command's free-text field as one bounded log-safe line (control characters replaced). */
  static String printable(String s) {
    String cut = s.length() > 200 ? s.substring(0, 200) + "..." : s;
    return cut.replaceAll("\\p{Cntrl}", "?");
  }
}
