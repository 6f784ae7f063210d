package dev.oppu.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.Query;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.lamp.synth.SynthDataset;
import dev.oppu.schemas.AvroSerde;
import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Request;
import dev.oppu.schemas.Response;
import dev.oppu.schemas.Topics;
import dev.oppu.serving.StreamsApp;
import dev.oppu.streams.IngestTopology;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Soak: replays a long stream of behaviors with requests mixed in through the real services (the streams application
 * and the trainer, as {@link SoakSystem}, in a JVM of their own) while the trainer trains the adapters the stream
 * triggers, samples that process's RSS ({@code /proc/PID/status} VmRSS) every few seconds, and counts losses:
 *
 * <ul>
 *   <li>a behavior is lost when it never reached the history, duplicated when it is in it twice. The history is read
 *       back from its changelog topic (read_committed), the durable copy the stores are restored from; the history
 *       bound is raised above the longest user history so that nothing is evicted and every event must be there;
 *   <li>a request is lost when it was never answered, duplicated when answered twice (responses read_committed).
 * </ul>
 *
 * <p>Every round of synthetic users plants a shift in each user's preferences, and the next round changes them again,
 * so the stream keeps triggering trainings (first adapters, new items, shifts) for the whole run; half the requests go
 * to a few users who are trained first, so serving loads and swaps real adapters, not only the cold path.
 *
 * <p>{@code rss_growth} = max RSS in the second half of the run / max RSS in the first half after the warm-up; it is
 * also the {@code ratio}: the first half is the baseline measured in the same run. The run is the time from the first
 * record sent until the streams application has committed every behavior and request and every request is answered.
 */
