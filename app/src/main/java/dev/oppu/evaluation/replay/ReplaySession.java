package dev.oppu.evaluation.replay;

import dev.oppu.broker.ClientConfig;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The Kafka side of a replay, as a client of the running services (same JVM or not): publishes behaviors and
 * requests, and follows the train-triggers, adapters, train-results and responses topics on one background thread.
 *
 * <p>Coverage is read from the system's own records: a trigger's history maps each event id to the per-user seq the
 * ingestion gave it, and an adapter version says up to which seq it was trained ({@code coveredSeq}). So a user's
 * adapter covers the replayed history when its coveredSeq reaches the seq of the last event published for that user,
 * whatever numbering the ingestion uses and whatever history the user had before.
 */
public final class ReplaySession implements AutoCloseable {

  /** One published behavior and when the broker took it (the start of its adaptation lag). */
  public record Published(String eventId, String userId, String task, long arrivalMillis) {}

  /** An adapter to wait for: (user, task, variant) trained up to the event {@code lastEventId}. */
  public record Target(String userId, String task, String variant, String lastEventId) {
    public String key() {
      return Topics.adapterKey(userId, task, variant);
    }
  }

  /**
   * The outcome of waiting for adapters: how many targets are covered (an adapter was trained on every replayed
   * item), how many were processed (the trainer handled a trigger holding the last item: covered, or trained with
   * the newest items held out for validation, or refused), and why the others are not covered.
   */
  public record Coverage(int total, int covered, int processed, Map<String, String> uncovered, boolean timedOut) {}

  /** The outcome of asking: the responses by request id, and the ids that got none before the timeout. */
  public record Answers(Map<String, Response> responses, List<String> missing) {}

  /** triggeredAt and startedAt are -1 when the version does not carry them (a trainer before they existed). */
  private record AdapterSeen(long version, long coveredSeq, long publishedAt, String triggerId, long triggeredAt,
      long startedAt) {}

  private final Topics topics;
  private final KafkaProducer<byte[], byte[]> producer;
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final Thread poller;
  private volatile boolean closing;
  private volatile Throwable failure;

  // Guarded by `this`; the poller notifies on each batch.
  private final Map<String, Long> seqByEvent = new HashMap<>();
  private final Map<String, Long> triggerLastSeq = new HashMap<>();
  private final Map<String, List<AdapterSeen>> adapters = new HashMap<>();
  private final Map<String, List<TrainResult>> results = new HashMap<>();
  private final Map<String, Response> responses = new HashMap<>();
  private final List<Published> published = new ArrayList<>();
  private final Set<String> pendingTriggers = new HashSet<>();
  private final Set<String> finishedTriggers = new HashSet<>();
  private long lastTrainingActivity = System.nanoTime();

  public ReplaySession(ClientConfig client, Topics topics) {
    this.topics = topics;
    // One request in flight: a replay's burst must not let a later batch overtake a refused first one (see there).
    Properties pp = client.burstProducer();
    pp.put("key.serializer", ByteArraySerializer.class.getName());
    pp.put("value.serializer", ByteArraySerializer.class.getName());
    pp.putIfAbsent("linger.ms", "5");
    this.producer = new KafkaProducer<>(pp);
    Properties cp = client.consumer(null);
    cp.put("key.deserializer", ByteArrayDeserializer.class.getName());
    cp.put("value.deserializer", ByteArrayDeserializer.class.getName());
    cp.put("enable.auto.commit", "false");
    this.consumer = new KafkaConsumer<>(cp);
    try {
      List<TopicPartition> fromStart = new ArrayList<>();
      List<TopicPartition> fromEnd = new ArrayList<>();
      for (Topics.Topic<String, ?> t : List.of(topics.trainTriggers, topics.adapters, topics.trainResults)) {
        fromStart.addAll(partitions(t.name()));
      }
      fromEnd.addAll(partitions(topics.responses.name()));
      partitions(topics.behaviors.name());
      partitions(topics.requests.name());
      List<TopicPartition> all = new ArrayList<>(fromStart);
      all.addAll(fromEnd);
      consumer.assign(all);
      consumer.seekToBeginning(fromStart);
      consumer.seekToEnd(fromEnd);
      // Resolve the end offsets now, so no response to a request sent after this constructor can be skipped.
      for (TopicPartition tp : fromEnd) {
        consumer.position(tp, Duration.ofSeconds(30));
      }
    } catch (RuntimeException e) {
      consumer.close();
      producer.close();
      throw e;
    }
    this.poller = new Thread(this::pollLoop, "replay-poller");
    poller.setDaemon(true);
    poller.start();
  }

