package dev.oppu.bench;

import dev.oppu.broker.ClientConfig;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Topics;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The load of a soak ({@link SoakBench}): rounds of synthetic users (the same user ids, fresh preferences with a
 * planted shift each round), their behaviors sent item by item across users, requests mixed in evenly.
 */
final class SoakLoad {

  static final Task TASK = Task.MOVIE_TAGGING;
  private static final int HOT_USERS = 32;

  private final int events;
  private final int requests;
  private final int users;
  private final double rate;
  private final long seed;

  /** {@code rate}: behaviors per second (0: as fast as the producer goes). */
  SoakLoad(int events, int requests, int users, double rate, long seed) {
    this.events = events;
    this.requests = requests;
    this.users = users;
    this.rate = rate;
    this.seed = seed;
  }

  /** The plan of this load. */
  Plan plan() {
    return Plan.make(events, requests, users, seed);
  }

  /** What to send: {@code rounds} synth data sets (generated lazily, one at a time) and the history bound. */
  record Plan(int rounds, int longestHistory, int events, int requests, int users, long seed) {
    static Plan make(int events, int requests, int users, long seed) {
      int rounds = 0;
      int sent = 0;
      Map<String, Integer> perUser = new HashMap<>();
      while (sent < events) {
        for (UserData u : round(users, seed, rounds).users()) {
          int n = Math.min(u.profile().size(), events - sent);
          perUser.merge(u.userId(), n, Integer::sum);
          sent += n;
        }
        rounds++;
      }
      int longest = perUser.values().stream().mapToInt(Integer::intValue).max().orElse(1);
      return new Plan(rounds, Math.max(longest, 1), events, requests, users, seed);
    }

    /** Round r: the same user ids, fresh preferences, each with a planted shift mid-history. */
    static SynthDataset round(int users, long seed, int r) {
      return Synth.generate(TASK, Synth.Params.defaults().withUsers(users).withTrainUsers(0).withQueries(2)
          .withShift(true).withSeed(seed + r));
    }
  }

  /**
   * What was sent: the number of requests ({@code r0..}), and for request {@code i} its user and when it was handed
   * to the producer ({@code System.nanoTime()}).
   */
  record Sent(int requests, String[] users, long[] sentNanos, long failedSends) {}

  /** What runs the system under load, as the load and the audit watch it. */
  interface Watch {
    /** Whether the system under load is still running. */
    boolean alive();

    /** Where to look when it is not (its log). */
    String where();

    /** A short status for the progress lines. */
    String status();

    /** Called on the sending thread after each behavior sent ({@code behaviors} so far). */
    default void sent(int behaviors) {}
  }

