package dev.oppu.serving;

import dev.oppu.lamp.Task;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.UserAction;
import dev.oppu.schemas.UserCommand;
import org.apache.kafka.common.serialization.StringSerializer;
import dev.oppu.serving.BatchGenerator.Fingerprint;
import dev.oppu.serving.BatchGenerator.Row;
import dev.oppu.serving.RequestValidator.Validated;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers requests in mixed-adapter micro-batches. A valid request is written to the logged pending store; when
 * {@code maxBatch} requests wait, or every {@code maxWaitMs} of wall-clock time, waiting requests are decoded together
 * (each row with its user's adapter), answered, and deleted from the store. Under exactly_once_v2 the store's changelog
 * and the responses commit in one transaction, so a request waiting in a batch survives a hard kill and is answered
 * exactly once after the restart. Bad requests get an error response and a dead letter carrying their own bytes.
 * A {@link UserCommand} (delete) arriving among the requests drops the user's waiting requests (each answered with an
 * error), the user's adapters in the local store and the loaded-adapter cache, and what the reader caches about them.
 *
 * <p>Outputs are {@link Response} and {@link DeadLetter} records; the topology routes them to their topics.
 */
final class RequestProcessor implements Processor<String, Object, String, SpecificRecord> {
  private static final Logger LOG = LoggerFactory.getLogger(RequestProcessor.class);

  private final ServingConfig config;
  private final BatchGenerator generator;
  private final AdapterCache cache;
  private final UserData.Source userDataSource;
  private final RequestValidator validator;
  private final PromptAssembler assembler;
  private final AvroSerde<Request> requestSerde = new AvroSerde<>(Request.class);
  /** The wall clock deadlines and latencies are read from ({@link Clock#systemUTC()} outside tests). */
  private final Clock clock;

  private ProcessorContext<String, SpecificRecord> context;
  private KeyValueStore<String, Request> pending;
  private KeyValueStore<String, AdapterVersion> adapters;
  private UserData userData;
  private int pendingCount;
  /** Arrival (stream time of the context's wall clock) of each pending request, in store (arrival) order. */
  private final java.util.ArrayDeque<Long> arrivals = new java.util.ArrayDeque<>();

  RequestProcessor(ServingConfig config, BatchGenerator generator, AdapterCache cache, UserData.Source userData,
      Clock clock) {
    this.config = config;
    this.clock = Objects.requireNonNull(clock, "clock");
    this.generator = generator;
    this.cache = cache;
    this.userDataSource = userData;
    this.validator = new RequestValidator(config);
    this.assembler = new PromptAssembler(config.retrievedWords());
  }

  @Override
  public void init(ProcessorContext<String, SpecificRecord> context) {
    this.context = context;
    this.pending = context.getStateStore(StoreNames.PENDING_STORE);
    this.adapters = context.getStateStore(StoreNames.ADAPTER_STORE);
    this.userData = userDataSource.open(context);
    // requests restored from the changelog after a crash are counted and answered by the first punctuation
    try (KeyValueIterator<String, Request> it = pending.all()) {
      while (it.hasNext()) {
        it.next();
        pendingCount++;
        arrivals.addLast(context.currentSystemTimeMs());
      }
    }
    // A batch closes when its oldest request has waited maxWait (not on a fixed beat, which would cut a batch short
    // for requests that just arrived); checked a few times per maxWait.
    long beat = Math.max(1, config.maxWaitMs() / 4);
    context.schedule(Duration.ofMillis(beat), PunctuationType.WALL_CLOCK_TIME, t -> {
      Long oldest = arrivals.peekFirst();
      if (oldest != null && t - oldest >= config.maxWaitMs()) {
        drain(true);
      }
    });
  }

  @Override
  public void process(org.apache.kafka.streams.processor.api.Record<String, Object> in) {
    if (in.value() instanceof UserCommand cmd) {
      if (cmd.getAction() == UserAction.DELETE) {
        forget(cmd.getUserId());
      }
      return;
    }
    onRequest(in.withValue((byte[]) in.value()));
  }

