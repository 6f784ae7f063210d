package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.broker.ClientConfig;
import dev.oppu.schemas.Topics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code oppu broker}: starts a broker with the oppu topics, serves clients, stops cleanly. */
class BrokerCommandTest {

  @Test
  void startsServesAndStops(@TempDir Path dir) throws Exception {
    Path topicCfg = dir.resolve("topics.properties");
    Files.writeString(topicCfg, "oppu.behaviors.retention.ms=86400000\noppu.topic.requests=my-requests\n");
    BrokerCommand cmd = new BrokerCommand();
    StringWriter out = new StringWriter();
    CommandLine cl = new CommandLine(cmd);
    cl.setOut(new PrintWriter(out, true));
    AtomicInteger code = new AtomicInteger(-1);
    Thread t = new Thread(() -> code.set(cl.execute("--port", "0", "--log-dir", dir.resolve("logs").toString(),
        "--partitions", "2", "--kafka-config", topicCfg.toString())));
    t.start();
    long giveUp = System.currentTimeMillis() + 60_000;
    while (cmd.bootstrap() == null || !out.toString().contains("Ctrl-C")) {
      assertTrue(t.isAlive() && System.currentTimeMillis() < giveUp, "broker did not start: " + out);
      Thread.sleep(50);
    }
    String bootstrap = cmd.bootstrap();
    assertTrue(out.toString().contains("bootstrap: " + bootstrap), out.toString());
    Topics topics = Topics.from(ClientConfig.load(topicCfg));
    try (Admin admin = Admin.create(ClientConfig.of(bootstrap).admin())) {
      assertTrue(admin.listTopics().names().get(30, TimeUnit.SECONDS).contains("my-requests"));
      ConfigResource behaviors = new ConfigResource(ConfigResource.Type.TOPIC, topics.behaviors.name());
      Map<ConfigResource, Config> cfg = admin.describeConfigs(List.of(behaviors)).all().get(30, TimeUnit.SECONDS);
      assertEquals("86400000", cfg.get(behaviors).get("retention.ms").value());
      assertEquals(2, admin.describeTopics(List.of(topics.behaviors.name())).allTopicNames().get(30, TimeUnit.SECONDS)
          .get(topics.behaviors.name()).partitions().size());
    }
    cmd.stop();
    t.join(60_000);
    assertEquals(0, code.get());
    assertNotNull(Files.list(dir.resolve("logs")).findAny().orElse(null), "the named log dir is kept");
  }

  /**
   * {@code --secured}: each service gets a login and a client file; nothing is allowed until {@code acl apply} (run
   * with the administrator's file) grants it; then the behaviors producer may write behaviors, still not user commands.
   */
  @Test
  void securedBrokerGivesEachServiceALoginAndRefusesWhatNoAclGrants(@TempDir Path dir) throws Exception {
    BrokerCommand cmd = new BrokerCommand();
    StringWriter out = new StringWriter();
    CommandLine cl = new CommandLine(cmd);
    cl.setOut(new PrintWriter(out, true));
    AtomicInteger code = new AtomicInteger(-1);
    Path clients = dir.resolve("clients");
    Thread t = new Thread(() -> code.set(cl.execute("--secured", "--port", "0", "--partitions", "1",
        "--log-dir", dir.resolve("logs").toString(), "--tls-dir", dir.resolve("tls").toString(),
        "--clients-dir", clients.toString())));
    t.start();
    long giveUp = System.currentTimeMillis() + 120_000;
    while (cmd.bootstrap() == null || !out.toString().contains("Ctrl-C")) {
      assertTrue(t.isAlive() && System.currentTimeMillis() < giveUp, "broker did not start: " + out);
      Thread.sleep(50);
    }
    try {
      for (String user : List.of("oppu-admin", "oppu-streams", "oppu-trainer", "oppu-behaviors", "oppu-requests",
          "oppu-responses")) {
        assertTrue(Files.isRegularFile(clients.resolve(user + ".properties")), user + ": " + out);
      }
      Topics topics = Topics.defaults();
      java.util.Properties producer = ClientConfig.load(clients.resolve("oppu-behaviors.properties"));
      assertEquals("SASL_SSL", producer.getProperty("security.protocol"));
      assertThrows(java.util.concurrent.ExecutionException.class,
          () -> send(producer, topics.behaviors.name()), "no ACL yet: refused");

      CommandLine acl = new CommandLine(new AclCommand());
      acl.setOut(new PrintWriter(new StringWriter(), true));
      assertEquals(0, acl.execute("apply", "--kafka-config", clients.resolve("oppu-admin.properties").toString()));
      send(producer, topics.behaviors.name());
      java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
          () -> send(producer, topics.userCommands.name()));
      assertTrue(e.getCause() instanceof org.apache.kafka.common.errors.TopicAuthorizationException, e.toString());
    } finally {
      cmd.stop();
      t.join(60_000);
    }
    assertEquals(0, code.get());
  }

  private static void send(java.util.Properties client, String topic) throws Exception {
    java.util.Properties p = new java.util.Properties();
    p.putAll(client);
    p.put("max.block.ms", "20000");
    p.put("delivery.timeout.ms", "20000");
    p.put("request.timeout.ms", "10000");
    try (var producer = new org.apache.kafka.clients.producer.KafkaProducer<>(p,
        new org.apache.kafka.common.serialization.StringSerializer(),
        new org.apache.kafka.common.serialization.StringSerializer())) {
      producer.send(new org.apache.kafka.clients.producer.ProducerRecord<>(topic, "u", "x")).get(30, TimeUnit.SECONDS);
    }
  }
}
