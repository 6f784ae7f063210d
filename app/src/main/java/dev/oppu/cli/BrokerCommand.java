package dev.oppu.cli;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.schemas.Topics;
import dev.oppu.system.LocalLogins;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code oppu broker}: a real single-node Kafka (KRaft) broker in this process, until Ctrl-C. */
@Command(name = "broker", mixinStandardHelpOptions = true,
    description = {
        "Runs a single-node Kafka broker (KRaft: broker and controller in one process) until Ctrl-C, and creates "
            + "the oppu topics on it (adapters compacted; behaviors stamped with broker arrival time and kept for "
            + "their retention, 7 days unless " + TopicAdmin.BEHAVIORS_RETENTION_PROPERTY + " says otherwise).",
        "Prints the bootstrap address to give other commands with --bootstrap. The log dir keeps topics and "
            + "records across restarts; --temp uses a throw-away one."})
public final class BrokerCommand implements Callable<Integer> {

  @Spec
  CommandSpec spec;

  @Option(names = "--port", paramLabel = "PORT", defaultValue = "9092",
      description = "Client (PLAINTEXT) port; 0 = a free port (default: ${DEFAULT-VALUE}).")
  int port;

  @Option(names = "--controller-port", paramLabel = "PORT", defaultValue = "0",
      description = "KRaft controller port; 0 = a free port (default: ${DEFAULT-VALUE}).")
  int controllerPort;

  @Option(names = "--host", defaultValue = "localhost",
      description = "Host the listeners bind to and advertise (default: ${DEFAULT-VALUE}).")
  String host;

  @Option(names = "--log-dir", paramLabel = "DIR", defaultValue = ".oppu/kafka-logs",
      description = "Broker log dir, formatted on first use and reused after (default: ${DEFAULT-VALUE}, under "
          + "the working directory).")
  Path logDir;

  @Option(names = "--temp", description = "Use a temporary log dir, deleted on exit (overrides --log-dir).")
  boolean temp;

  @Option(names = "--broker-config", paramLabel = "FILE",
      description = "Extra broker properties, applied over the built-in single-node settings (e.g. "
          + "log.retention.hours, or the SASL/SSL settings of a secured client listener).")
  Path brokerConfig;

  @Option(names = "--listener-protocol", paramLabel = "PROTOCOL", defaultValue = "PLAINTEXT",
      description = "Security protocol of the client listener: PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL (default: "
          + "${DEFAULT-VALUE}). Its settings go in --broker-config (e.g. sasl.enabled.mechanisms, listener.name."
          + "sasl_plaintext.plain.sasl.jaas.config); this command's own client credentials in --kafka-config.")
  String listenerProtocol;

  @Option(names = "--secured", description = "SASL_SSL (SCRAM-SHA-512 over TLS) with KRaft's StandardAuthorizer: "
      + "a login per service (oppu-admin, a super user; oppu-streams, oppu-trainer, oppu-behaviors, oppu-requests, "
      + "oppu-responses) with a random password, a self-signed certificate for --host, and each login's client file "
      + "in --clients-dir for --kafka-config. Nothing is allowed until `oppu acl apply` grants it.")
  boolean secured;

  @Option(names = "--tls-dir", paramLabel = "DIR", defaultValue = ".oppu/tls",
      description = "With --secured: the broker's key store and the clients' trust store (default: ${DEFAULT-VALUE}).")
  Path tlsDir;

  @Option(names = "--clients-dir", paramLabel = "DIR", defaultValue = ".oppu/clients",
      description = "With --secured: <login>.properties per service, kept with the log dir that was formatted with "
          + "those logins (default: ${DEFAULT-VALUE}).")
  Path clientsDir;

  @Option(names = "--partitions", paramLabel = "N", defaultValue = "" + TopicAdmin.DEFAULT_PARTITIONS,
      description = "Partitions of the oppu topics it creates (default: ${DEFAULT-VALUE}).")
  int partitions;

  @Option(names = "--no-topics", description = "Do not create the oppu topics.")
  boolean noTopics;

  @Option(names = "--kafka-config", paramLabel = "FILE",
      description = "The client properties file the other commands take: its client keys (security.protocol, "
          + "sasl.*, ssl.*) are used to check readiness and create topics; oppu.topic.<key> names the topics and "
          + TopicAdmin.BEHAVIORS_RETENTION_PROPERTY + " sets the behaviors retention.")
  Path topicConfig;

  private final CountDownLatch stop = new CountDownLatch(1);
  private volatile String bootstrap;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    EmbeddedKafkaBroker.Builder b = EmbeddedKafkaBroker.builder().host(host).port(port).controllerPort(controllerPort)
        .logDir(temp ? null : logDir).clientListener(listenerProtocol);
    if (brokerConfig != null) {
      b.brokerProperties(ClientConfig.load(brokerConfig));
    }
    Properties topicProps = topicConfig == null ? new Properties() : ClientConfig.load(topicConfig);
    b.clientProperties(ClientConfig.of(topicProps).common());
    LocalLogins logins = secured ? LocalLogins.openOrCreate(tlsDir, clientsDir, host) : null;
    if (logins != null) {
      logins.secure(b);
    }
    EmbeddedKafkaBroker broker = b.build();
    // Ctrl-C runs shutdown hooks: stop the broker cleanly there (controlled shutdown, log dir flushed and unlocked).
    Thread hook = new Thread(() -> {
      broker.close();
      stop.countDown();
    }, "oppu-broker-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      broker.start();
      bootstrap = broker.bootstrapServers();
      out.printf("Kafka broker (KRaft, single node) started in %.1f s; log dir %s%n",
          broker.startupMillis() / 1000.0, temp ? broker.logDir() + " (temporary)" : broker.logDir());
      if (!noTopics) {
        Topics topics = Topics.from(topicProps);
        Properties client = broker.clientConfig().raw();
        client.putAll(topicProps);
        client.setProperty("bootstrap.servers", bootstrap);
        TopicAdmin.Result r = TopicAdmin.ensureTopics(client, topics, partitions);
        out.printf("topics (%d partitions asked; %d created): %s%n", partitions, r.created().size(), r.partitions());
      }
      if (logins != null) {
        Map<String, Path> files = logins.writeClientFiles(bootstrap);
        out.printf("secured (SASL_SSL, SCRAM-SHA-512, StandardAuthorizer); client files: %s%n", files.values());
        out.printf("grant the services their ACLs: ./oppu acl apply --kafka-config %s%n",
            files.get(logins.adminUser()));
      }
      out.println("bootstrap: " + bootstrap);
      out.println("Ctrl-C to stop.");
      out.flush();
      stop.await();
      return 0;
    } finally {
      // Returning normally (tests, or a start failure): stop here and drop the hook.
      broker.close();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException alreadyShuttingDown) {
        // The hook is running: it closes the broker itself.
      }
    }
  }

  /** The running broker's address, or null before it is up. */
  String bootstrap() {
    return bootstrap;
  }

  /** Stops the broker as Ctrl-C would (for tests and embedding). */
  void stop() {
    stop.countDown();
  }
}