  /** A deleted user: nothing of theirs stays in this processor's stores or caches. */
  private void forget(String userId) {
    long now = now();
    List<String> keys = new ArrayList<>();
    List<Long> kept = new ArrayList<>();
    List<Long> arrived = new ArrayList<>(arrivals);
    int i = 0;
    try (KeyValueIterator<String, Request> it = pending.all()) {
      while (it.hasNext()) {
        KeyValue<String, Request> kv = it.next();
        if (userId.equals(kv.value.getUserId())) {
          keys.add(kv.key);
          forward(error(kv.value, "the user's data was deleted before this request was answered", now));
        } else if (i < arrived.size()) {
          kept.add(arrived.get(i));
        }
        i++;
      }
    }
    for (String k : keys) {
      pending.delete(k);
    }
    pendingCount -= keys.size();
    arrivals.clear();
    arrivals.addAll(kept);
    List<String> adapterKeys = new ArrayList<>();
    try (KeyValueIterator<String, AdapterVersion> it = adapters.prefixScan(userId + "|", new StringSerializer())) {
      while (it.hasNext()) {
        String k = it.next().key;
        if (userId.equals(Topics.userOfAdapterKey(k))) { // not a user whose id merely starts with "userId|"
          adapterKeys.add(k);
        }
      }
    }
    for (String k : adapterKeys) {
      adapters.delete(k);
      cache.invalidate(k);
    }
    userData.forget(userId);
    LOG.info("user deleted: {} waiting request(s) answered with an error, {} adapter(s) dropped", keys.size(),
        adapterKeys.size());
  }

  private void onRequest(org.apache.kafka.streams.processor.api.Record<String, byte[]> record) {
    RecordMetadata meta = context.recordMetadata().orElse(null);
    Request request;
    try {
      if (record.value() == null) {
        throw new SerializationException("null value");
      }
      request = requestSerde.decode(record.value());
    } catch (SerializationException e) {
      deadLetter(record, meta, "undecodable request: " + e.getMessage(), record.key());
      return;
    }
    Validated v;
    try {
      v = validator.validate(record.key(), request);
    } catch (BadRequestException e) {
      // No error response for oversize ids: it would carry them (and be keyed by one); the dead letter says why.
      if (validator.idsFit(request)) {
        forward(error(request, e.getMessage(), now()));
      }
      // keyed by the user whose request it is, even when the record key names someone else
      deadLetter(record, meta, "bad request: " + e.getMessage(), request.getUserId());
      return;
    }
    long now = now();
    if (pastDeadline(request, now)) {
      forward(error(request, deadlineReason(request, now), now));
      return;
    }
    // the partition offset orders the store by arrival (FIFO) and is unique within the task
    long offset = meta == null ? now : meta.offset();
    pending.put(String.format("%020d", offset), request);
    pendingCount++;
    arrivals.addLast(context.currentSystemTimeMs());
    LOG.debug("request {} of user {} waits ({} pending, mode {})", request.getRequestId(), request.getUserId(),
        pendingCount, v.mode());
    if (pendingCount >= config.maxBatch()) {
      drain(false);
    }
  }

  /** Serves full batches (or, with {@code all}, everything waiting, in batches of at most maxBatch). */
  private void drain(boolean all) {
    while (pendingCount > 0 && (all || pendingCount >= config.maxBatch())) {
      List<KeyValue<String, Request>> batch = new ArrayList<>(config.maxBatch());
      try (KeyValueIterator<String, Request> it = pending.all()) {
        while (it.hasNext() && batch.size() < config.maxBatch()) {
          batch.add(it.next());
        }
      }
      if (batch.isEmpty()) {
        pendingCount = 0;
        arrivals.clear();
        return;
      }
      Long oldest = arrivals.peekFirst();
      serve(batch, oldest == null ? -1 : context.currentSystemTimeMs() - oldest);
      for (KeyValue<String, Request> kv : batch) {
        pending.delete(kv.key);
      }
      pendingCount -= batch.size();
      for (int i = 0; i < batch.size() && !arrivals.isEmpty(); i++) {
        arrivals.pollFirst();
      }
    }
  }

  /** One row being answered and what its response must say. */
  private static final class Job {
    final Request request;
    final Validated validated;
    final PromptAssembler.Assembled assembled;
    final AdapterCache.Lease lease;
    final boolean cold;

    Job(Request request, Validated validated, PromptAssembler.Assembled assembled, AdapterCache.Lease lease,
        boolean cold) {
      this.request = request;
      this.validated = validated;
      this.assembled = assembled;
      this.lease = lease;
      this.cold = cold;
    }
  }