@Command(name = "soak", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Long replay with training running: lost/duplicated behaviors and answers, RSS growth.")
public final class SoakBench implements Callable<Integer> {

  @Option(names = "--events", defaultValue = "1000000", description = "Behaviors (default ${DEFAULT-VALUE}).")
  int events;

  @Option(names = "--requests", defaultValue = "10000", description = "Requests (default ${DEFAULT-VALUE}).")
  int requests;

  @Option(names = "--users", defaultValue = "4000",
      description = "Synthetic users per round; each round is a fresh synth with the same user ids and new "
          + "preferences, so histories grow and shift (default ${DEFAULT-VALUE}).")
  int users;

  @Option(names = "--partitions", defaultValue = "2", description = "Partitions (default ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--stream-threads", defaultValue = "2", description = "Stream threads (default ${DEFAULT-VALUE}).")
  int streamThreads;

  /** The base model; its task adapter for LaMP_2M is merged in. */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.ModelOptions model = new dev.oppu.cli.ModelOptions();

  /** Where and in what precision the model computes (one default for every command). */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.DeviceOptions device = new dev.oppu.cli.DeviceOptions();


  /**
   * Serving options; the soak's own settings unless given: 4 new tokens, a 500 ms batch wait (requests come one per
   * ~100 behaviors, so a short wait would decode them one by one), mode OPPU+RAG.
   */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.ServingOptions serving = new dev.oppu.cli.ServingOptions();

  @Option(names = "--first-min-items", defaultValue = "10",
      description = "A user's first training at this many items (default ${DEFAULT-VALUE}).")
  int firstMinItems;

  @Option(names = "--new-items-max", defaultValue = "50",
      description = "Retrain after this many new items, shift or not (default ${DEFAULT-VALUE}).")
  int newItemsMax;

  @Option(names = "--epochs", description = "Per-user training epochs (default: the trainer's, 2).")
  Integer epochs;

  @Option(names = "--max-replay", description = "Older items replayed per update (default: the trainer's, 50).")
  Integer maxReplay;

  @Option(names = "--rate", defaultValue = "0",
      description = "Behaviors per second sent (0: as fast as the producer goes; default ${DEFAULT-VALUE}).")
  double rate;

  @Option(names = "--rss-interval-s", defaultValue = "3",
      description = "RSS sampling period in seconds (default ${DEFAULT-VALUE}).")
  double rssIntervalS;

  @Option(names = "--warmup", defaultValue = "0.1",
      description = "Fraction of the run left out of the first half's RSS (default ${DEFAULT-VALUE}).")
  double warmup;

  @Option(names = "--stall-minutes", defaultValue = "10",
      description = "Give up when nothing progresses for this long (default ${DEFAULT-VALUE}).")
  double stallMinutes;

  @Option(names = "--child-jvm-opts", defaultValue = "-Xms1g -Xmx1g -XX:+AlwaysPreTouch",
      description = "JVM options of the streams + trainer process (default: ${DEFAULT-VALUE}: a fixed, pre-touched"
          + " heap, as a service runs, so that RSS growth is not the JVM sizing its heap but what happens outside"
          + " it or a heap that fills up).")
  String childJvmOpts;

  @Option(names = "--child-env", paramLabel = "KEY=VALUE",
      description = "Environment of the streams + trainer process (repeatable), e.g. MALLOC_ARENA_MAX=2.")
  Map<String, String> childEnv = new LinkedHashMap<>();

  @Option(names = "--rss-csv", paramLabel = "FILE",
      description = "Also write every RSS sample (seconds since start, MB) to this CSV file.")
  Path rssCsv;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @Option(names = "--work", description = "Working folder (default: a fresh temporary one, deleted after).")
  Path workOption;

  private static final Task TASK = Task.MOVIE_TAGGING;
  private static final int HOT_USERS = 32;

  /** One RSS sample of the streams + trainer process. */
  private record Sample(long atNanos, long rssKb) {}

  @Override
  public Integer call() throws Exception {
    device.check();
    if (events < 1 || requests < 0 || users < 1 || warmup < 0 || warmup >= 0.5) {
      throw new IllegalArgumentException("need events >= 1, requests >= 0, users >= 1, 0 <= warmup < 0.5");
    }
    Path modelDir = model.model().toAbsolutePath();
    if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
      throw new IllegalArgumentException("no model at " + modelDir + " (config.json missing)");
    }
    Path work = workOption != null ? Files.createDirectories(workOption) : Files.createTempDirectory("oppu-soak");
    try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.create().start()) {
      return run(broker.clientConfig(), modelDir, work);
    } finally {
      if (workOption == null) {
        RetrieveBench.deleteTree(work);
      }
    }
  }

  private int run(ClientConfig client, Path modelDir, Path work) throws Exception {
    // The data: rounds of synthetic users until there are enough behaviors; the longest history sets the bound.
    Plan plan = Plan.make(events, requests, users, seedOption.seed());
    System.out.printf(Locale.ROOT, "soak: %d behaviors of %d users in %d round(s), longest history %d; %d requests%n",
        events, users, plan.rounds, plan.longestHistory, requests);

    Properties names = new Properties();
    String base = "soak-" + Long.toHexString(System.currentTimeMillis());
    for (String key : Topics.KEYS) {
      names.setProperty(Topics.PREFIX + key, base + "." + key);
    }
    Topics topics = Topics.from(names);
    TopicAdmin.ensureTopics(client.admin(), topics, TopicAdmin.Settings.of(partitions));

    Properties settings = new Properties();
    settings.putAll(client.raw());
    settings.putAll(names);
    settings.setProperty("num.stream.threads", Integer.toString(streamThreads));
    settings.setProperty("oppu.ingest.variants", "rag");
    settings.setProperty("oppu.ingest.max-history", Integer.toString(plan.longestHistory));
    settings.setProperty("oppu.ingest.first-min-items", Integer.toString(firstMinItems));
    settings.setProperty("oppu.ingest.new-items-max", Integer.toString(newItemsMax));
    settings.setProperty("oppu.ingest.adapter-partitions", Integer.toString(partitions));
    settings.setProperty("oppu.serving.mode", "OPPU+RAG");
    settings.setProperty("oppu.serving.max.new.tokens", Integer.toString(serving.maxNewTokens(4)));
    settings.setProperty("oppu.serving.batch.wait.ms", Long.toString(serving.batchWaitMs(500)));
    serving.putSettings(settings); // any other serving option given
    Path settingsFile = work.resolve("soak.properties");
    try (Writer w = Files.newBufferedWriter(settingsFile)) {
      settings.store(w, "bench soak");
    }

    Child child = Child.start(this, settingsFile, modelDir, work);
    try {
      Responses responses = new Responses(client, topics);
      responses.start();
      Sampler sampler = new Sampler(child.process.pid(), rssIntervalS);
      long start = System.nanoTime();
      sampler.start();
      Sent sent = produce(client, topics, plan, responses, child, sampler);
      boolean complete = awaitDone(client, topics, sent, responses, child, sampler);
      long end = System.nanoTime();
      sampler.stop();
      List<Sample> samples = sampler.samples();
      String finalStatus = child.stop();
      responses.stop();

      History history = readHistory(client, topics, events);
      long deadLetters = countRecords(client, topics.deadLetters.name());

      // RSS: first half after the warm-up vs second half, by time.
      long mid = start + (end - start) / 2;
      long warm = start + (long) ((end - start) * warmup);
      long firstMax = 0;
      long secondMax = 0;
      long max = 0;
      for (Sample s : samples) {
        max = Math.max(max, s.rssKb);
        if (s.atNanos >= warm && s.atNanos < mid) {
          firstMax = Math.max(firstMax, s.rssKb);
        } else if (s.atNanos >= mid) {
          secondMax = Math.max(secondMax, s.rssKb);
        }
      }
      double growth = firstMax == 0 ? Double.NaN : (double) secondMax / firstMax;
      if (rssCsv != null) {
        StringBuilder csv = new StringBuilder("seconds,rss_mb\n");
        for (Sample s : samples) {
          csv.append(String.format(Locale.ROOT, "%.1f,%.1f%n", (s.atNanos - start) / 1e9, s.rssKb / 1024.0));
        }
        Files.writeString(rssCsv, csv);
      }
      long[] trained = child.publishedByHalf(mid);

      long lostEvents = events - history.found;
      long lostRequests = sent.requests - responses.answeredCount();
      double seconds = (end - start) / 1e9;
      System.out.printf(Locale.ROOT, "run: %.0f s, %d RSS samples, RSS max %d MB (first half after warm-up %d MB,"
              + " second half %d MB)%n", seconds, samples.size(), max / 1024, firstMax / 1024, secondMax / 1024);
      System.out.printf(Locale.ROOT, "history: %d of %d behaviors, %d twice, %d evicted; responses: %d of %d, %d"
              + " twice, %d errors, %d cold; dead letters %d; trainer: %s%n", history.found, events, history.dups,
          history.tombstones, responses.answeredCount(), sent.requests, responses.dups.get(), responses.errors.get(),
          responses.cold.get(), deadLetters, finalStatus);

      Map<String, Object> out = new LinkedHashMap<>();
      out.put("bench", "soak");
      out.put("events", events);
      out.put("requests", sent.requests);
      out.put("requests_answered", responses.answeredCount());
      out.put("lost", lostEvents + lostRequests);
      out.put("duplicated", history.dups + responses.dups.get());
      out.put("lost_events", lostEvents);
      out.put("lost_requests", lostRequests);
      out.put("duplicated_events", history.dups);
      out.put("duplicated_responses", responses.dups.get());
      out.put("error_responses", responses.errors.get());
      out.put("cold_responses", responses.cold.get());
      out.put("dead_letters", deadLetters);
      out.put("max_rss_mb", round1(max / 1024.0));
      out.put("rss_first_half_mb", round1(firstMax / 1024.0));
      out.put("rss_second_half_mb", round1(secondMax / 1024.0));
      out.put("rss_growth", round3(growth));
      out.put("ratio", round3(growth));
      out.put("ratio_is", "rss_growth: second-half max RSS / first-half (after warm-up) max RSS of the same run");
      out.put("rss_samples", samples.size());
      out.put("adapters_published", trained[0] + trained[1]);
      out.put("adapters_published_second_half", trained[1]);
      out.put("duration_s", round1(seconds));
      out.put("events_per_s", Math.round(events / seconds));
      out.put("complete", complete);
      out.put("child_jvm_opts", childJvmOpts);
      System.out.println(new ObjectMapper().writeValueAsString(out));
      return lostEvents + lostRequests == 0 && history.dups + responses.dups.get() == 0 ? 0 : 1;
    } finally {
      child.destroy();
    }
  }

  private static double round1(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static double round3(double v) {
    return Double.isNaN(v) ? v : Math.round(v * 1000) / 1000.0;
  }

  // ------------------------------------------------------------------------------------------------- data

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

  private record Sent(int requests) {}

  /**
   * Sends behaviors {@code e0..e(N-1)} (each round's users interleaved item by item, so every user's history grows
   * throughout the run) and, evenly among them, requests {@code r0..}: each a query of a user of the current round.
   */
  private Sent produce(ClientConfig client, Topics topics, Plan plan, Responses responses, Child child,
      Sampler sampler) {
    Properties pp = client.producer();
    pp.put("linger.ms", "20");
    pp.put("batch.size", Integer.toString(256 * 1024));
    AvroSerde<Behavior> bs = (AvroSerde<Behavior>) topics.behaviors.valueSerde();
    AvroSerde<Request> rs = (AvroSerde<Request>) topics.requests.valueSerde();
    long every = requests == 0 ? Long.MAX_VALUE : Math.max(1, events / requests);
    int eventNo = 0;
    int requestNo = 0;
    long t0 = System.nanoTime();
    long lastReport = t0;
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(pp, new StringSerializer(),
        new org.apache.kafka.common.serialization.ByteArraySerializer())) {
      for (int r = 0; r < plan.rounds && eventNo < events; r++) {
        List<UserData> us = Plan.round(users, seedOption.seed(), r).users();
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
            producer.send(new ProducerRecord<>(topics.behaviors.name(), u.userId(), bs.encode(b)));
            eventNo++;
            if (eventNo % every == 0 && requestNo < requests) {
              // Half the requests go to a few hot users (trained first, so they are answered with their adapters),
              // half spread over everyone (mostly answered cold: their first training is still queued).
              UserData target = requestNo % 2 == 1 ? us.get((requestNo / 2) % Math.min(HOT_USERS, us.size()))
                  : us.get((int) ((requestNo * 7919L) % us.size()));
              Query q = target.queries().get((requestNo / 2) % target.queries().size());
              String userId = target.userId();
              Request req = Request.newBuilder().setRequestId("r" + requestNo).setUserId(userId).setTask(TASK.id())
                  .setInput(q.input()).setRequestTime(Instant.now()).build();
              producer.send(new ProducerRecord<>(topics.requests.name(), userId, rs.encode(req)));
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
              report("sending", now - t0, eventNo, requestNo, responses, child, sampler);
              if (!child.process.isAlive()) {
                throw new IllegalStateException("the streams + trainer process died; see " + child.log);
              }
            }
          }
        }
      }
      producer.flush();
    }
    System.out.printf(Locale.ROOT, "sent %d behaviors and %d requests in %.1f s%n", eventNo, requestNo,
        (System.nanoTime() - t0) / 1e9);
    return new Sent(requestNo);
  }

  private static void sleepNanos(long nanos) {
    try {
      TimeUnit.NANOSECONDS.sleep(nanos);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static void report(String phase, long elapsedNanos, long sentEvents, long sentRequests,
      Responses responses, Child child, Sampler sampler) {
    System.out.printf(Locale.ROOT, "%6.0f s %s: behaviors sent %d, requests sent %d, answered %d, RSS %d MB, %s%n",
        elapsedNanos / 1e9, phase, sentEvents, sentRequests, responses.answeredCount(), sampler.lastKb() / 1024,
        child.lastStatus);
  }

  // ------------------------------------------------------------------------------------------------- end of run

  /**
   * Waits until the streams application has committed every behavior and request and every request is answered;
   * gives up when nothing moves for {@code --stall-minutes}. Returns whether the run completed.
   */
  private boolean awaitDone(ClientConfig client, Topics topics, Sent sent, Responses responses, Child child,
      Sampler sampler) throws Exception {
    String group = StreamsApp.APPLICATION_ID;
    long t0 = System.nanoTime();
    long lastProgress = t0;
    long lastReport = t0;
    long lastCommitted = -1;
    long lastAnswered = -1;
    try (Admin admin = Admin.create(client.admin())) {
      Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
      for (String topic : List.of(topics.behaviors.name(), topics.requests.name())) {
        for (int p = 0; p < partitions; p++) {
          latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
        }
      }
      Map<TopicPartition, Long> ends = new HashMap<>();
      admin.listOffsets(latest).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
      while (true) {
        Map<TopicPartition, OffsetAndMetadata> committed =
            admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        long behind = 0;
        long done = 0;
        for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
          OffsetAndMetadata c = committed.get(e.getKey());
          long at = c == null ? 0 : c.offset();
          done += Math.min(at, e.getValue());
          behind += Math.max(0, e.getValue() - at); // under exactly-once a commit may sit past the last record
        }
        long answered = responses.answeredCount();
        if (behind == 0 && answered >= sent.requests) {
          return true;
        }
        long now = System.nanoTime();
        if (done != lastCommitted || answered != lastAnswered) {
          lastCommitted = done;
          lastAnswered = answered;
          lastProgress = now;
        } else if (now - lastProgress > stallMinutes * 60e9) {
          System.out.printf(Locale.ROOT, "no progress for %.0f min: %d records not committed, %d of %d answered%n",
              stallMinutes, behind, answered, sent.requests);
          return false;
        }
        if (!child.process.isAlive()) {
          System.out.println("the streams + trainer process died; see " + child.log);
          return false;
        }
        if (now - lastReport > 30e9) {
          lastReport = now;
          System.out.printf(Locale.ROOT, "draining: %d records behind, ", behind);
          report("draining", now - t0, events, sent.requests, responses, child, sampler);
        }
        Thread.sleep(500);
      }
    }
  }

  private record History(long found, long dups, long tombstones) {}

  /** Every behavior's event id in the history changelog (read_committed), counted once per appearance. */
  private static History readHistory(ClientConfig client, Topics topics, int events) {
    String changelog = StreamsApp.APPLICATION_ID + "-" + IngestTopology.HISTORY_STORE + "-changelog";
    AvroSerde<dev.oppu.schemas.HistoryItem> serde = new AvroSerde<>(dev.oppu.schemas.HistoryItem.class);
    BitSet seen = new BitSet(events);
    long[] dups = {0};
    long[] tombstones = {0};
    long[] foreign = {0};
    readAll(client, changelog, r -> {
      if (r.value() == null) {
        tombstones[0]++;
        return;
      }
      String id = serde.decode(r.value()).getEventId();
      int i = id.startsWith("e") ? parseOr(id.substring(1), -1) : -1;
      if (i < 0 || i >= events) {
        foreign[0]++;
      } else if (seen.get(i)) {
        dups[0]++;
      } else {
        seen.set(i);
      }
    });
    if (foreign[0] > 0) {
      System.out.println("history holds " + foreign[0] + " items the soak never sent");
    }
    return new History(seen.cardinality(), dups[0], tombstones[0]);
  }

  private static long countRecords(ClientConfig client, String topic) {
    long[] n = {0};
    readAll(client, topic, r -> n[0]++);
    return n[0];
  }

  /** Reads a topic from the beginning to its current end, read_committed. */
  private static void readAll(ClientConfig client, String topic,
      java.util.function.Consumer<ConsumerRecord<byte[], byte[]>> each) {
    Properties p = client.consumer(null);
    p.setProperty(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
          .map(pi -> new TopicPartition(topic, pi.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      Map<TopicPartition, Long> end = c.endOffsets(parts);
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
          each.accept(r);
        }
      }
    }
  }

  private static int parseOr(String s, int dflt) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      return dflt;
    }
  }

  // ------------------------------------------------------------------------------------------------- helpers

  /** Tails the responses topic (read_committed) from the start: which requests were answered, and how often. */
  private static final class Responses {
    private final BitSet answered = new BitSet();
    final AtomicLong dups = new AtomicLong();
    final AtomicLong errors = new AtomicLong();
    final AtomicLong cold = new AtomicLong();
    final AtomicLong foreign = new AtomicLong();
    private final ClientConfig client;
    private final Topics topics;
    private volatile boolean running = true;
    private final Thread thread;
    private final CountDownLatch stopped = new CountDownLatch(1);

    Responses(ClientConfig client, Topics topics) {
      this.client = client;
      this.topics = topics;
      this.thread = new Thread(this::run, "soak-responses");
      thread.setDaemon(true);
    }

    void start() {
      thread.start();
    }

    synchronized long answeredCount() {
      return answered.cardinality();
    }

    private void run() {
      AvroSerde<Response> serde = (AvroSerde<Response>) topics.responses.valueSerde();
      try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(client.consumer(null), new ByteArrayDeserializer(),
          new ByteArrayDeserializer())) {
        String topic = topics.responses.name();
        List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
            .map(pi -> new TopicPartition(topic, pi.partition())).toList();
        c.assign(parts);
        c.seekToBeginning(parts);
        while (running) {
          for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
            Response resp = serde.decode(r.value());
            String id = resp.getRequestId();
            int i = id.startsWith("r") ? parseOr(id.substring(1), -1) : -1;
            if (i < 0) {
              foreign.incrementAndGet();
              continue;
            }
            if (resp.getError() != null) {
              errors.incrementAndGet();
            }
            if (resp.getCold()) {
              cold.incrementAndGet();
            }
            synchronized (this) {
              if (answered.get(i)) {
                dups.incrementAndGet();
              } else {
                answered.set(i);
              }
            }
          }
        }
      } finally {
        stopped.countDown();
      }
    }

    /** Reads what is left for a few seconds (a late duplicate would show up here), then stops. */
    void stop() throws InterruptedException {
      Thread.sleep(3000);
      running = false;
      stopped.await(30, TimeUnit.SECONDS);
    }
  }

  /** Samples VmRSS of one process from {@code /proc/PID/status}. */
  private static final class Sampler {
    private final Path status;
    private final long periodMillis;
    private final List<Sample> samples = new ArrayList<>();
    private volatile boolean running = true;
    private Thread thread;

    Sampler(long pid, double periodSeconds) {
      this.status = Path.of("/proc", Long.toString(pid), "status");
      this.periodMillis = Math.max(100, (long) (periodSeconds * 1000));
    }

    void start() {
      thread = new Thread(() -> {
        while (running) {
          long kb = readRssKb();
          if (kb > 0) {
            synchronized (samples) {
              samples.add(new Sample(System.nanoTime(), kb));
            }
          }
          try {
            Thread.sleep(periodMillis);
          } catch (InterruptedException e) {
            return;
          }
        }
      }, "soak-rss");
      thread.setDaemon(true);
      thread.start();
    }

    private long readRssKb() {
      try {
        for (String line : Files.readAllLines(status)) {
          if (line.startsWith("VmRSS:")) {
            return Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
          }
        }
      } catch (IOException | RuntimeException e) {
        // the process is gone
      }
      return -1;
    }

    long lastKb() {
      synchronized (samples) {
        return samples.isEmpty() ? 0 : samples.get(samples.size() - 1).rssKb;
      }
    }

    void stop() throws InterruptedException {
      running = false;
      thread.interrupt();
      thread.join(5000);
      long kb = readRssKb();
      if (kb > 0) {
        synchronized (samples) {
          samples.add(new Sample(System.nanoTime(), kb));
        }
      }
    }

    List<Sample> samples() {
      synchronized (samples) {
        return new ArrayList<>(samples);
      }
    }
  }

  /** The streams + trainer JVM ({@link SoakSystem}); its stderr goes to a log file in the work folder. */
  private static final class Child {
    final Process process;
    final Path log;
    volatile String lastStatus = "";
    private final List<long[]> statuses = new ArrayList<>(); // {nanoTime, published}
    private final CountDownLatch ready = new CountDownLatch(1);
    private final CountDownLatch finished = new CountDownLatch(1);
    private volatile String finalLine = "";

    private Child(Process process, Path log) {
      this.process = process;
      this.log = log;
    }

    static Child start(SoakBench b, Path settings, Path modelDir, Path work) throws Exception {
      List<String> cmd = new ArrayList<>();
      cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
      for (String o : b.childJvmOpts.trim().split("\\s+")) {
        if (!o.isEmpty()) {
          cmd.add(o);
        }
      }
      for (String prop : List.of("ai.djl.offline", "ai.djl.pytorch.graph_optimizer", "java.io.tmpdir",
          "ai.djl.pytorch.num_threads", "ai.djl.pytorch.num_interop_threads")) {
        if (System.getProperty(prop) != null) {
          cmd.add("-D" + prop + "=" + System.getProperty(prop));
        }
      }
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), SoakSystem.class.getName(),
          "--settings", settings.toString(), "--model", modelDir.toString(), "--device", b.device.device(),
          "--dtype", b.device.dtype(),
          "--work", work.resolve("system").toString(),
          "--status-interval-ms", "2000"));
      if (b.model.taskAdapters() != null) {
        cmd.addAll(List.of("--task-adapters", b.model.taskAdapters().toAbsolutePath().toString()));
      }
      if (b.epochs != null) {
        cmd.addAll(List.of("--epochs", b.epochs.toString()));
      }
      if (b.maxReplay != null) {
        cmd.addAll(List.of("--max-replay", b.maxReplay.toString()));
      }
      Path log = work.resolve("streams-trainer.log");
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
      pb.environment().putAll(b.childEnv);
      Process p = pb.start();
      Child c = new Child(p, log);
      Thread reader = new Thread(c::readStdout, "soak-child-stdout");
      reader.setDaemon(true);
      reader.start();
      long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
      while (!c.ready.await(1, TimeUnit.SECONDS)) {
        if (!p.isAlive() || System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new IllegalStateException("the streams + trainer process did not start; see " + log + ":\n"
              + tail(log));
        }
      }
      System.out.println("streams + trainer process " + p.pid() + " ready (log: " + log + ")");
      return c;
    }

    private void readStdout() {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
          StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          if (line.equals("soak-ready")) {
            ready.countDown();
          } else if (line.startsWith("soak-status ")) {
            lastStatus = line.substring("soak-status ".length());
            synchronized (statuses) {
              statuses.add(new long[] {System.nanoTime(), field(line, "published")});
            }
          } else if (line.startsWith("soak-final ")) {
            finalLine = line.substring("soak-final ".length());
            finished.countDown();
          }
        }
      } catch (IOException e) {
        // the process ended
      } finally {
        finished.countDown();
      }
    }

    private static long field(String line, String name) {
      for (String part : line.split(" ")) {
        if (part.startsWith(name + "=")) {
          return Long.parseLong(part.substring(name.length() + 1));
        }
      }
      return -1;
    }

    /** Adapters published before {@code mid} and from {@code mid} on. */
    long[] publishedByHalf(long mid) {
      long atMid = 0;
      long last = 0;
      synchronized (statuses) {
        for (long[] s : statuses) {
          if (s[0] < mid) {
            atMid = s[1];
          }
          last = s[1];
        }
      }
      return new long[] {atMid, last - atMid};
    }

    /** Asks the process to close its services; returns its final status line. */
    String stop() throws Exception {
      try (Writer w = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8)) {
        w.write("stop\n");
      } catch (IOException alreadyGone) {
        // reported below
      }
      finished.await(2, TimeUnit.MINUTES);
      if (!process.waitFor(1, TimeUnit.MINUTES)) {
        process.destroyForcibly();
      }
      return finalLine.isEmpty() ? "(no final status; see " + log + ")" : finalLine;
    }

    void destroy() {
      if (process.isAlive()) {
        process.destroyForcibly();
      }
    }

    private static String tail(Path log) {
      try {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
      } catch (IOException e) {
        return "(unreadable)";
      }
    }
  }
}
