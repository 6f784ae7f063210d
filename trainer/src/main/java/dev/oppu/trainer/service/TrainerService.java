package dev.oppu.trainer.service;

import dev.oppu.broker.ClientConfig;
import dev.oppu.lamp.Task;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.TaskModels;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.DeadLetter;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.InputLimits;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.streams.IngestConfig;
import dev.oppu.streams.ShiftDetector;
import dev.oppu.streams.UserProfiles;
import dev.oppu.trainer.LlamaLoraLm;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.examples.ModelTokenEncoder;
import dev.oppu.trainer.examples.Variant;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer service ({@code oppu run trainer}): consumes train triggers in consumer group {@code oppu-trainer}
 * (read_committed), trains the user's adapter (warm-started from their latest version), validates it, and in ONE
 * Kafka transaction publishes the AdapterVersion (compacted, keyed user|task|variant), a TrainResult (keyed by user,
 * with the adaptation lag of every newly covered item) and the trigger's consumed offset. A crash mid-training thus
 * publishes nothing and the trigger is redelivered after a restart. Training is serialized in this one thread (DJL
 * allows one GradientCollector per JVM); scale-out is more instances in the group: triggers are keyed by user, so one
 * user's triggers reach one instance in order, and at most one training per (user, task, variant) runs at a time.
 * Waiting triggers of one task and variant for different users (up to {@link Settings#batchUsers}) train together in
 * one batch, each row through its own user's adapter, each user with its own optimizer, validation, version and
 * transaction ({@link UserAdapterUpdater#updateMany}).
 */
public final class TrainerService implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TrainerService.class);

  public static final String GROUP_ID = "oppu-trainer";
  public static final String BATCH_USERS_PROPERTY = "oppu.trainer.batch.users";
  /** One at a time: on CPU a batched step measured slower than single-user steps (BENCHMARKS.md, bench train-many). */
  public static final int DEFAULT_BATCH_USERS = 1;

  /** {@value #BATCH_USERS_PROPERTY} from {@code settings}, else the system property, else the default. */
  public static int batchUsers(java.util.Properties settings) {
    String v = settings.getProperty(BATCH_USERS_PROPERTY);
    return v != null ? Integer.parseInt(v.trim()) : Integer.getInteger(BATCH_USERS_PROPERTY, DEFAULT_BATCH_USERS);
  }

  /**
   * @param transactionalId unique per instance and stable across its restarts (fences a zombie predecessor)
   * @param inlineLimit adapters up to this many bytes travel inline in the record; larger ones via {@code store}
   * @param store content-addressed adapter store shared with serving (may be null if every adapter fits inline)
   */
  /**
   * @param limits the dead-letter prefix kept of a refused trigger (a trigger carries a whole history)
   * @param batchUsers at most this many waiting triggers of one task and variant (different users) train together in
   *     one batch ({@link UserAdapterUpdater#updateMany}); 1 trains one at a time. Default: the system property
   *     {@value #BATCH_USERS_PROPERTY}, else {@value #DEFAULT_BATCH_USERS}.
   */
  public record Settings(String groupId, String transactionalId, int inlineLimit, Path store, Path scratch,
      InputLimits limits, int batchUsers) {
    public Settings {
      if (batchUsers < 1) {
        throw new IllegalArgumentException(BATCH_USERS_PROPERTY + " must be positive: " + batchUsers);
      }
    }

    public Settings(String groupId, String transactionalId, int inlineLimit, Path store, Path scratch,
        InputLimits limits) {
      this(groupId, transactionalId, inlineLimit, store, scratch, limits,
          TrainerService.batchUsers(new java.util.Properties()));
    }

    public Settings(String groupId, String transactionalId, int inlineLimit, Path store, Path scratch) {
      this(groupId, transactionalId, inlineLimit, store, scratch, InputLimits.defaults());
    }

    public Settings withBatchUsers(int n) {
      return new Settings(groupId, transactionalId, inlineLimit, store, scratch, limits, n);
    }

    public static Settings defaults(Path store) {
      return new Settings(GROUP_ID, "oppu-trainer-0", dev.oppu.model.lora.AdapterPayload.DEFAULT_INLINE_LIMIT, store,
          null);
    }
  }

  /** Counters a caller (replay, demo, the CLI) can report. */
  public static final class Stats {
    public final AtomicLong published = new AtomicLong();
    public final AtomicLong rejected = new AtomicLong();
    public final AtomicLong skipped = new AtomicLong();
    public final AtomicLong failed = new AtomicLong();
    public final AtomicLong deadLetters = new AtomicLong();
    /** Updates trained in a batch of several users. */
    public final AtomicLong batched = new AtomicLong();
    private final List<Long> lags = Collections.synchronizedList(new ArrayList<>());

    /** Adaptation lags (ms) of every item covered by a version this instance published. */
    public List<Long> lagsMillis() {
      synchronized (lags) {
        return new ArrayList<>(lags);
      }
    }
  }

  /** The analyzer of the term distributions: the ingestion's default, as the triggers score with. */
  private static final org.apache.lucene.analysis.Analyzer ANALYZER = IngestConfig.defaults().newAnalyzer();

  private final ClientConfig clients;
  private final Topics topics;
  private final TaskModels models;
  private final ModelTokenEncoder encoder;
  private final UserAdapterUpdater.Settings updateSettings;
  private final Settings settings;
  private final Stats stats = new Stats();
  private final AdapterCache cache;
  private final KafkaConsumer<String, byte[]> consumer;
  private final KafkaProducer<String, byte[]> producer;
  private volatile boolean running = true;
  // run() counts this down when it returns: close() waits for it, so the models are unused once close() returns
  private final java.util.concurrent.CountDownLatch runEnded = new java.util.concurrent.CountDownLatch(1);
  private volatile Thread runner;
  // called after every optimizer step; tests use it to crash a training midway
  volatile dev.oppu.trainer.AdapterTraining.StepListener stepListener;

  public TrainerService(ClientConfig clients, Topics topics, TaskModels models, UserAdapterUpdater.Settings update,
      Settings settings) {
    this.clients = clients;
    this.topics = topics;
    this.models = models;
    this.encoder = new ModelTokenEncoder(models.tokenizer());
    this.updateSettings = update;
    this.settings = settings;
    this.cache = new AdapterCache(clients, topics, settings.store());
    Properties c = clients.consumer(settings.groupId());
    c.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    // a trigger is minutes of work at most; a poll takes as many as one batch trains together
    c.setProperty(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(settings.batchUsers()));
    c.setProperty(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "900000");
    c.setProperty(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
    Properties p = clients.producer();
    p.setProperty(ProducerConfig.TRANSACTIONAL_ID_CONFIG, settings.transactionalId());
    this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
  }

  public Stats stats() {
    return stats;
  }

  /** Runs until {@link #close()} (from another thread) or a fatal Kafka error. */
  public void run() throws InterruptedException {
    runner = Thread.currentThread();
    try {
      producer.initTransactions();
      if (!cache.awaitCaughtUp(Duration.ofMinutes(2))) {
        throw new IllegalStateException("could not read the adapters topic " + topics.adapters.name());
      }
      consumer.subscribe(List.of(topics.trainTriggers.name()));
      while (running) {
        List<Polled> pending = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          pending.add(parse(r));
        }
        processAll(pending);
      }
    } catch (WakeupException | Stopped e) {
      if (running) {
        throw e;
      }
    } finally {
      try {
        consumer.close();
        producer.close(Duration.ofSeconds(5));
      } finally {
        runEnded.countDown();
      }
    }
  }

  /** Thrown from a training's step listener once {@link #close()} was called: abandons the training unpublished. */
  private static final class Stopped extends RuntimeException {
    Stopped() {
      super("trainer closing", null, false, false);
    }
  }

  /** A polled trigger record: the trigger, or why it is refused. */
  private record Polled(ConsumerRecord<String, byte[]> record, TrainTrigger trigger, RuntimeException bad) {
    TopicPartition partition() {
      return new TopicPartition(record.topic(), record.partition());
    }

    String key() {
      return Topics.adapterKey(trigger.getUserId(), trigger.getTask(), trigger.getVariant());
    }
  }

  private Polled parse(ConsumerRecord<String, byte[]> r) {
    try {
      TrainTrigger trigger = topics.trainTriggers.valueSerde().deserializer().deserialize(r.topic(), r.value());
      Task.of(trigger.getTask());
      Variant.of(trigger.getVariant());
      if (trigger.getHistory().isEmpty()) {
        throw new IllegalArgumentException("trigger carries no history");
      }
      return new Polled(r, trigger, null);
    } catch (RuntimeException e) {
      return new Polled(r, null, e);
    }
  }

  /**
   * Handles polled triggers in groups: the first waiting trigger with the later ones of its task and variant, of
   * other adapter keys (a user's next trigger needs this one's version), up to {@link Settings#batchUsers}, trained
   * together; each then commits in its own transaction, in poll order. A record joins a group only if no earlier
   * record of its partition was left out, so offsets commit in order; after an aborted transaction the partition's
   * later records are left for the redelivery.
   */
  private void processAll(List<Polled> pending) {
    java.util.Set<TopicPartition> aborted = new java.util.HashSet<>();
    while (running && !pending.isEmpty()) {
      Polled first = pending.get(0);
      List<Polled> group = new ArrayList<>();
      group.add(first);
      if (first.bad() == null) {
        java.util.Set<TopicPartition> blocked = new java.util.HashSet<>();
        java.util.Set<String> keys = new java.util.HashSet<>(List.of(first.key()));
        for (Polled p : pending.subList(1, pending.size())) {
          boolean joins = group.size() < settings.batchUsers() && p.bad() == null
              && !blocked.contains(p.partition()) && p.trigger().getTask().equals(first.trigger().getTask())
              && p.trigger().getVariant().equals(first.trigger().getVariant()) && !keys.contains(p.key());
          if (joins) {
            group.add(p);
            keys.add(p.key());
          } else {
            blocked.add(p.partition());
          }
        }
      }
      pending.removeAll(group);
      if (first.bad() != null) {
        if (!aborted.contains(first.partition())) {
          deadLetter(first, aborted);
        }
        continue;
      }
      List<Result> results = group.size() == 1 ? List.of(handle(first.trigger()))
          : handleMany(group.stream().map(Polled::trigger).toList());
      for (int i = 0; i < group.size(); i++) {
        Polled p = group.get(i);
        if (aborted.contains(p.partition())) {
          continue; // redelivered from the aborted record on
        }
        if (!publish(p, results.get(i))) {
          aborted.add(p.partition());
        }
      }
    }
  }

  private void deadLetter(Polled p, java.util.Set<TopicPartition> aborted) {
    ConsumerRecord<String, byte[]> r = p.record();
    stats.deadLetters.incrementAndGet();
    DeadLetter dl = settings.limits().deadLetter(r.topic(), r.partition(), r.offset(), r.key(), r.value(),
        "bad train trigger: " + p.bad().getMessage(), Instant.now());
    if (!commit(r, List.of(new ProducerRecord<>(topics.deadLetters.name(), settings.limits().owner(r.key()),
        topics.deadLetters.valueSerde().serializer().serialize(topics.deadLetters.name(), dl))))) {
      aborted.add(p.partition());
    }
  }

  /** The trigger's outputs and offset in one transaction; returns whether it committed. */
  private boolean publish(Polled p, Result out) {
    TrainTrigger trigger = p.trigger();
    List<ProducerRecord<String, byte[]>> records = new ArrayList<>();
    if (out.version != null) {
      String key = Topics.adapterKey(trigger.getUserId(), trigger.getTask(), trigger.getVariant());
      records.add(new ProducerRecord<>(topics.adapters.name(), key,
          topics.adapters.valueSerde().serializer().serialize(topics.adapters.name(), out.version)));
    }
    records.add(new ProducerRecord<>(topics.trainResults.name(), trigger.getUserId(),
        topics.trainResults.valueSerde().serializer().serialize(topics.trainResults.name(), out.result)));
    boolean committed = commit(p.record(), records);
    if (committed && out.version != null) {
      cache.put(Topics.adapterKey(trigger.getUserId(), trigger.getTask(), trigger.getVariant()), out.version);
      stats.lags.addAll(out.result.getLagsMillis());
    }
    return committed;
  }

  private record Result(AdapterVersion version, TrainResult result) {}

  /** A trigger ready to train: its update's request and what publishing it needs. */
  private record Prep(TrainTrigger t, Task task, String key, AdapterVersion prev, TaskModels.TaskModel tm,
      LlamaLoraLm lm, LoraAdapter previous, long version, long firstSeq, long replayFrom, long started, long created,
      UserAdapterUpdater.Request request) {}

  /** A trigger's result without training (skipped, dropped, failed), or its {@link Prep}. */
  private record Before(Result done, Prep prep) {}

  /** Trains and validates; never throws for a trigger's own problems (they become a TrainResult's reason). */
  Result handle(TrainTrigger t) {
    Before b = before(t);
    if (b.done() != null) {
      return b.done();
    }
    Prep p = b.prep();
    try {
      UserAdapterUpdater updater = new UserAdapterUpdater(p.lm(), encoder, updateSettings);
      UserAdapterUpdater.Request q = p.request();
      UserAdapterUpdater.Outcome o = updater.update(q.userId(), q.task(), q.variant(), q.history(), q.newFromSeq(),
          q.replayFromSeq(), q.profile(), q.previous(), q.version(), listener());
      return after(p, o);
    } catch (Stopped e) {
      throw e; // not a result of the trigger: nothing is committed and the trigger is redelivered
    } catch (IOException | RuntimeException e) {
      return failed(p, e);
    } finally {
      if (p.previous() != null) {
        p.previous().close();
      }
    }
  }

  /**
   * {@link #handle} for triggers of one task and variant and of different users: their trainings in one batch
   * ({@link UserAdapterUpdater#updateMany}), each then validated and published on its own. Results in order.
   */
  List<Result> handleMany(List<TrainTrigger> triggers) {
    Result[] out = new Result[triggers.size()];
    List<Integer> training = new ArrayList<>();
    List<Prep> preps = new ArrayList<>();
    try {
      for (int i = 0; i < triggers.size(); i++) {
        Before b = before(triggers.get(i));
        if (b.done() != null) {
          out[i] = b.done();
        } else {
          training.add(i);
          preps.add(b.prep());
        }
      }
      if (!preps.isEmpty()) {
        List<UserAdapterUpdater.Outcome> outcomes;
        try {
          UserAdapterUpdater updater = new UserAdapterUpdater(preps.get(0).lm(), encoder, updateSettings);
          LOG.info("{} {}: training {} users in one batch", preps.get(0).task().id(),
              preps.get(0).t().getVariant(), preps.size());
          outcomes = updater.updateMany(preps.stream().map(Prep::request).toList(), listener());
          stats.batched.addAndGet(preps.size());
        } catch (RuntimeException e) {
          if (e instanceof Stopped) {
            throw e;
          }
          for (int j = 0; j < preps.size(); j++) {
            out[training.get(j)] = failed(preps.get(j), e);
          }
          return List.of(out);
        }
        for (int j = 0; j < preps.size(); j++) {
          try {
            out[training.get(j)] = after(preps.get(j), outcomes.get(j));
          } catch (IOException | RuntimeException e) {
            out[training.get(j)] = failed(preps.get(j), e);
          }
        }
      }
      return List.of(out);
    } finally {
      preps.forEach(p -> {
        if (p.previous() != null) {
          p.previous().close();
        }
      });
    }
  }

  /** Stops a training at its next step once {@link #close()} was called; the tests' step listener. */
  private dev.oppu.trainer.AdapterTraining.StepListener listener() {
    dev.oppu.trainer.AdapterTraining.StepListener test = stepListener;
    return (step, total, loss) -> {
      if (!running) {
        throw new Stopped(); // close() waits for this thread: stop at the next step, not after the training
      }
      if (test != null) {
        test.onStep(step, total, loss);
      }
    };
  }

  private Before before(TrainTrigger t) {
    Task task = Task.of(t.getTask());
    Variant variant = Variant.of(t.getVariant());
    String key = Topics.adapterKey(t.getUserId(), t.getTask(), t.getVariant());
    long lastSeq = t.getHistory().stream().mapToLong(HistoryItem::getSeq).max().orElseThrow();
    long firstSeq = t.getHistory().stream().mapToLong(HistoryItem::getSeq).min().orElseThrow();
    AdapterVersion prev = cache.get(key);
    long started = System.currentTimeMillis();
    long created = t.getCreatedAt().toEpochMilli();
    if (cache.deletedAfter(key, created)) {
      stats.rejected.incrementAndGet();
      return new Before(new Result(null, result(t, false, "dropped: the user was deleted after this trigger", null,
          firstSeq - 1, List.of())), null);
    }
    if (prev != null && prev.getCoveredSeq() >= lastSeq) {
      stats.skipped.incrementAndGet();
      return new Before(new Result(null, result(t, false, "skipped: version " + prev.getVersion()
          + " already covers seq " + prev.getCoveredSeq(), prev.getVersion(), prev.getCoveredSeq(), List.of())), null);
    }
    TaskModels.TaskModel tm;
    LlamaLoraLm lm;
    LoraAdapter previous = null;
    try {
      tm = models.get(task.id());
      if (tm == null) {
        throw new IllegalArgumentException("task " + task.id() + " is not trained by this trainer");
      }
      lm = new LlamaLoraLm(tm.model());
      long version = prev != null ? prev.getVersion() + 1
          : t.getPreviousVersion() != null ? t.getPreviousVersion() + 1 : 1;
      long newFrom = firstSeq;
      if (prev != null) {
        try {
          previous = AdapterRecords.load(prev, tm.baseFingerprint(), tm.taskFingerprint(), lm.config(),
              lm.manager(), settings.store(), scratch());
          newFrom = prev.getCoveredSeq() + 1; // the trainer knows what its adapter covers
        } catch (IllegalStateException | IllegalArgumentException | IOException | java.io.UncheckedIOException e) {
          LOG.warn("{}: previous version {} unusable ({}); training from scratch", key, prev.getVersion(),
              e.getMessage());
        }
      }
      List<UserAdapterUpdater.Item> items = t.getHistory().stream()
          .map(h -> new UserAdapterUpdater.Item(h.getSeq(), h.getArrivalTime().toEpochMilli(), h.getFields()))
          .toList();
      // an operator (and the crash-recovery test) can tell a run in progress from an idle trainer
      long replayFrom = t.getReplayFromSeq() != null ? t.getReplayFromSeq() : Long.MIN_VALUE;
      LOG.info("{} v{}: training started (trigger {}, {}, {} items, new from seq {}{})", key, version,
          t.getTriggerId(), t.getReason(), items.size(), newFrom,
          t.getReplayFromSeq() != null ? ", replay from seq " + replayFrom : "");
      UserAdapterUpdater.Request request = new UserAdapterUpdater.Request(t.getUserId(), task, variant, items,
          newFrom, replayFrom, profile(task, variant, t), previous, version);
      return new Before(null, new Prep(t, task, key, prev, tm, lm, previous, version, firstSeq, replayFrom, started,
          created, request));
    } catch (RuntimeException e) {
      if (previous != null) {
        previous.close();
      }
      LOG.error("{}: training failed", key, e);
      stats.failed.incrementAndGet();
      return new Before(new Result(null, result(t, false, "failed: " + e, prev == null ? null : prev.getVersion(),
          prev == null ? firstSeq - 1 : prev.getCoveredSeq(), List.of())), null);
    }
  }

  private Result failed(Prep p, Exception e) {
    LOG.error("{}: training failed", p.key(), e);
    stats.failed.incrementAndGet();
    AdapterVersion prev = p.prev();
    return new Result(null, result(p.t(), false, "failed: " + e, prev == null ? null : prev.getVersion(),
        prev == null ? p.firstSeq() - 1 : prev.getCoveredSeq(), List.of()));
  }

  /** Publishing a trained candidate: the deletion fence, the rejection, or the new version (closes the adapter). */
  private Result after(Prep p, UserAdapterUpdater.Outcome o) throws IOException {
    TrainTrigger t = p.t();
    String key = p.key();
    long version = p.version();
    AdapterVersion prev = p.prev();
    long firstSeq = p.firstSeq();
    LOG.info("{} v{}: {} ({} items, loss {} -> {}, held-out {} -> {}, {} ms)", key, version, o.reason(),
        o.itemsTrained(), o.lossBefore(), o.lossAfter(), o.heldOutBefore(), o.heldOutAfter(), o.trainMillis());
    if (o.accepted() && (cache.deletedSince(key, p.started()) || cache.deletedAfter(key, p.created()))) {
      // the user was deleted while we trained (SPEC section 4): publish nothing of theirs
      o.adapter().close();
      stats.rejected.incrementAndGet();
      return new Result(null, result(t, false, "dropped: the user's adapters were deleted during training", null,
          firstSeq - 1, List.of()));
    }
    if (!o.accepted()) {
      stats.rejected.incrementAndGet();
      return new Result(null, result(t, false, o.reason(), prev == null ? null : prev.getVersion(),
          prev == null ? firstSeq - 1 : prev.getCoveredSeq(), List.of()));
    }
    try (LoraAdapter adapter = o.adapter()) {
      Instant now = Instant.now();
      List<Long> lags = o.newlyCovered().stream().map(i -> now.toEpochMilli() - i.arrivalTime()).toList();
      AdapterVersion.Builder b = AdapterVersion.newBuilder()
          .setUserId(t.getUserId()).setTask(t.getTask()).setVariant(t.getVariant()).setVersion(version)
          .setTriggerId(t.getTriggerId()).setCoveredSeq(o.coveredSeq()).setItemsTrained(o.itemsTrained())
          .setLossBefore(o.lossBefore()).setLossAfter(o.lossAfter()).setTrainMillis(o.trainMillis())
          .setPublishedAt(now).setTriggeredAt(Instant.ofEpochMilli(p.created()))
          .setTrainingStartedAt(Instant.ofEpochMilli(p.started()))
          .setBaseFingerprint(p.tm().baseFingerprint()).setTaskFingerprint(p.tm().taskFingerprint())
          .setLabelDistribution(labelDistribution(p.task(), t, p.replayFrom(), o.coveredSeq()));
      AdapterRecords.withPayload(b, adapter, settings.inlineLimit(), settings.store());
      stats.published.incrementAndGet();
      return new Result(b.build(), result(t, true, o.reason(), version, o.coveredSeq(), lags));
    }
  }

  /**
   * The profile an update of the trigger trains with: for the pag variant, the one the trigger carries (ingestion's:
   * the given profile, else the one built from the history, the text serving's PAG prompts use); a pag trigger
   * without one (from an ingestion that did not set it) gets the profile built from its history by the same rule.
   * The other variants train without a profile.
   */
  static String profile(Task task, Variant variant, TrainTrigger t) {
    if (variant != Variant.PAG) {
      return null;
    }
    if (t.getProfile() != null) {
      return t.getProfile();
    }
    LOG.warn("{}: pag trigger {} carries no profile; training with the one built from its history",
        Topics.adapterKey(t.getUserId(), t.getTask(), t.getVariant()), t.getTriggerId());
    return UserProfiles.built(task, t.getHistory().stream().map(HistoryItem::getFields).toList());
  }

  private Path scratch() throws IOException {
    Path dir = settings.scratch() != null ? settings.scratch()
        : Path.of(System.getProperty("java.io.tmpdir"), "oppu-trainer");
    Files.createDirectories(dir);
    return dir;
  }

  private static TrainResult result(TrainTrigger t, boolean accepted, String reason, Long version, long covered,
      List<Long> lags) {
    return TrainResult.newBuilder().setTriggerId(t.getTriggerId()).setUserId(t.getUserId()).setTask(t.getTask())
        .setVariant(t.getVariant()).setAccepted(accepted).setReason(reason).setVersion(version)
        .setCoveredSeq(covered).setFinishedAt(Instant.now()).setLagsMillis(lags).build();
  }

  /**
   * The label (or, for generation tasks, term) distribution of the items the adapter now stands for (covered, and
   * since the last shift), for the streams' shift detection: {@link ShiftDetector#distribution}, the rule the
   * triggers compare new items with, over the ingestion's default analyzer. After a shift it compares new items with
   * the new behavior, not with the contradicted old one.
   */
  static Map<String, Double> labelDistribution(Task task, TrainTrigger t, long replayFrom, long coveredSeq) {
    List<Map<String, String>> items = new ArrayList<>();
    for (HistoryItem h : t.getHistory()) {
      if (h.getSeq() <= coveredSeq && h.getSeq() >= replayFrom) {
        items.add(h.getFields());
      }
    }
    return ShiftDetector.distribution(task, items, ANALYZER);
  }

  /** One transaction: the outputs and the trigger's offset, or nothing. Returns whether it committed. */
  private boolean commit(ConsumerRecord<String, byte[]> r, List<ProducerRecord<String, byte[]>> records) {
    try {
      producer.beginTransaction();
      for (ProducerRecord<String, byte[]> pr : records) {
        producer.send(pr);
      }
      producer.sendOffsetsToTransaction(
          Map.of(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1)),
          consumer.groupMetadata());
      producer.commitTransaction();
      return true;
    } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException e) {
      running = false; // another instance took over this transactional id: stop without publishing
      throw e;
    } catch (KafkaException e) {
      LOG.warn("transaction for trigger {}-{}@{} aborted: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
      producer.abortTransaction();
      consumer.seek(new TopicPartition(r.topic(), r.partition()), r.offset()); // redeliver
      return false;
    }
  }

  /**
   * Stops: a training in progress is abandoned at its next optimizer step (publishing nothing; the trigger is
   * redelivered) and this waits until {@link #run()} has returned, so that the caller may then close the models.
   * Closing them under a running training frees tensors its thread is using: a JVM crash (SIGSEGV in libtorch), not
   * an exception, when the free lands inside a native call; likewise a JVM that exits under a running training.
   */
  @Override
  public void close() throws InterruptedException {
    running = false;
    try {
      consumer.wakeup();
    } catch (IllegalStateException alreadyClosed) {
      // run() ended on its own (a fatal error) and closed the consumer
    }
    if (runner != null && runner != Thread.currentThread()
        && !runEnded.await(5, java.util.concurrent.TimeUnit.MINUTES)) {
      LOG.warn("trainer run() did not end within 5 minutes of close(); its models are still in use");
    }
    cache.close();
  }
}
