package dev.oppu.evaluation.replay;

import dev.oppu.broker.ClientConfig;
import dev.oppu.schemas.AdapterVersion;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.HistoryItem;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.TrainResult;
import dev.oppu.schemas.TrainTrigger;
import dev.oppu.schemas.Topics;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * TEST DOUBLE for the OPPU services (ingestion, trainer, serving), so the replay engine's bookkeeping can be tested
 * against a real broker without a model: it numbers each user's behaviors (seq from 0), publishes after every
 * {@code batch} behaviors of a user a trigger carrying the history and an adapter version covering it (except for
 * the users in {@code neverTrain}), and answers each request with {@code answer.apply(request)} (null: no answer).
 */
public final class FakeSystem implements AutoCloseable {

  final List<Behavior> received = new ArrayList<>();
  final Map<String, Request> requests = new ConcurrentHashMap<>();
  private final Topics topics;
  private final KafkaConsumer<byte[], byte[]> consumer;
  private final KafkaProducer<byte[], byte[]> producer;
  private final Set<String> neverTrain;
  private final Function<Request, String> answer;
  private final int batch;
  private final Map<String, List<HistoryItem>> history = new HashMap<>();
  private final Thread thread;
  private volatile boolean closing;
  /** The first failure of the fake's loop or of one of its sends (null: none); {@link #close} throws it. */
  public volatile Throwable failure;

  public FakeSystem(ClientConfig client, Topics topics, int batch, Set<String> neverTrain, Function<Request, String> answer) {
    this.topics = topics;
    this.batch = batch;
    this.neverTrain = neverTrain;
    this.answer = answer;
    Properties cp = client.consumer(null);
    cp.put("key.deserializer", ByteArrayDeserializer.class.getName());
    cp.put("value.deserializer", ByteArrayDeserializer.class.getName());
    consumer = new KafkaConsumer<>(cp);
    List<TopicPartition> tps = new ArrayList<>();
    for (String t : List.of(topics.behaviors.name(), topics.requests.name())) {
      consumer.partitionsFor(t).forEach(p -> tps.add(new TopicPartition(t, p.partition())));
    }
    consumer.assign(tps);
    consumer.seekToBeginning(tps);
    Properties pp = client.producer();
    pp.put("key.serializer", ByteArraySerializer.class.getName());
    pp.put("value.serializer", ByteArraySerializer.class.getName());
    producer = new KafkaProducer<>(pp);
    thread = new Thread(this::loop, "fake-system");
    thread.setDaemon(true);
    thread.start();
  }

  private void loop() {
    try {
      while (!closing) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(50))) {
          if (r.topic().equals(topics.behaviors.name())) {
            onBehavior(topics.behaviors.valueSerde().deserializer().deserialize(r.topic(), r.value()), r.timestamp());
          } else {
            onRequest(topics.requests.valueSerde().deserializer().deserialize(r.topic(), r.value()));
          }
        }
        producer.flush();
      }
    } catch (org.apache.kafka.common.errors.WakeupException e) {
      // closing
    } catch (Throwable t) {
      fail(t);
    }
  }

  private void onBehavior(Behavior b, long arrival) {
    synchronized (received) {
      received.add(b);
    }
    List<HistoryItem> h = history.computeIfAbsent(b.getUserId() + "|" + b.getTask(), k -> new ArrayList<>());
    h.add(HistoryItem.newBuilder().setSeq(h.size()).setEventId(b.getEventId()).setItemId(b.getItemId())
        .setEventTime(b.getEventTime()).setArrivalTime(Instant.ofEpochMilli(arrival)).setFields(b.getFields())
        .build());
    if (h.size() % batch != 0 || neverTrain.contains(b.getUserId())) {
      return;
    }
    long covered = h.size() - 1;
    for (String variant : List.of("plain", "rag", "pag")) {
      String triggerId = b.getUserId() + "-" + variant + "-" + covered;
      TrainTrigger t = TrainTrigger.newBuilder().setTriggerId(triggerId).setUserId(b.getUserId())
          .setTask(b.getTask()).setVariant(variant).setReason("new-items").setScore(batch)
          .setCreatedAt(Instant.now()).setHistory(new ArrayList<>(h)).setNewFromSeq(covered - batch + 1).build();
      send(topics.trainTriggers, b.getUserId(), t);
      // trained at once: nothing queued, the lag is all ingestion and "training"
      AdapterVersion a = AdapterVersion.newBuilder().setUserId(b.getUserId()).setTask(b.getTask())
          .setVariant(variant).setVersion(covered).setTriggerId(triggerId).setCoveredSeq(covered)
          .setTriggeredAt(t.getCreatedAt()).setTrainingStartedAt(t.getCreatedAt())
          .setItemsTrained(h.size()).setLossBefore(1).setLossAfter(0.5).setTrainMillis(1)
          .setPublishedAt(Instant.now()).setBaseFingerprint("fake").setTaskFingerprint("fake")
          .setAdapterConfig("{}").setWeightsSha256("fake").build();
      send(topics.adapters, Topics.adapterKey(b.getUserId(), b.getTask(), variant), a);
      send(topics.trainResults, b.getUserId(), TrainResult.newBuilder().setTriggerId(triggerId)
          .setUserId(b.getUserId()).setTask(b.getTask()).setVariant(variant).setAccepted(true)
          .setReason("published").setVersion(covered).setCoveredSeq(covered).setFinishedAt(Instant.now()).build());
    }
  }

  private void onRequest(Request r) {
    requests.put(r.getRequestId(), r);
    String out = answer.apply(r);
    if (out == null) {
      return;
    }
    boolean trained = history.containsKey(r.getUserId() + "|" + r.getTask()) && !neverTrain.contains(r.getUserId());
    send(topics.responses, r.getUserId(), Response.newBuilder().setRequestId(r.getRequestId())
        .setUserId(r.getUserId()).setTask(r.getTask()).setMode(r.getMode()).setOutput(out).setCold(!trained)
        .build());
  }

  private <V> void send(Topics.Topic<String, V> topic, String key, V value) {
    producer.send(new ProducerRecord<>(topic.name(), Topics.KEY.serializer().serialize(topic.name(), key),
        topic.valueSerde().serializer().serialize(topic.name(), value)), (md, e) -> {
          if (e != null) {
            fail(new IllegalStateException("fake system could not send to " + topic.name() + ": " + e, e));
          }
        });
  }

  /** Keeps the first failure (of the loop or of a send): {@link #close} throws it. */
  private synchronized void fail(Throwable t) {
    if (failure == null) {
      failure = t;
    }
  }

  public List<Behavior> received() {
    synchronized (received) {
      return List.copyOf(received);
    }
  }

  @Override
  public void close() throws InterruptedException {
    closing = true;
    consumer.wakeup();
    thread.join(5000);
    consumer.close();
    producer.close(); // completes every send: their callbacks have run
    if (failure != null) {
      throw new IllegalStateException("the fake system failed: " + failure, failure);
    }
  }
}
