package dev.oppu.broker;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * One node of an {@link EmbeddedKafkaCluster}, in a JVM of its own so that it can be killed as a machine dies
 * ({@code destroyForcibly}: SIGKILL, no controlled shutdown, no flush). Arguments: {@code LOG_DIR PORT
 * CONTROLLER_PORT CLUSTER_ID [KEY=VALUE ...]} (broker properties: node.id, controller.quorum.voters, replication
 * defaults). Prints {@value #READY} and the bootstrap address on stdout once the node answers; closes the broker and
 * exits when its stdin says {@code stop} or closes (the parent went away).
 */
public final class ClusterNode {
  /** The line a node prints when it is ready. */
  public static final String READY = "oppu-node-ready";

  private ClusterNode() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: ClusterNode LOG_DIR PORT CONTROLLER_PORT CLUSTER_ID [KEY=VALUE ...]");
      System.exit(2);
    }
    EmbeddedKafkaBroker.Builder b = EmbeddedKafkaBroker.builder()
        .logDir(Path.of(args[0]))
        .port(Integer.parseInt(args[1]))
        .controllerPort(Integer.parseInt(args[2]))
        .clusterId(args[3]);
    for (int i = 4; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      b.brokerProperty(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    EmbeddedKafkaBroker broker = b.build().start();
    System.out.println(READY + " " + broker.bootstrapServers());
    System.out.flush();
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null && !line.strip().equals("stop")) {
        // nothing else is said to a node
      }
    }
    broker.close();
    System.exit(0);
  }
}