  private List<TopicPartition> partitions(String topic) {
    List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
    if (infos == null || infos.isEmpty()) {
      throw new IllegalStateException("topic '" + topic + "' does not exist on the cluster: start the services"
          + " (or `oppu broker`, which creates the topics) first");
    }
    List<TopicPartition> out = new ArrayList<>();
    for (PartitionInfo p : infos) {
      out.add(new TopicPartition(topic, p.partition()));
    }
    return out;
  }

  private void pollLoop() {
    try {
      while (!closing) {
        var batch = consumer.poll(Duration.ofMillis(100));
        if (batch.isEmpty()) {
          continue;
        }
        synchronized (this) {
          for (ConsumerRecord<byte[], byte[]> r : batch) {
            if (r.value() == null) {
              continue; // tombstone (a deleted user's adapter)
            }
            handle(r);
          }
          notifyAll();
        }
      }
    } catch (WakeupException e) {
      // closing
    } catch (Throwable t) {
      failure = t;
      synchronized (this) {
        notifyAll();
      }
    }
  }

  private void handle(ConsumerRecord<byte[], byte[]> r) {
    String topic = r.topic();
    try {
      if (topic.equals(topics.trainTriggers.name())) {
        TrainTrigger t = topics.trainTriggers.valueSerde().deserializer().deserialize(topic, r.value());
        long last = Long.MIN_VALUE;
        for (var item : t.getHistory()) {
          seqByEvent.put(item.getEventId(), item.getSeq());
          last = Math.max(last, item.getSeq());
        }
        triggerLastSeq.put(t.getTriggerId(), last);
        if (!finishedTriggers.contains(t.getTriggerId())) {
          pendingTriggers.add(t.getTriggerId());
        }
        lastTrainingActivity = System.nanoTime();
      } else if (topic.equals(topics.adapters.name())) {
        AdapterVersion a = topics.adapters.valueSerde().deserializer().deserialize(topic, r.value());
        adapters.computeIfAbsent(Topics.adapterKey(a.getUserId(), a.getTask(), a.getVariant()), k -> new ArrayList<>())
            .add(new AdapterSeen(a.getVersion(), a.getCoveredSeq(), a.getPublishedAt().toEpochMilli(),
                a.getTriggerId(), a.getTriggeredAt() == null ? -1 : a.getTriggeredAt().toEpochMilli(),
                a.getTrainingStartedAt() == null ? -1 : a.getTrainingStartedAt().toEpochMilli()));
        lastTrainingActivity = System.nanoTime();
      } else if (topic.equals(topics.trainResults.name())) {
        TrainResult t = topics.trainResults.valueSerde().deserializer().deserialize(topic, r.value());
        results.computeIfAbsent(Topics.adapterKey(t.getUserId(), t.getTask(), t.getVariant()), k -> new ArrayList<>())
            .add(t);
        finishedTriggers.add(t.getTriggerId());
        pendingTriggers.remove(t.getTriggerId());
        lastTrainingActivity = System.nanoTime();
      } else if (topic.equals(topics.responses.name())) {
        Response resp = topics.responses.valueSerde().deserializer().deserialize(topic, r.value());
        responses.putIfAbsent(resp.getRequestId(), resp);
      }
    } catch (RuntimeException e) {
      // A record this reader cannot decode is someone else's problem (the dead-letter path); it cannot be ours.
    }
  }

  /** Publishes behaviors in the given order (keyed by user) and waits for the broker's acknowledgements. */
  public List<Published> publish(List<Behavior> events, Progress progress) {
    List<Future<RecordMetadata>> acks = new ArrayList<>(events.size());
    try (Progress.Bar bar = progress.start("publish", events.size())) {
      for (Behavior b : events) {
        byte[] key = Topics.KEY.serializer().serialize(topics.behaviors.name(), b.getUserId());
        byte[] value = topics.behaviors.valueSerde().serializer().serialize(topics.behaviors.name(), b);
        acks.add(producer.send(new ProducerRecord<>(topics.behaviors.name(), key, value)));
      }
      producer.flush();
      List<Published> out = new ArrayList<>(events.size());
      for (int i = 0; i < events.size(); i++) {
        Behavior b = events.get(i);
        RecordMetadata md = get(acks.get(i), "behavior " + b.getEventId());
        out.add(new Published(b.getEventId(), b.getUserId(), b.getTask(), md.timestamp()));
        bar.stepTo(i + 1);
      }
      synchronized (this) {
        published.addAll(out);
      }
      return out;
    }
  }