  /** Answers a batch; {@code waitedMs}: how long its oldest request waited for the batch (for the timing log). */
  private void serve(List<KeyValue<String, Request>> batch, long waitedMs) {
    long now = now();
    long t0 = System.nanoTime();
    List<Job> jobs = new ArrayList<>();
    List<Row> rows = new ArrayList<>();
    try {
      for (KeyValue<String, Request> kv : batch) {
        Request r = kv.value;
        Validated v;
        try {
          v = validator.validate(r.getUserId(), r);
        } catch (BadRequestException e) { // configuration changed while it waited
          forward(error(r, e.getMessage(), now));
          continue;
        }
        if (pastDeadline(r, now)) {
          forward(error(r, deadlineReason(r, now), now));
          continue;
        }
        Fingerprint running;
        try {
          running = generator.fingerprint(v.task());
        } catch (RuntimeException e) {
          LOG.error("task model of {} unavailable", v.task().id(), e);
          forward(error(r, "task model of " + v.task().id() + " unavailable: " + e.getMessage(), now));
          continue;
        }
        if (running == null) {
          forward(error(r, "this server has no task model for " + v.task().id(), now));
          continue;
        }
        PromptAssembler.Assembled a = assembler.assemble(r.getUserId(), v, userData);
        AdapterCache.Lease lease = v.mode().usesAdapter() ? adapterOf(r.getUserId(), v, running) : null;
        boolean cold = (v.mode().usesAdapter() && lease == null) || a.noHistory();
        jobs.add(new Job(r, v, a, lease, cold));
        rows.add(new Row(v.task(), a.prompt(), lease == null ? null : lease.adapter(), config.maxNewTokens(),
            candidates(v)));
      }
      if (jobs.isEmpty()) {
        return;
      }
      List<String> outputs;
      long t1 = System.nanoTime();
      try {
        outputs = generator.generate(rows);
        if (outputs.size() != rows.size()) {
          throw new IllegalStateException("generator returned " + outputs.size() + " answers for " + rows.size()
              + " rows");
        }
      } catch (RuntimeException e) {
        LOG.error("generation failed for a batch of {}", rows.size(), e);
        long t = now();
        for (Job j : jobs) {
          forward(error(j.request, "generation failed: " + e.getMessage(), t));
        }
        return;
      }
      long done = now();
      long t2 = System.nanoTime();
      for (int i = 0; i < jobs.size(); i++) {
        Job j = jobs.get(i);
        forward(answer(j, label(j.validated, outputs.get(i)), done));
      }
      if (LOG.isDebugEnabled()) {
        LOG.debug("batch of {}: oldest waited {} ms; prepare {} ms (validation, prompts, adapters), generate {} ms, "
            + "respond {} ms", rows.size(), waitedMs, ms(t1 - t0), ms(t2 - t1), ms(System.nanoTime() - t2));
      }
    } finally {
      for (Job j : jobs) {
        if (j.lease != null) {
          j.lease.close();
        }
      }
    }
  }

  private static String ms(long nanos) {
    return String.format("%.1f", nanos / 1e6);
  }

  /** The user's own adapter of the mode's variant, if it exists and was trained on the running task model. */
  private AdapterCache.Lease adapterOf(String userId, Validated v, Fingerprint running) {
    String key = Topics.adapterKey(userId, v.task().id(), v.mode().variant());
    AdapterVersion av = adapters.get(key);
    if (av == null) {
      return null;
    }
    if (!userId.equals(av.getUserId())) { // never another user's adapter, whatever the store holds
      LOG.error("adapter store entry {} belongs to user {}: not used", key, av.getUserId());
      return null;
    }
    if (userData.adapterRevoked(userId, av.getTriggerId())) { // trained while its user was being deleted
      LOG.info("adapter {} v{} is of a training fenced by the user's deletion: not used", key, av.getVersion());
      return null;
    }
    if (!Objects.equals(running.base(), av.getBaseFingerprint())
        || !Objects.equals(running.task(), av.getTaskFingerprint())) {
      LOG.warn("adapter {} v{} was trained on another model (base {}, task {}; running base {}, task {}): not used",
          key, av.getVersion(), av.getBaseFingerprint(), av.getTaskFingerprint(), running.base(), running.task());
      return null;
    }
    try {
      return cache.acquire(av, generator::load);
    } catch (Exception e) {
      LOG.error("adapter {} v{} could not be loaded: answering without it", key, av.getVersion(), e);
      return null;
    }
  }