  /**
   * Sends behaviors {@code e0..e(N-1)} (each round's users interleaved item by item, so every user's history grows
   * throughout the run) and, evenly among them, requests {@code r0..}: each a query of a user of the current round.
   */
  Sent produce(ClientConfig client, Topics topics, Plan plan, SoakResponses responses, Watch watch) {
    Properties pp = client.producer();
    pp.put("linger.ms", "20");
    pp.put("batch.size", Integer.toString(256 * 1024));
    AvroSerde<Behavior> bs = (AvroSerde<Behavior>) topics.behaviors.valueSerde();
    AvroSerde<Request> rs = (AvroSerde<Request>) topics.requests.valueSerde();
    long every = requests == 0 ? Long.MAX_VALUE : Math.max(1, events / requests);
    int eventNo = 0;
    int requestNo = 0;
    String[] requestUsers = new String[requests];
    long[] requestSent = new long[requests];
    long t0 = System.nanoTime();
    long lastReport = t0;
    java.util.concurrent.atomic.AtomicLong failed = new java.util.concurrent.atomic.AtomicLong();
    org.apache.kafka.clients.producer.Callback check = (md, e) -> {
      if (e != null && failed.getAndIncrement() == 0) {
        System.out.println("a send failed (the audit would count it as lost): " + e);
      }
    };
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(pp, new StringSerializer(),
        new org.apache.kafka.common.serialization.ByteArraySerializer())) {
      for (int r = 0; r < plan.rounds && eventNo < events; r++) {
        List<UserData> us = Plan.round(users, seed, r).users();
        int longest = us.stream().mapToInt(u -> u.profile().size()).max().orElse(0);
        for (int h = 0; h < longest && eventNo < events; h++) {
          for (int ui = 0; ui < us.size() && eventNo < events; ui++) {
            UserData u = us.get(ui);
            if (h >= u.profile().size()) {
              continue;
            }
            HistoryItem item = u.profile().get(h);
            Behavior b = Behavior.newBuilder().setEventId("e" + eventNo).setUserId(u.userId()).setTask(TASK.id())
                .setEventTime(Instant.now()).setItemId(item.id()).setFields(item.fields()).build();
            producer.send(new ProducerRecord<>(topics.behaviors.name(), u.userId(), bs.encode(b)), check);
            eventNo++;
            watch.sent(eventNo);
            if (eventNo % every == 0 && requestNo < requests) {
              // Half the requests go to a few hot users (trained first, so they are answered with their adapters),
              // half spread over everyone (mostly answered cold: their first training is still queued).
              UserData target = requestNo % 2 == 1 ? us.get((requestNo / 2) % Math.min(HOT_USERS, us.size()))
                  : us.get((int) ((requestNo * 7919L) % us.size()));
              Query q = target.queries().get((requestNo / 2) % target.queries().size());
              String userId = target.userId();
              Request req = Request.newBuilder().setRequestId("r" + requestNo).setUserId(userId).setTask(TASK.id())
                  .setInput(q.input()).setRequestTime(Instant.now()).build();
              requestUsers[requestNo] = userId;
              requestSent[requestNo] = System.nanoTime();
              producer.send(new ProducerRecord<>(topics.requests.name(), userId, rs.encode(req)), check);
              requestNo++;
            }
            if (rate > 0) {
              long due = t0 + (long) (eventNo / rate * 1e9);
              long wait = due - System.nanoTime();
              if (wait > 0) {
                sleepNanos(wait);
              }
            }
            long now = System.nanoTime();
            if (now - lastReport > 30e9) {
              lastReport = now;
              report("sending", now - t0, eventNo, requestNo, responses, watch);
              if (!watch.alive()) {
                throw new IllegalStateException("the system under load died; see " + watch.where());
              }
            }
          }
        }
      }
      producer.flush();
    }
    System.out.printf(Locale.ROOT, "sent %d behaviors and %d requests in %.1f s%n", eventNo, requestNo,
        (System.nanoTime() - t0) / 1e9);
    return new Sent(requestNo, java.util.Arrays.copyOf(requestUsers, requestNo),
        java.util.Arrays.copyOf(requestSent, requestNo), failed.get());
  }

  private static void sleepNanos(long nanos) {
    try {
      TimeUnit.NANOSECONDS.sleep(nanos);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** One progress line. */
  static void report(String phase, long elapsedNanos, long sentEvents, long sentRequests,
      SoakResponses responses, Watch watch) {
    System.out.printf(Locale.ROOT, "%6.0f s %s: behaviors sent %d, requests sent %d, answered %d, %s%n",
        elapsedNanos / 1e9, phase, sentEvents, sentRequests, responses.answeredCount(), watch.status());
  }

  /** The soak's watch: its streams + trainer process and that process's RSS. */
  static Watch watch(SoakChild child, SoakRssSampler sampler) {
    return new Watch() {
      @Override
      public boolean alive() {
        return child.process.isAlive();
      }

      @Override
      public String where() {
        return child.log.toString();
      }

      @Override
      public String status() {
        return "RSS " + sampler.lastKb() / 1024 + " MB, " + child.lastStatus;
      }
    };
  }
}
