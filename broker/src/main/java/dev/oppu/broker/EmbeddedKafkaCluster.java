package dev.oppu.broker;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.Uuid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real Kafka cluster of several KRaft nodes on this machine, each node an {@link EmbeddedKafkaBroker} (combined
 * broker + controller, all nodes voters of one controller quorum) in a JVM of its own ({@link ClusterNode}), so that
 * {@link #kill} is a real crash: SIGKILL, no controlled shutdown, no leadership handed over, no log flushed.
 *
 * <p>Replication: Kafka's internal topics (consumer offsets, transaction state) have {@code nodes} replicas and
 * {@code minInsyncReplicas} in sync, and so does every topic by the broker default {@code min.insync.replicas}. The
 * broker's {@code default.replication.factor} stays Kafka's (1) on purpose: the system's topics get their
 * {@code nodes} replicas from the project's properties, which {@link #clientConfig()} carries
 * ({@link TopicAdmin#REPLICATION_PROPERTY}, {@link TopicAdmin#MIN_INSYNC_PROPERTY}) and which reach both the
 * registry's topics and Kafka Streams' internal ones, so a test on this cluster shows that the properties, not a
 * broker default, replicate them. Every producer of the system uses {@code acks=all}. With 3 nodes and 2 in sync, one
 * node can die without losing an acknowledged record, and the controller quorum (3 voters) keeps a majority.
 *
 * <p>Tests share one per test class (it costs a JVM per node and ~10-20 s to start). Closing kills every node and
 * deletes the log dirs.
 */
public final class EmbeddedKafkaCluster implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaCluster.class);

  public static final int DEFAULT_NODES = 3;
  public static final int DEFAULT_MIN_INSYNC_REPLICAS = 2;
  /** JVM options of each node: a broker of a test cluster needs little heap. */
  public static final List<String> NODE_JVM_OPTIONS = List.of("-Xms64m", "-Xmx512m");
  /** How long {@link #start} and {@link #restart} wait for a node to answer. */
  public static final Duration NODE_START_TIMEOUT = Duration.ofMinutes(2);

  private final int nodes;
  private final int minInsync;
  private final Path dir;
  private final String clusterId = Uuid.randomUuid().toString();
  private final int[] ports;
  private final int[] controllerPorts;
  private final Process[] processes;

  private EmbeddedKafkaCluster(int nodes, int minInsync, Path dir) {
    this.nodes = nodes;
    this.minInsync = minInsync;
    this.dir = dir;
    int[] free = freePorts(2 * nodes);
    this.ports = java.util.Arrays.copyOfRange(free, 0, nodes);
    this.controllerPorts = java.util.Arrays.copyOfRange(free, nodes, 2 * nodes);
    this.processes = new Process[nodes];
  }

  /** {@value #DEFAULT_NODES} nodes, {@code min.insync.replicas} {@value #DEFAULT_MIN_INSYNC_REPLICAS}. */
  public static EmbeddedKafkaCluster start() {
    return start(DEFAULT_NODES, DEFAULT_MIN_INSYNC_REPLICAS);
  }

  /** Starts {@code nodes} nodes (node ids 1..nodes) and waits until each answers. */
  public static EmbeddedKafkaCluster start(int nodes, int minInsyncReplicas) {
    if (nodes < 1 || minInsyncReplicas < 1 || minInsyncReplicas > nodes) {
      throw new IllegalArgumentException("need nodes >= 1 and 1 <= min.insync.replicas <= nodes");
    }
    EmbeddedKafkaCluster c;
    try {
      c = new EmbeddedKafkaCluster(nodes, minInsyncReplicas, Files.createTempDirectory("oppu-cluster-"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    long t0 = System.nanoTime();
    try {
      List<CountDownLatch> ready = new ArrayList<>();
      for (int id = 1; id <= nodes; id++) {
        ready.add(c.launch(id)); // all at once: a node is ready only when the controller quorum has a majority
      }
      for (int id = 1; id <= nodes; id++) {
        c.awaitReady(id, ready.get(id - 1));
      }
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
    LOG.info("Kafka cluster of {} nodes ready at {} in {} ms (min.insync.replicas {}, log dirs under {})", nodes,
        c.bootstrapServers(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0), minInsyncReplicas, c.dir);
    return c;
  }

  /** The broker properties of node {@code id}: its id, the quorum, the replication defaults. */
  Map<String, String> nodeProperties(int id) {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("node.id", Integer.toString(id));
    p.put("controller.quorum.voters", java.util.stream.IntStream.rangeClosed(1, nodes)
        .mapToObj(n -> n + "@localhost:" + controllerPorts[n - 1]).collect(Collectors.joining(",")));
    String rf = Integer.toString(nodes);
    String isr = Integer.toString(minInsync);
    p.put("min.insync.replicas", isr);
    p.put("offsets.topic.replication.factor", rf);
    p.put("transaction.state.log.replication.factor", rf);
    p.put("transaction.state.log.min.isr", isr);
    p.put("share.coordinator.state.topic.replication.factor", rf);
    p.put("share.coordinator.state.topic.min.isr", isr);
    p.put("unclean.leader.election.enable", "false");
    return p;
  }

  private CountDownLatch launch(int id) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(NODE_JVM_OPTIONS);
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ClusterNode.class.getName(),
        dir.resolve("node-" + id).toString(), Integer.toString(ports[id - 1]), Integer.toString(controllerPorts[id - 1]),
        clusterId));
    nodeProperties(id).forEach((k, v) -> cmd.add(k + "=" + v));
    Process p;
    try {
      p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.appendTo(log(id).toFile())).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start Kafka node " + id, e);
    }
    processes[id - 1] = p;
    CountDownLatch ready = new CountDownLatch(1);
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          if (line.startsWith(ClusterNode.READY)) {
            ready.countDown();
          }
        }
      } catch (IOException ended) {
        // the node is gone
      }
    }, "kafka-node-" + id + "-stdout");
    reader.setDaemon(true);
    reader.start();
    return ready;
  }

  private void awaitReady(int id, CountDownLatch ready) {
    long deadline = System.nanoTime() + NODE_START_TIMEOUT.toNanos();
    try {
      while (!ready.await(200, TimeUnit.MILLISECONDS)) {
        Process p = processes[id - 1];
        if (!p.isAlive() || System.nanoTime() > deadline) {
          p.destroyForcibly();
          throw new IllegalStateException("Kafka node " + id + " did not start (" + (p.isAlive() ? "timeout"
              : "exit " + p.exitValue()) + "); see " + log(id));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting Kafka node " + id, e);
    }
  }

  /** The log file of node {@code id} (its stderr, every incarnation). */
  public Path log(int id) {
    return dir.resolve("node-" + id + ".log");
  }

  public int nodes() {
    return nodes;
  }

  public int minInsyncReplicas() {
    return minInsync;
  }

  /** Every node's client listener (clients find the live ones). */
  public String bootstrapServers() {
    return java.util.Arrays.stream(ports).mapToObj(p -> "localhost:" + p).collect(Collectors.joining(","));
  }

  /**
   * Client settings for this cluster: every node as bootstrap, and {@link TopicAdmin#REPLICATION_PROPERTY} /
   * {@link TopicAdmin#MIN_INSYNC_PROPERTY} set to the cluster's replication, so that the topics the system creates
   * (its own and Streams' internal ones) are replicated to every node.
   */
  public ClientConfig clientConfig() {
    Properties p = new Properties();
    p.setProperty("bootstrap.servers", bootstrapServers());
    p.setProperty(TopicAdmin.REPLICATION_PROPERTY, Integer.toString(nodes));
    p.setProperty(TopicAdmin.MIN_INSYNC_PROPERTY, Integer.toString(minInsync));
    return ClientConfig.of(p);
  }

  public synchronized boolean isAlive(int id) {
    return processes[id - 1] != null && processes[id - 1].isAlive();
  }

  /** Kills node {@code id} as a crash would (SIGKILL); returns its exit code (137). */
  public int kill(int id) throws InterruptedException {
    Process p;
    synchronized (this) {
      p = processes[id - 1];
    }
    p.destroyForcibly();
    int code = p.waitFor();
    LOG.info("Kafka node {} killed (exit {})", id, code);
    return code;
  }

  /** Starts a killed node again on its log dir (log recovery, then it catches up as a follower). */
  public void restart(int id) {
    if (isAlive(id)) {
      throw new IllegalStateException("node " + id + " is running");
    }
    awaitReady(id, launch(id));
  }

  /** The node leading {@code topic}'s partition {@code partition} (-1: none). */
  public static int leader(Admin admin, String topic, int partition) throws Exception {
    TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
    Node leader = d.partitions().get(partition).leader();
    return leader == null ? -1 : leader.id();
  }

  /** Kills every node and deletes the log dirs. Idempotent. */
  @Override
  public synchronized void close() {
    for (Process p : processes) {
      if (p != null && p.isAlive()) {
        p.destroyForcibly();
        try {
          p.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
    EmbeddedKafkaBroker.deleteRecursively(dir);
  }

  /** {@code n} distinct free ports (each bound while the next is picked). */
  private static int[] freePorts(int n) {
    List<ServerSocket> held = new ArrayList<>();
    try {
      int[] out = new int[n];
      for (int i = 0; i < n; i++) {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress("localhost", 0));
        held.add(s);
        out[i] = s.getLocalPort();
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot find free ports", e);
    } finally {
      for (ServerSocket s : held) {
        try {
          s.close();
        } catch (IOException ignored) {
          // closing a probe socket
        }
      }
    }
  }
}