  /**
   * Waits until every target's adapter covers its last event or was refused, or the system has settled (no training
   * pending and no trigger, result or adapter for {@code quiet}: its trigger policy will not train the rest, e.g.
   * items a version held out for validation), or the timeout.
   */
  public Coverage awaitCoverage(List<Target> targets, Duration timeout, Duration quiet, Progress progress) {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    try (Progress.Bar bar = progress.start("adapters", targets.size())) {
      synchronized (this) {
        while (true) {
          checkFailure();
          Map<String, String> open = new LinkedHashMap<>();
          int covered = 0;
          int settled = 0;
          for (Target t : targets) {
            String why = uncoveredReason(t);
            if (why == null) {
              covered++;
              settled++;
            } else {
              open.put(t.key(), why);
              // Held-out items are settled only once the system is idle: the trigger policy may train them next.
              if (why.startsWith(REFUSED)) {
                settled++;
              }
            }
          }
          bar.stepTo(covered);
          bar.message(open.isEmpty() ? "" : (targets.size() - covered) + " waiting");
          long now = System.nanoTime();
          long left = deadline - now;
          boolean idle = pendingTriggers.isEmpty() && now - Math.max(start, lastTrainingActivity) >= quiet.toNanos();
          if (settled == targets.size() || idle || left <= 0) {
            if (idle && settled < targets.size()) {
              open.replaceAll((k, v) -> v + " (system idle: no training pending)");
            }
            return new Coverage(targets.size(), covered, settled, open, !idle && settled < targets.size());
          }
          waitQuietly(Math.min(left, Progress.TICK.toNanos()));
        }
      }
    }
  }

  private static final String REFUSED = "refused";
  private static final String HELD_OUT = "held out";

  /**
   * Null when covered; otherwise why not. Settled cases start with {@link #REFUSED} or {@link #HELD_OUT}. Caller
   * holds the lock.
   */
  private String uncoveredReason(Target t) {
    Long seq = seqByEvent.get(t.lastEventId());
    if (seq == null) {
      return "no train trigger carries the user's last event yet";
    }
    long best = Long.MIN_VALUE;
    for (AdapterSeen a : adapters.getOrDefault(t.key(), List.of())) {
      best = Math.max(best, a.coveredSeq());
    }
    if (best >= seq) {
      return null;
    }
    for (AdapterSeen a : adapters.getOrDefault(t.key(), List.of())) {
      if (triggerLastSeq.getOrDefault(a.triggerId(), Long.MIN_VALUE) >= seq) {
        return HELD_OUT + " for validation by the trainer: the adapter covers seq " + best + " of " + seq;
      }
    }
    for (TrainResult r : results.getOrDefault(t.key(), List.of())) {
      if (!r.getAccepted() && (r.getCoveredSeq() >= seq
          || triggerLastSeq.getOrDefault(r.getTriggerId(), Long.MIN_VALUE) >= seq)) {
        return REFUSED + " by the trainer: " + r.getReason();
      }
    }
    return best == Long.MIN_VALUE ? "no adapter yet (last event seq " + seq + ")"
        : "adapter covers seq " + best + " of " + seq;
  }

  /** Sends the requests (keyed by user) and waits for a response to each, or the timeout. */
  public Answers ask(List<Request> requests, Duration timeout, Progress progress) {
    List<Future<RecordMetadata>> acks = new ArrayList<>(requests.size());
    for (Request r : requests) {
      byte[] key = Topics.KEY.serializer().serialize(topics.requests.name(), r.getUserId());
      byte[] value = topics.requests.valueSerde().serializer().serialize(topics.requests.name(), r);
      acks.add(producer.send(new ProducerRecord<>(topics.requests.name(), key, value)));
    }
    producer.flush();
    for (int i = 0; i < requests.size(); i++) {
      get(acks.get(i), "request " + requests.get(i).getRequestId());
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Progress.Bar bar = progress.start("answers", requests.size())) {
      synchronized (this) {
        while (true) {
          checkFailure();
          Map<String, Response> got = new LinkedHashMap<>();
          List<String> missing = new ArrayList<>();
          for (Request r : requests) {
            Response resp = responses.get(r.getRequestId());
            if (resp == null) {
              missing.add(r.getRequestId());
            } else {
              got.put(r.getRequestId(), resp);
            }
          }
          bar.stepTo(got.size());
          long left = deadline - System.nanoTime();
          if (missing.isEmpty() || left <= 0) {
            return new Answers(got, missing);
          }
          waitQuietly(Math.min(left, Progress.TICK.toNanos()));
        }
      }
    }
  }

