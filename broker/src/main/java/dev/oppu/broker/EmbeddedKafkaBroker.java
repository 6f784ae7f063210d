package dev.oppu.broker;

import dev.oppu.schemas.Topics;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka broker (KRaft, combined broker + controller) running in this JVM: the broker of
 * {@code oppu broker}, {@code oppu demo} and of tests without an external broker or Docker.
 *
 * <p>Its log dir is formatted on first start ({@code kafka-storage format}); a log dir that is already formatted is
 * reused as it is, so a named log dir keeps its topics across restarts. Without a log dir, a temporary one is made
 * and deleted on {@link #close()}.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);

  private final String host;
  private final int requestedPort;
  private final int requestedControllerPort;
  private final Path requestedLogDir;
  private final Properties overrides;
  private final String clientProtocol;
  private final Properties clientProps;
  private final java.util.Map<String, String> scramUsers;
  private final TlsMaterial tls;
  private final String clusterId;

  private Path logDir;
  private boolean tempLogDir;
  private int port;
  private KafkaRaftServer server;
  private long startupMillis = -1;

  private EmbeddedKafkaBroker(Builder b) {
    this.host = b.host;
    this.requestedPort = b.port;
    this.requestedControllerPort = b.controllerPort;
    this.requestedLogDir = b.logDir;
    this.overrides = b.overrides;
    this.clientProtocol = b.clientProtocol;
    this.clientProps = b.clientProps;
    this.scramUsers = new java.util.LinkedHashMap<>(b.scramUsers);
    this.tls = b.tls;
    this.clusterId = b.clusterId;
  }

  /** The SASL mechanism of {@link Builder#secured}. */
  public static final String SCRAM_MECHANISM = "SCRAM-SHA-512";
  /** KRaft's ACL authorizer, on in {@link Builder#secured}. */
  public static final String STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

  public static Builder builder() {
    return new Builder();
  }

  /** Free ports, temporary log dir. */
  public static EmbeddedKafkaBroker create() {
    return builder().build();
  }

  public static final class Builder {
    private String host = "localhost";
    private int port = 0;
    private int controllerPort = 0;
    private Path logDir;
    private final Properties overrides = new Properties();
    private String clientProtocol = "PLAINTEXT";
    private final Properties clientProps = new Properties();
    private final java.util.Map<String, String> scramUsers = new java.util.LinkedHashMap<>();
    private TlsMaterial tls;
    private String clusterId;

    /**
     * A secured broker: one SASL_SSL client listener (TLS with {@code tls}'s key store, SCRAM-SHA-512 logins), KRaft's
     * {@code StandardAuthorizer} with no access unless an ACL grants it, and {@code adminUser} a super user (the
     * broker's own inter-broker login and this process's client, used for the readiness check, topic creation and
     * applying ACLs). The admin's and every {@link #scramUser}'s SCRAM credentials are written when the log dir is
     * formatted ({@code kafka-storage format --add-scram}). The KRaft controller listener stays PLAINTEXT on its own
     * port bound to {@link #host}: its anonymous principal (the broker talking to its own controller) is a super
     * user too, so that port must never be reachable from other hosts.
     */
    public Builder secured(TlsMaterial tls, String adminUser, String adminPassword) {
      this.tls = tls;
      clientListener("SASL_SSL");
      brokerProperty("sasl.enabled.mechanisms", SCRAM_MECHANISM);
      brokerProperty("sasl.mechanism.inter.broker.protocol", SCRAM_MECHANISM);
      brokerProperty("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config", scramJaas(adminUser, adminPassword));
      brokerProperty("ssl.keystore.location", tls.keyStore().toString());
      brokerProperty("ssl.keystore.password", tls.password());
      brokerProperty("ssl.key.password", tls.password());
      brokerProperty("ssl.keystore.type", "PKCS12");
      brokerProperty("ssl.truststore.location", tls.trustStore().toString());
      brokerProperty("ssl.truststore.password", tls.password());
      brokerProperty("ssl.truststore.type", "PKCS12");
      brokerProperty("authorizer.class.name", STANDARD_AUTHORIZER);
      brokerProperty("allow.everyone.if.no.acl.found", "false");
      brokerProperty("super.users", "User:" + adminUser + ";User:ANONYMOUS");
      clientProperties(scramClientProperties(tls, adminUser, adminPassword));
      return scramUser(adminUser, adminPassword);
    }

    /**
     * One more SCRAM-SHA-512 login, created when the log dir is formatted (a reused log dir keeps the logins it was
     * formatted with). Names and passwords: letters, digits, '.', '_' and '-'.
     */
    public Builder scramUser(String name, String password) {
      if (!name.matches("[A-Za-z0-9._-]+") || !password.matches("[A-Za-z0-9._-]+")) {
        throw new IllegalArgumentException("SCRAM user names and passwords: letters, digits, '.', '_', '-'");
      }
      scramUsers.put(name, password);
      return this;
    }

    /**
     * The cluster id the log dir is formatted with (default: a random one). The nodes of one cluster share it
     * ({@link EmbeddedKafkaCluster}); give each its {@code node.id} and the common {@code controller.quorum.voters}
     * with {@link #brokerProperty}.
     */
    public Builder clusterId(String id) {
      this.clusterId = id;
      return this;
    }

    /** The host the listeners bind to and advertise (default localhost). */
    public Builder host(String host) {
      this.host = host;
      return this;
    }

    /** Client port; 0 = a free port. */
    public Builder port(int port) {
      this.port = checkPort(port);
      return this;
    }

    /** KRaft controller port; 0 = a free port. */
    public Builder controllerPort(int port) {
      this.controllerPort = checkPort(port);
      return this;
    }

    /** Log dir to format (or reuse if already formatted); null = a temporary one deleted on close. */
    public Builder logDir(Path dir) {
      this.logDir = dir;
      return this;
    }

    /** Broker properties applied last (over the defaults, listeners included). */
    public Builder brokerProperties(Properties props) {
      this.overrides.putAll(props);
      return this;
    }

    public Builder brokerProperty(String key, String value) {
      this.overrides.setProperty(key, value);
      return this;
    }

    /**
     * Security protocol of the client listener (PLAINTEXT, SASL_PLAINTEXT, SSL, SASL_SSL; default PLAINTEXT). The
     * listener is named after it and also carries inter-broker traffic, so give the broker its SASL/SSL settings
     * with {@link #brokerProperties} (e.g. {@code listener.name.sasl_plaintext.plain.sasl.jaas.config}) and this
     * process's client credentials with {@link #clientProperties}. The KRaft controller listener stays PLAINTEXT
     * on its own port.
     */
    public Builder clientListener(String securityProtocol) {
      this.clientProtocol = securityProtocol.trim().toUpperCase(java.util.Locale.ROOT);
      return this;
    }

    /** Client settings (security.protocol, sasl.*, ssl.*) for {@link #clientConfig()} and the readiness check. */
    public Builder clientProperties(Properties props) {
      for (String k : props.stringPropertyNames()) {
        if (!k.equals("bootstrap.servers")) {
          this.clientProps.setProperty(k, props.getProperty(k));
        }
      }
      return this;
    }

    public EmbeddedKafkaBroker build() {
      return new EmbeddedKafkaBroker(this);
    }

    private static int checkPort(int p) {
      if (p < 0 || p > 65535) {
        throw new IllegalArgumentException("port must be 0..65535, got " + p);
      }
      return p;
    }
  }

  /** Client settings for a SCRAM-SHA-512 login over SASL_SSL trusting {@code tls}'s certificate (no bootstrap). */
  public static Properties scramClientProperties(TlsMaterial tls, String user, String password) {
    Properties p = new Properties();
    p.setProperty("security.protocol", "SASL_SSL");
    p.setProperty("sasl.mechanism", SCRAM_MECHANISM);
    p.setProperty("sasl.jaas.config", scramJaas(user, password));
    p.setProperty("ssl.truststore.location", tls.trustStore().toString());
    p.setProperty("ssl.truststore.password", tls.password());
    p.setProperty("ssl.truststore.type", "PKCS12");
    return p;
  }

  private static String scramJaas(String user, String password) {
    return "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" + user + "\" password=\""
        + password + "\";";
  }

  /** A client of this secured broker logging in as {@code user} (see {@link Builder#secured}). */
  public ClientConfig clientConfig(String user, String password) {
    if (tls == null) {
      throw new IllegalStateException("not a secured broker (Builder.secured)");
    }
    Properties p = scramClientProperties(tls, user, password);
    p.setProperty("bootstrap.servers", bootstrapServers());
    return ClientConfig.of(p);
  }

  /** Formats the log dir if needed, starts the broker and waits until it answers a describeCluster. */
  public synchronized EmbeddedKafkaBroker start() {
    if (server != null) {
      throw new IllegalStateException("already started");
    }
    long t0 = System.nanoTime();
    try {
      if (requestedLogDir == null) {
        logDir = Files.createTempDirectory("oppu-kafka-");
        tempLogDir = true;
      } else {
        logDir = Files.createDirectories(requestedLogDir.toAbsolutePath());
      }
      port = requestedPort == 0 ? freePort() : requestedPort;
      int controllerPort = requestedControllerPort == 0 ? freePort(port) : requestedControllerPort;
      Properties props = brokerProperties(port, controllerPort);
      format(props);
      KafkaRaftServer s = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
      try {
        s.startup();
      } catch (RuntimeException e) {
        shutdownQuietly(s);
        throw e;
      }
      server = s;
      awaitReady();
    } catch (IOException e) {
      cleanupAfterFailure();
      throw new UncheckedIOException("cannot prepare the broker's log dir: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      cleanupAfterFailure();
      throw e;
    }
    startupMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    LOG.info("Kafka broker ready at {} in {} ms (log dir {})", bootstrapServers(), startupMillis, logDir);
    return this;
  }

  /** The broker configuration used: the KRaft single-node defaults, then the builder's overrides. */
  Properties brokerProperties(int port, int controllerPort) {
    Properties p = new Properties();
    p.setProperty("process.roles", "broker,controller");
    p.setProperty("node.id", "1");
    p.setProperty("controller.quorum.voters", "1@" + host + ":" + controllerPort);
    String client = clientProtocol;
    p.setProperty("listeners", client + "://" + host + ":" + port + ",CONTROLLER://" + host + ":" + controllerPort);
    p.setProperty("advertised.listeners", client + "://" + host + ":" + port);
    p.setProperty("controller.listener.names", "CONTROLLER");
    p.setProperty("inter.broker.listener.name", client);
    p.setProperty("listener.security.protocol.map", client + ":" + client + ",CONTROLLER:PLAINTEXT");
    p.setProperty("log.dirs", logDir.toString());
    // One node: every internal topic has one replica.
    p.setProperty("offsets.topic.replication.factor", "1");
    p.setProperty("offsets.topic.num.partitions", "5");
    p.setProperty("transaction.state.log.replication.factor", "1");
    p.setProperty("transaction.state.log.min.isr", "1");
    p.setProperty("transaction.state.log.num.partitions", "5");
    p.setProperty("share.coordinator.state.topic.replication.factor", "1");
    p.setProperty("share.coordinator.state.topic.min.isr", "1");
    p.setProperty("group.initial.rebalance.delay.ms", "0");
    // Adapters inline in records: the broker must accept and replicate records of the project's maximum size.
    p.setProperty("message.max.bytes", Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    p.setProperty("replica.fetch.max.bytes", Integer.toString(ClientConfig.MAX_RECORD_BYTES));
    // Sized for a small shared machine (defaults: 8 I/O threads, 128 MB cleaner dedupe buffer).
    p.setProperty("num.io.threads", "2");
    p.setProperty("num.network.threads", "2");
    p.setProperty("log.cleaner.dedupe.buffer.size", Integer.toString(32 * 1024 * 1024));
    p.putAll(overrides);
    return p;
  }

  private void format(Properties props) throws IOException {
    if (Files.exists(logDir.resolve("meta.properties"))) {
      LOG.info("log dir {} is already formatted; reusing it", logDir);
      return;
    }
    Path propsFile = Files.createTempFile("oppu-broker-", ".properties");
    try {
      try (Writer w = Files.newBufferedWriter(propsFile)) {
        props.store(w, "oppu embedded broker");
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int code;
      try (PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8)) {
        // The broker's default transaction version (v2, KIP-890). v1 had been forced after a Streams exactly-once
        // producer looped for minutes on OutOfOrderSequenceException in a CI run (2026-11-27; its log was not kept,
        // so the cause is not known). v1 is no shelter from the one such loop we can reproduce, the new-partition
        // race of issue 11: transactional bursts into topics that TopicAdmin used to return before they accepted
        // writes (FreshTopicBurstTest) lost sends in 9 of 10 rounds under v1 and in 0 of 10 under v2, whose brokers
        // refuse, retriably, a first batch that does not start at sequence 0 (KAFKA-18202), so a later batch cannot
        // overtake a refused first one. v2 also covers the topics TopicAdmin does not create (Streams' changelogs and
        // repartition topics); TopicAdmin's readiness wait removes the race for ours under either version. The
        // exactly-once and crash tests pass under v2 (issue 11's note has the runs).
        java.util.List<String> args = new java.util.ArrayList<>(
            java.util.List.of("format", "-t", clusterId != null ? clusterId : Uuid.randomUuid().toString(), "-c",
                propsFile.toString()));
        scramUsers.forEach((user, password) -> {
          args.add("--add-scram");
          args.add(SCRAM_MECHANISM + "=[name=" + user + ",password=" + password + "]");
        });
        code = StorageTool.execute(args.toArray(new String[0]), ps);
      }
      if (code != 0) {
        throw new IllegalStateException("formatting the Kafka log dir " + logDir + " failed (exit " + code + "): "
            + out.toString(StandardCharsets.UTF_8).trim());
      }
    } finally {
      Files.deleteIfExists(propsFile);
    }
  }

  private void awaitReady() {
    Properties p = clientConfig().admin();
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    RuntimeException last = null;
    try (Admin admin = Admin.create(p)) {
      while (System.nanoTime() < giveUp) {
        try {
          if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
            return;
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while waiting for the broker", e);
        } catch (Exception e) {
          if (e.getCause() instanceof AuthenticationException) {
            // Wrong credentials do not fix themselves: say so now rather than after the timeout.
            throw new IllegalStateException("the broker is up but rejects this client's credentials: "
                + e.getCause().getMessage(), e.getCause());
          }
          last = new IllegalStateException(e.getMessage(), e);
        }
        sleep(50);
      }
    }
    throw new IllegalStateException("the embedded broker did not become ready within 60 s", last);
  }

  /** host:port of the client listener. */
  public String bootstrapServers() {
    if (server == null && port == 0) {
      throw new IllegalStateException("broker not started");
    }
    return host + ":" + port;
  }

  /** Settings for clients of this broker: its address plus the client properties given to the builder. */
  public ClientConfig clientConfig() {
    Properties p = new Properties();
    p.putAll(clientProps);
    if (!"PLAINTEXT".equals(clientProtocol)) {
      p.putIfAbsent("security.protocol", clientProtocol);
    }
    p.setProperty("bootstrap.servers", bootstrapServers());
    return ClientConfig.of(p);
  }

  public Path logDir() {
    return logDir;
  }

  /** Milliseconds {@link #start()} took (format + startup + first describeCluster); -1 before start. */
  public long startupMillis() {
    return startupMillis;
  }

  /** Creates (idempotently) every topic of the registry with its per-topic configuration. */
  public TopicAdmin.Result createTopics(Topics topics, int partitions) {
    return TopicAdmin.ensureTopics(clientConfig().admin(), topics, TopicAdmin.Settings.of(partitions));
  }

  public TopicAdmin.Result createTopics(Topics topics, TopicAdmin.Settings settings) {
    return TopicAdmin.ensureTopics(clientConfig().admin(), topics, settings);
  }

  public synchronized boolean isRunning() {
    return server != null;
  }

  /** Shuts the broker down (controlled shutdown), then deletes a temporary log dir. Idempotent. */
  @Override
  public synchronized void close() {
    if (server != null) {
      long t0 = System.nanoTime();
      shutdownQuietly(server);
      server = null;
      LOG.info("Kafka broker at {}:{} stopped in {} ms", host, port,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    }
    if (tempLogDir) {
      deleteRecursively(logDir);
      tempLogDir = false;
    }
  }

  private void cleanupAfterFailure() {
    if (server != null) {
      shutdownQuietly(server);
      server = null;
    }
    if (tempLogDir && logDir != null) {
      deleteRecursively(logDir);
      tempLogDir = false;
    }
  }

  private static void shutdownQuietly(KafkaRaftServer s) {
    try {
      s.shutdown();
      s.awaitShutdown();
    } catch (RuntimeException e) {
      LOG.warn("error while shutting the broker down: {}", e.toString());
    }
  }

  /** A free local port (other than {@code avoid[0]}, if given). */
  public static int freePort(int... avoid) {
    for (int attempt = 0; attempt < 20; attempt++) {
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress("localhost", 0));
        int p = s.getLocalPort();
        if (avoid.length == 0 || p != avoid[0]) {
          return p;
        }
      } catch (IOException e) {
        throw new UncheckedIOException("cannot find a free port", e);
      }
    }
    throw new IllegalStateException("cannot find a free port");
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  static void deleteRecursively(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          LOG.debug("cannot delete {}: {}", p, e.toString());
        }
      });
    } catch (IOException | UncheckedIOException e) {
      LOG.warn("cannot delete {}: {}", dir, e.toString());
    }
  }
}