  /** Constrained decoding: label tasks choose among their labels (citation: among its two option texts). */
  private List<String> candidates(Validated v) {
    if (!config.constrained() || v.task().kind() == Task.Kind.GENERATION) {
      return null;
    }
    return v.task() == Task.CITATION ? v.extracted().options() : v.task().labels();
  }

  /** Maps a constrained citation answer (an option text) back to LaMP's label. */
  private String label(Validated v, String output) {
    if (config.constrained() && v.task() == Task.CITATION) {
      int i = v.extracted().options().indexOf(output);
      if (i >= 0) {
        return v.task().labels().get(i);
      }
    }
    return output;
  }

  private Response answer(Job j, String output, long now) {
    Request r = j.request;
    return Response.newBuilder()
        .setRequestId(r.getRequestId())
        .setUserId(r.getUserId())
        .setTask(j.validated.task().id())
        .setMode(j.validated.mode().id())
        .setOutput(output)
        .setError(null)
        .setAdapterVersion(j.lease == null ? null : j.lease.version())
        .setCold(j.cold)
        .setRetrievedItemIds(j.assembled.retrievedIds())
        .setLatencyMs(latency(r, now))
        .build();
  }

  private Response error(Request r, String reason, long now) {
    String mode = r.getMode();
    if (mode == null) {
      mode = config.defaultMode().id();
    }
    // task and mode may be anything a client wrote (the reason they are refused): echoed only up to the id limit
    int max = config.limits().maxIdChars();
    return Response.newBuilder()
        .setRequestId(r.getRequestId() == null ? "" : r.getRequestId())
        .setUserId(r.getUserId() == null ? "" : r.getUserId())
        .setTask(r.getTask() == null ? "" : InputLimits.clip(r.getTask(), max))
        .setMode(InputLimits.clip(mode, max))
        .setOutput(null)
        .setError(InputLimits.clip(reason, InputLimits.MAX_REASON_CHARS))
        .setAdapterVersion(null)
        .setCold(false)
        .setRetrievedItemIds(List.of())
        .setLatencyMs(latency(r, now))
        .build();
  }

  private static long latency(Request r, long now) {
    return r.getRequestTime() == null ? 0 : Math.max(0, now - r.getRequestTime().toEpochMilli());
  }

  private static boolean pastDeadline(Request r, long now) {
    return r.getDeadline() != null && now > r.getDeadline().toEpochMilli();
  }

  private static String deadlineReason(Request r, long now) {
    return "deadline exceeded: deadline " + r.getDeadline() + ", now " + Instant.ofEpochMilli(now);
  }

  private void forward(Response response) {
    context.forward(new org.apache.kafka.streams.processor.api.Record<>(response.getUserId(), response,
        now()));
  }

  /**
   * @param owner the user the dead letter is keyed by; when it is blank or over the id limit, the record key if that
   *     fits, else no key
   */
  private void deadLetter(org.apache.kafka.streams.processor.api.Record<String, byte[]> record, RecordMetadata meta,
      String reason, String owner) {
    LOG.warn("dead letter from {}: {}", meta == null ? "?" : meta.topic() + "-" + meta.partition() + "@"
        + meta.offset(), InputLimits.clip(reason, 200));
    DeadLetter dl = config.limits().deadLetter(meta == null ? "" : meta.topic(), meta == null ? -1 : meta.partition(),
        meta == null ? -1 : meta.offset(), record.key(), record.value(), reason, Instant.ofEpochMilli(now()));
    context.forward(new org.apache.kafka.streams.processor.api.Record<>(config.limits().owner(owner, record.key()),
        dl, now()));
  }

  /**
   * Wall-clock now: the later of the clock's time and the context's. The context's time is cached per poll loop (stale
   * after a long batch), hence the clock. Under TopologyTestDriver the context's time is the mocked wall clock: a test
   * that passes a clock fixed at the driver's start time gets a now that moves only when it advances the driver.
   */
  private long now() {
    return Math.max(clock.millis(), context.currentSystemTimeMs());
  }

  @Override
  public void close() {}
}