  /**
   * Adaptation lag of the given published events for one variant: from the broker's timestamp of the event to the
   * publication of the first adapter version of that user that covers it. Events whose seq is unknown or that no
   * adapter covers yet are left out (the coverage report counts them).
   */
  public synchronized long[] lagsMillis(Collection<Published> events, String variant) {
    return coverings(events, variant).stream().mapToLong(c -> c.version().publishedAt() - c.event().arrivalMillis())
        .toArray();
  }

  /**
   * Where the adaptation lag of the given events goes, for one variant: each covered event's lag split into the time
   * until the trigger its covering version answers (ingestion, and waiting for the user's previous training: one
   * trigger per adapter is pending at a time), the time that trigger waited for the trainer (other users' trainings
   * ahead of it), and the training with validation and publication. Events covered by a version that does not carry
   * its trigger and start times are left out.
   */
  public synchronized ReplayResult.LagBreakdown lagBreakdown(Collection<Published> events, String variant) {
    List<Covering> timed = coverings(events, variant).stream()
        .filter(c -> c.version().triggeredAt() >= 0 && c.version().startedAt() >= 0).toList();
    long[] untilTrigger = new long[timed.size()];
    long[] queued = new long[timed.size()];
    long[] training = new long[timed.size()];
    Set<AdapterSeen> versions = new HashSet<>();
    for (int i = 0; i < timed.size(); i++) {
      AdapterSeen a = timed.get(i).version();
      untilTrigger[i] = Math.max(0, a.triggeredAt() - timed.get(i).event().arrivalMillis());
      queued[i] = Math.max(0, a.startedAt() - a.triggeredAt());
      training[i] = Math.max(0, a.publishedAt() - a.startedAt());
      versions.add(a);
    }
    long busy = versions.stream().mapToLong(a -> Math.max(0, a.publishedAt() - a.startedAt())).sum();
    return ReplayResult.LagBreakdown.of(untilTrigger, queued, training, versions.size(), busy);
  }

  private record Covering(Published event, AdapterSeen version) {}

  /** Each event with a known seq and the first version of its user's adapter published after it that covers it. */
  private List<Covering> coverings(Collection<Published> events, String variant) {
    List<Covering> out = new ArrayList<>();
    for (Published p : events) {
      Long seq = seqByEvent.get(p.eventId());
      if (seq == null) {
        continue;
      }
      AdapterSeen first = null;
      for (AdapterSeen a : adapters.getOrDefault(Topics.adapterKey(p.userId(), p.task(), variant), List.of())) {
        if (a.coveredSeq() >= seq && a.publishedAt() >= p.arrivalMillis()
            && (first == null || a.publishedAt() < first.publishedAt())) {
          first = a;
        }
      }
      if (first != null) {
        out.add(new Covering(p, first));
      }
    }
    return out;
  }

  /** Counts of train results per outcome (published, or the refusal reason) for the given adapter keys. */
  public synchronized Map<String, Integer> trainOutcomes(Set<String> adapterKeys) {
    Map<String, Integer> out = new LinkedHashMap<>();
    for (String k : adapterKeys) {
      for (TrainResult r : results.getOrDefault(k, List.of())) {
        out.merge(r.getAccepted() ? "published" : r.getReason(), 1, Integer::sum);
      }
    }
    return out;
  }

  /** The latest adapter version seen per adapter key, for the keys given (absent: none). */
  public synchronized Map<String, Long> latestVersions(Set<String> adapterKeys) {
    Map<String, Long> out = new HashMap<>();
    for (String k : adapterKeys) {
      for (AdapterSeen a : adapters.getOrDefault(k, List.of())) {
        out.merge(k, a.version(), Math::max);
      }
    }
    return out;
  }

  public synchronized List<Published> published() {
    return List.copyOf(published);
  }

  private static RecordMetadata get(Future<RecordMetadata> f, String what) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while sending " + what, e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("could not send " + what + ": " + e.getCause().getMessage(), e.getCause());
    }
  }

  private void waitQuietly(long nanos) {
    try {
      long ms = Math.max(1, nanos / 1_000_000);
      wait(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting", e);
    }
  }

  private void checkFailure() {
    Throwable f = failure;
    if (f != null) {
      throw new IllegalStateException("reading the system's topics failed: " + f.getMessage(), f);
    }
  }

  @Override
  public void close() {
    closing = true;
    consumer.wakeup();
    try {
      poller.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    consumer.close(Duration.ofSeconds(2));
    producer.close(Duration.ofSeconds(5));
  }

  /** The adapter keys of the targets. */
  public static Set<String> keys(Collection<Target> targets) {
    Set<String> out = new HashSet<>();
    for (Target t : targets) {
      out.add(t.key());
    }
    return out;
  }
}
