package dev.oppu.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaCluster;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.schemas.Topics;
import dev.oppu.system.OppuSystem;
import dev.oppu.system.TrainerPart;
import dev.oppu.trainer.AdapterTraining;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Failover: the system as it runs on a cluster, hit by a crash in the middle of a replay. A 3-node KRaft cluster
 * ({@link EmbeddedKafkaCluster}: replication factor 3, {@code min.insync.replicas} 2, every producer {@code acks=all}),
 * two {@code oppu run streams} instances of one application ({@code num.standby.replicas} 1, each an OS process,
 * {@link FailoverInstance}) and two trainers (this JVM, one consumer group, distinct transactional ids). The soak's
 * load ({@link SoakLoad}: behaviors of many users with requests mixed in, at a fixed rate) runs through them; when
 * {@code --kill-at} of the behaviors are sent, one part is killed with SIGKILL:
 * <ul>
 *   <li>{@code --kill streams}: the instance that holds partition 0 of the requests topic. Its partitions move to the
 *       other instance once its group session times out and its open transaction is aborted (transaction timeout);
 *   <li>{@code --kill broker}: the node leading partition 0 of the requests topic. Its partitions get new leaders
 *       among the in-sync replicas; clients find them and go on.
 * </ul>
 *
 * <p>Figures: {@code resume_s}, from the kill to the first answer, read by the responses consumer, to a request sent
 * after the kill by a user on a moved partition (the requests partitions the killed instance held, or the killed
 * broker led): only the new owner can answer those. {@code p99_move_s}: p99 answer latency of the requests that
 * waited for the move (on a moved partition, answered after the kill, sent before {@code resume_s}).
 * {@code p99_steady_s}: p99 answer latency of the requests sent in the 30 s before the kill and answered before it
 * (past the start-up: serving's lazy model load, the first wave of trainings). {@code ratio} = {@code p99_move_s / p99_steady_s}. {@code lost} and
 * {@code duplicated}: behaviors missing from or twice in the history changelog and requests unanswered or answered
 * twice, counted as the soak counts them ({@link SoakAudit}, {@link SoakResponses}); both must be 0.
 */
@Command(name = "failover", mixinStandardHelpOptions = true, sortOptions = false,
    description = "Kill a streams instance (or a broker) during a replay on a 3-node cluster: resume time, answer "
        + "latency during the move, lost/duplicated behaviors and answers.")
public final class FailoverBench implements Callable<Integer> {

  /** What is killed. */
  enum Kill { streams, broker }

  /** The streams instances' names, also their client ids. */
  static final List<String> INSTANCES = List.of("streams-a", "streams-b");
  /** The baseline's window: requests sent this long before the kill. */
  static final java.time.Duration STEADY_WINDOW = java.time.Duration.ofSeconds(30);
  /** The trainers' instance ids (transactional ids {@code oppu-trainer-<id>}). */
  static final List<String> TRAINERS = List.of("failover-0", "failover-1");

  @Option(names = "--kill", defaultValue = "streams",
      description = "What to kill: streams (a streams instance) or broker (a Kafka node); default ${DEFAULT-VALUE}.")
  Kill kill;

  @Option(names = "--events", defaultValue = "3600", description = "Behaviors (default ${DEFAULT-VALUE}).")
  int events;

  @Option(names = "--requests", defaultValue = "120", description = "Requests (default ${DEFAULT-VALUE}).")
  int requests;

  @Option(names = "--users", defaultValue = "20", description = "Synthetic users (default ${DEFAULT-VALUE}).")
  int users;

  @Option(names = "--rate", defaultValue = "30",
      description = "Behaviors per second; requests are spread evenly among them (default ${DEFAULT-VALUE}: with"
          + " the default counts, 2 minutes of load and a request a second, well within what one instance answers"
          + " on 2 busy cores, so that latency measures the failover, not a backlog).")
  double rate;

  @Option(names = "--kill-at", defaultValue = "0.75",
      description = "Kill when this share of the behaviors is sent (default ${DEFAULT-VALUE}).")
  double killAt;

  @Option(names = "--partitions", defaultValue = "4", description = "Partitions (default ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--session-timeout-ms", defaultValue = "6000",
      description = "The streams instances' group session timeout: how long a dead instance keeps its partitions "
          + "(Kafka's default 45000; default here ${DEFAULT-VALUE}).")
  int sessionTimeoutMs;

  @Option(names = "--transaction-timeout-ms", defaultValue = "10000",
      description = "The streams instances' transaction timeout: a dead instance's open transaction blocks its "
          + "partitions until the broker aborts it (Kafka Streams' exactly-once default 10000; `run streams` "
          + "otherwise allows 300000 for slow generation; default here ${DEFAULT-VALUE}).")
  int transactionTimeoutMs;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.ModelOptions model = new dev.oppu.cli.ModelOptions();

  @picocli.CommandLine.Mixin
  dev.oppu.cli.DeviceOptions device = new dev.oppu.cli.DeviceOptions();

  /** Serving options; the bench's own unless given: 4 new tokens, a 100 ms batch wait, mode OPPU+RAG. */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.ServingOptions serving = new dev.oppu.cli.ServingOptions();

  @Option(names = "--epochs", defaultValue = "1", description = "Per-user training epochs (default ${DEFAULT-VALUE}).")
  int epochs;

  @Option(names = "--first-min-items", defaultValue = "10",
      description = "A user's first training at this many items (default ${DEFAULT-VALUE}).")
  int firstMinItems;

  @Option(names = "--new-items-max", defaultValue = "1000",
      description = "Retrain after this many new items, shift or not (default ${DEFAULT-VALUE}: each user's first"
          + " adapter and retraining on shifts only; on 2 cores steady retraining of every user saturates the CPU, and"
          + " then latency measures the training queue, not the failover; the soak is the bench for that load).")
  int newItemsMax;

  @Option(names = "--instance-jvm-opts",
      defaultValue = "-Xmx768m -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1",
      description = "JVM options of each streams instance (default: ${DEFAULT-VALUE}).")
  String instanceJvmOpts;

  @Option(names = "--stall-minutes", defaultValue = "5",
      description = "Give up when nothing progresses for this long (default ${DEFAULT-VALUE}).")
  double stallMinutes;

  @Option(names = "--latencies-csv", paramLabel = "FILE",
      description = "Also write every request (seconds since the load started: sent, answered; moved partition) to"
          + " this CSV file.")
  Path latenciesCsv;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @Option(names = "--work", description = "Working folder (default: a fresh temporary one, deleted after).")
  Path workOption;

  /** A cluster to run on instead of a fresh one (tests share one per class); it must be killable, so embedded. */
  EmbeddedKafkaCluster cluster;

  @Override
  public Integer call() throws Exception {
    device.check();
    if (events < 1 || requests < 1 || users < 1 || rate <= 0 || killAt <= 0 || killAt >= 1) {
      throw new IllegalArgumentException("need events, requests, users >= 1, rate > 0, 0 < kill-at < 1");
    }
    Path modelDir = model.model().toAbsolutePath();
    if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
      throw new IllegalArgumentException("no model at " + modelDir + " (config.json missing)");
    }
    Path work = workOption != null ? Files.createDirectories(workOption) : Files.createTempDirectory("oppu-failover");
    EmbeddedKafkaCluster own = null;
    try {
      if (cluster == null) {
        System.out.println("failover: starting a 3-node Kafka cluster");
        own = EmbeddedKafkaCluster.start();
      }
      return run(own != null ? own : cluster, modelDir, work);
    } finally {
      if (own != null) {
        own.close();
      }
      if (workOption == null) {
        RetrieveBench.deleteTree(work);
      }
    }
  }

  private int run(EmbeddedKafkaCluster kafka, Path modelDir, Path work) throws Exception {
    ClientConfig client = kafka.clientConfig();
    SoakLoad load = new SoakLoad(events, requests, users, rate, seedOption.seed());
    SoakLoad.Plan plan = load.plan();
    String run = "failover-" + Long.toHexString(System.currentTimeMillis());
    String appId = run + "-streams";
    Properties names = new Properties();
    for (String key : Topics.KEYS) {
      names.setProperty(Topics.PREFIX + key, run + "." + key);
    }
    Topics topics = Topics.from(names);
    TopicAdmin.ensureTopics(client.raw(), topics, partitions);
    System.out.printf(Locale.ROOT, "failover: %d behaviors of %d users at %.0f/s, %d requests, %d partitions,"
            + " kill %s at %.0f%% (cluster %s, replication %d, min.insync.replicas %d)%n", events, users, rate,
        requests, partitions, kill, killAt * 100, kafka.bootstrapServers(), kafka.nodes(), kafka.minInsyncReplicas());

    // The oppu.* settings both parts read, as the soak sets them (nothing evicted from the history: the audit needs
    // every behavior there), plus the Kafka settings of the streams instances.
    Properties settings = new Properties();
    settings.putAll(names);
    settings.setProperty("oppu.ingest.variants", "rag");
    settings.setProperty("oppu.ingest.max-history", Integer.toString(plan.longestHistory()));
    settings.setProperty("oppu.ingest.first-min-items", Integer.toString(firstMinItems));
    settings.setProperty("oppu.ingest.new-items-max", Integer.toString(newItemsMax));
    settings.setProperty("oppu.ingest.adapter-partitions", Integer.toString(partitions));
    settings.setProperty("oppu.serving.mode", "OPPU+RAG");
    settings.setProperty("oppu.serving.max.new.tokens", Integer.toString(serving.maxNewTokens(4)));
    settings.setProperty("oppu.serving.batch.wait.ms", Long.toString(serving.batchWaitMs(100)));
    serving.putSettings(settings);
    Properties streamsFile = new Properties();
    streamsFile.putAll(client.raw());
    streamsFile.putAll(settings);
    streamsFile.setProperty("num.standby.replicas", "1");
    streamsFile.setProperty("session.timeout.ms", Integer.toString(sessionTimeoutMs));
    streamsFile.setProperty("heartbeat.interval.ms", Integer.toString(Math.max(500, sessionTimeoutMs / 4)));
    streamsFile.setProperty("producer.transaction.timeout.ms", Integer.toString(transactionTimeoutMs));
    Path streamsConfig = work.resolve("streams.properties");
    try (Writer w = Files.newBufferedWriter(streamsConfig, StandardCharsets.UTF_8)) {
      streamsFile.store(w, "bench failover: streams instances");
    }

    List<String> jvm = Arrays.stream(instanceJvmOpts.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
    List<FailoverInstance> instances = new ArrayList<>();
    for (String name : INSTANCES) {
      List<String> args = new ArrayList<>(List.of("--model", modelDir.toString(), "--device", device.device(),
          "--tasks", SoakLoad.TASK.id(), "--application-id", appId,
          "--state-dir", work.resolve("state-" + name).toString(),
          "--adapter-store", work.resolve("adapter-store").toString(), "--no-create-topics",
          "--kafka-config", streamsConfig.toString()));
      if (model.taskAdapters() != null) {
        args.addAll(List.of("--task-adapters", model.taskAdapters().toAbsolutePath().toString()));
      }
      instances.add(FailoverInstance.of(name, work, jvm, args));
    }

    UserAdapterUpdater.Settings d = TrainerDefaults.user();
    UserAdapterUpdater.Settings training = d.withTraining(d.lora(),
        new AdapterTraining.Config(epochs, d.training().batchSize(), d.training().optimizer()));
    List<TrainerPart> trainers = new ArrayList<>();
    SoakResponses responses = new SoakResponses(client, topics);
    boolean responsesRunning = false;
    try {
      for (String id : TRAINERS) {
        trainers.add(OppuSystem.builder(client).topics(topics).settings(settings)
            .models(new OppuSystem.Models(modelDir, model.taskAdapters(), device.device()))
            .adapterStore(work.resolve("adapter-store")).userTraining(training).trainerInstance(id).build()
            .trainer().startThread());
      }
      for (FailoverInstance i : instances) {
        i.start();
      }
      for (FailoverInstance i : instances) {
        i.awaitRunning();
      }
      System.out.println("failover: streams instances " + INSTANCES + " and trainers " + TRAINERS + " running");
      responses.start();
      responsesRunning = true;

      Killer killer = new Killer(kafka, client, topics, appId, instances, trainers,
          (int) Math.ceil(events * killAt));
      long start = System.nanoTime();
      SoakLoad.Sent sent = load.produce(client, topics, plan, responses, killer);
      boolean complete = SoakAudit.awaitDone(client, topics, appId, partitions, events, stallMinutes, sent, responses,
          killer);
      long end = System.nanoTime();
      responses.stop();
      responsesRunning = false;
      FailoverInstance.stopAll(instances);
      for (TrainerPart t : trainers) {
        t.stop();
      }
      SoakAudit.History history = SoakAudit.readHistory(client, topics, appId, events);
      long deadLetters = SoakAudit.countRecords(client, topics.deadLetters.name());
      if (killer.killedAt < 0) {
        throw new IllegalStateException("nothing was killed");
      }
      return report(killer, sent, responses, history, deadLetters, complete, start, end);
    } finally {
      if (responsesRunning) {
        responses.stop();
      }
      for (FailoverInstance i : instances) {
        if (i.alive()) {
          i.kill();
        }
      }
      for (TrainerPart t : trainers) {
        t.close();
      }
    }
  }

  private int report(Killer k, SoakLoad.Sent sent, SoakResponses responses, SoakAudit.History history,
      long deadLetters, boolean complete, long start, long end) throws Exception {
    long killed = k.killedAt;
    // resume: the first answer to a request sent after the kill by a user on a moved partition
    long resumeAt = Long.MAX_VALUE;
    for (int i = 0; i < sent.requests(); i++) {
      long at = responses.answeredAtNanos(i);
      if (at >= 0 && sent.sentNanos()[i] > killed && k.moved(sent.users()[i])) {
        resumeAt = Math.min(resumeAt, at);
      }
    }
    boolean resumed = resumeAt != Long.MAX_VALUE;
    List<Double> steady = new ArrayList<>();
    List<Double> move = new ArrayList<>();
    // steady state: the requests sent in the last STEADY_WINDOW before the kill (past the start-up: lazy model load,
    // the wave of first trainings) and answered before it
    long warm = killed - STEADY_WINDOW.toNanos();
    for (int i = 0; i < sent.requests(); i++) {
      long s = sent.sentNanos()[i];
      long at = responses.answeredAtNanos(i);
      if (at < 0) {
        continue;
      }
      double latency = (at - s) / 1e9;
      if (s >= warm && at < killed) {
        steady.add(latency);
      } else if (at >= killed && s < resumeAt && k.moved(sent.users()[i])) {
        move.add(latency);
      }
    }
    if (latenciesCsv != null) {
      StringBuilder csv = new StringBuilder("request,user,moved,sent_s,answered_s,server_latency_s\n");
      for (int i = 0; i < sent.requests(); i++) {
        long at = responses.answeredAtNanos(i);
        csv.append(String.format(Locale.ROOT, "r%d,%s,%b,%.3f,%s,%s%n", i, sent.users()[i], k.moved(sent.users()[i]),
            (sent.sentNanos()[i] - start) / 1e9, at < 0 ? "" : String.format(Locale.ROOT, "%.3f", (at - start) / 1e9),
            at < 0 ? "" : String.format(Locale.ROOT, "%.3f", responses.serverLatencyMs(i) / 1e3)));
      }
      Files.writeString(latenciesCsv, csv);
    }
    double p99Steady = percentile(steady, 0.99);
    double p99Move = percentile(move, 0.99);
    long lostEvents = events - history.found();
    long lostRequests = sent.requests() - responses.answeredCount();
    long lost = lostEvents + lostRequests;
    long duplicated = history.dups() + responses.dups.get();

    System.out.printf(Locale.ROOT, "killed %s (exit %d) %.1f s into the replay; moved partitions %s%n", k.victim,
        k.exitCode, (killed - start) / 1e9, k.movedPartitions);
    System.out.printf(Locale.ROOT, "history: %d of %d behaviors, %d twice; responses: %d of %d, %d twice, %d errors;"
            + " dead letters %d%n", history.found(), events, history.dups(), responses.answeredCount(),
        sent.requests(), responses.dups.get(), responses.errors.get(), deadLetters);

    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "failover");
    out.put("kill", kill.name());
    out.put("killed", k.victim);
    out.put("kill_exit", k.exitCode);
    out.put("killed_at_s", round1((killed - start) / 1e9));
    out.put("moved_partitions", k.movedPartitions.size());
    out.put("resume_s", resumed ? round3((resumeAt - killed) / 1e9) : null);
    out.put("p99_move_s", round3(p99Move));
    out.put("max_move_s", round3(percentile(move, 1.0)));
    out.put("requests_during_move", move.size());
    out.put("p99_steady_s", round3(p99Steady));
    out.put("p50_steady_s", round3(percentile(steady, 0.5)));
    out.put("requests_steady", steady.size());
    out.put("ratio", round3(p99Move / p99Steady));
    out.put("ratio_is", "p99 answer latency of the requests that waited for the move / p99 answer latency before the"
        + " kill, same run");
    out.put("lost", lost);
    out.put("duplicated", duplicated);
    out.put("lost_events", lostEvents);
    out.put("lost_requests", lostRequests);
    out.put("duplicated_events", history.dups());
    out.put("duplicated_responses", responses.dups.get());
    out.put("error_responses", responses.errors.get());
    out.put("failed_sends", sent.failedSends());
    out.put("dead_letters", deadLetters);
    out.put("adapters_published", k.published());
    out.put("events", events);
    out.put("requests", sent.requests());
    out.put("session_timeout_ms", sessionTimeoutMs);
    out.put("transaction_timeout_ms", transactionTimeoutMs);
    out.put("duration_s", round1((end - start) / 1e9));
    out.put("complete", complete);
    System.out.println(new ObjectMapper().writeValueAsString(out));
    return lost == 0 && duplicated == 0 && sent.failedSends() == 0 && complete && resumed ? 0 : 1;
  }

  /**
   * Watches the two instances while the load runs and kills the chosen part when {@code killAfter} behaviors are
   * sent (on the sending thread: the kill itself is a signal, the look-up before it one admin request).
   */
  private final class Killer implements SoakLoad.Watch {
    final EmbeddedKafkaCluster kafka;
    final ClientConfig client;
    final Topics topics;
    final String appId;
    final List<FailoverInstance> instances;
    final List<TrainerPart> trainers;
    final int killAfter;
    volatile long killedAt = -1;
    String victim = "";
    int exitCode;
    final Set<Integer> movedPartitions = new TreeSet<>();

    Killer(EmbeddedKafkaCluster kafka, ClientConfig client, Topics topics, String appId,
        List<FailoverInstance> instances, List<TrainerPart> trainers, int killAfter) {
      this.kafka = kafka;
      this.client = client;
      this.topics = topics;
      this.appId = appId;
      this.instances = instances;
      this.trainers = trainers;
      this.killAfter = killAfter;
    }

    /** Whether {@code user}'s requests go to a moved partition (the default partitioner's murmur2 of the key). */
    boolean moved(String user) {
      int p = Utils.toPositive(Utils.murmur2(user.getBytes(StandardCharsets.UTF_8))) % partitions;
      return movedPartitions.contains(p);
    }

    @Override
    public void sent(int behaviors) {
      if (behaviors != killAfter) {
        return;
      }
      try (Admin admin = Admin.create(client.admin())) {
        String requestsTopic = topics.requests.name();
        if (kill == Kill.streams) {
          // the instance whose consumer holds requests partition 0, and every requests partition it holds
          FailoverInstance target = null;
          for (MemberDescription m : admin.describeConsumerGroups(List.of(appId)).describedGroups().get(appId)
              .get(30, TimeUnit.SECONDS).members()) {
            Set<TopicPartition> held = m.assignment().topicPartitions();
            if (held.contains(new TopicPartition(requestsTopic, 0))) {
              for (FailoverInstance i : instances) {
                if (m.clientId().startsWith(i.name + "-")) {
                  target = i;
                }
              }
              held.stream().filter(tp -> tp.topic().equals(requestsTopic))
                  .forEach(tp -> movedPartitions.add(tp.partition()));
            }
          }
          if (target == null) {
            throw new IllegalStateException("no instance holds partition 0 of " + requestsTopic);
          }
          victim = target.name + " (pid " + target.pid() + ")";
          killedAt = System.nanoTime();
          exitCode = target.kill();
        } else {
          int node = EmbeddedKafkaCluster.leader(admin, requestsTopic, 0);
          for (int p = 0; p < partitions; p++) {
            if (EmbeddedKafkaCluster.leader(admin, requestsTopic, p) == node) {
              movedPartitions.add(p);
            }
          }
          victim = "kafka node " + node;
          killedAt = System.nanoTime();
          exitCode = kafka.kill(node);
        }
        System.out.printf(Locale.ROOT, "failover: killed %s (exit %d) after %d behaviors; its requests partitions %s"
            + " move%n", victim, exitCode, behaviors, movedPartitions);
      } catch (Exception e) {
        throw new IllegalStateException("could not kill the " + kill + ": " + e.getMessage(), e);
      }
    }

    @Override
    public boolean alive() {
      // after a streams kill, one instance is enough; before it (and with a broker kill), both must run
      long running = instances.stream().filter(FailoverInstance::alive).count();
      return kill == Kill.streams && killedAt >= 0 ? running >= 1 : running == instances.size();
    }

    @Override
    public String where() {
      return instances.stream().map(i -> i.log.toString()).toList().toString();
    }

    @Override
    public String status() {
      return "instances alive " + instances.stream().filter(FailoverInstance::alive).map(i -> i.name).toList()
          + (killedAt < 0 ? "" : ", killed " + victim) + ", adapters published " + published();
    }

    long published() {
      return trainers.stream().mapToLong(t -> t.stats().published.get()).sum();
    }
  }

  /** Nearest-rank percentile of {@code values} (NaN when empty). */
  static double percentile(List<Double> values, double q) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    int rank = (int) Math.ceil(q * v.length);
    return v[Math.max(0, Math.min(v.length - 1, rank - 1))];
  }

  private static double round1(double v) {
    return Math.round(v * 10) / 10.0;
  }

  private static double round3(double v) {
    return Double.isNaN(v) || Double.isInfinite(v) ? v : Math.round(v * 1000) / 1000.0;
  }
}
