package dev.oppu.cli;

import static dev.oppu.cli.SystemHarness.concat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.broker.ClientConfig;
import dev.oppu.broker.EmbeddedKafkaBroker;
import dev.oppu.broker.TlsMaterial;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.schemas.StoreNames;
import dev.oppu.schemas.Topics;
import dev.oppu.schemas.UserAction;
import dev.oppu.serving.ServingConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole system with access control on: a SASL_SSL (SCRAM-SHA-512, TLS with certificates made here) embedded broker
 * with KRaft's StandardAuthorizer, the ACLs applied by {@code oppu acl apply}, every part logged in as its own
 * principal: the administrator creates the topics, a behaviors producer publishes, the streams application and the
 * trainer train and answer, a requests/responses client asks, the administrator deletes the user (the command records
 * who asked). The behaviors producer may not write user commands, read responses, read a changelog or write adapters.
 */
class SecuredSystemTest {

  private static final String[] USERS = {"oppu-admin", "oppu-streams", "oppu-trainer", "oppu-behaviors",
      "oppu-client"};

  @TempDir
  Path dir;

  private static String password(String user) {
    return user + "-pw";
  }

  /** {@code --bootstrap B --kafka-config FILE} logging in as {@code user}; state and adapter store under dir. */
  private String[] login(EmbeddedKafkaBroker b, TlsMaterial tls, String user) throws Exception {
    Properties p = EmbeddedKafkaBroker.scramClientProperties(tls, user, password(user));
    p.setProperty("state.dir", dir.resolve("state").toString());
    p.setProperty(ServingConfig.ADAPTER_STORE, dir.resolve("adapter-store").toString());
    Path cfg = dir.resolve(user + ".properties");
    try (var w = Files.newBufferedWriter(cfg)) {
      p.store(w, null);
    }
    return new String[] {"--bootstrap", b.bootstrapServers(), "--kafka-config", cfg.toString()};
  }

  @Test
  void theSystemWorksWithAclsAndAProducerCannotOverstepThem() throws Exception {
    TlsMaterial tls = TlsMaterial.generate(dir.resolve("tls"), "localhost", "tls-secret");
    EmbeddedKafkaBroker.Builder builder = EmbeddedKafkaBroker.builder().secured(tls, "broker", "broker-pw");
    for (String u : USERS) {
      builder.scramUser(u, password(u));
    }
    Topics topics = Topics.defaults();
    try (EmbeddedKafkaBroker b = builder.build().start()) {
      String appId = "secured-" + System.nanoTime();
      SystemHarness.Run applied = SystemHarness.run(new AclCommand(), concat(new String[] {"apply"},
          concat(login(b, tls, "broker"), "--application-id", appId, "--requests-principal", "User:oppu-client",
              "--responses-principal", "User:oppu-client")));
      assertEquals(0, applied.code(), applied.err());
      assertTrue(applied.out().contains("\"applied\":"), applied.out());

      // The administrator creates the topics (retrying while the new ACLs reach the broker's authorizer).
      ClientConfig admin = b.clientConfig("oppu-admin", password("oppu-admin"));
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (true) {
        try {
          TopicAdmin.ensureTopics(admin.admin(), topics, TopicAdmin.Settings.of(2));
          break;
        } catch (RuntimeException e) {
          if (System.nanoTime() > giveUp) {
            throw e;
          }
          Thread.sleep(500);
        }
      }

      Path model = dir.resolve("model");
      SystemHarness.writeModel(model, LlamaConfig.of(512, 64, 172, 2, 4, 2, 256, 10000.0, false), 5);
      String[] behaviorsLogin = login(b, tls, "oppu-behaviors");
      try (SystemHarness.Services services = new SystemHarness.Services(login(b, tls, "oppu-streams"),
          login(b, tls, "oppu-trainer"), login(b, tls, "oppu-client"), appId, model,
          new String[] {"--no-create-topics"})) {
        Path behaviors = SystemHarness.movieBehaviors(dir.resolve("behaviors.jsonl"), "ann", 14);
        SystemHarness.Run published = SystemHarness.run(new PublishCommand(),
            concat(behaviorsLogin, "--no-create-topics", "--file", behaviors.toString()));
        assertEquals(0, published.code(), published.err());

        String input = Task.MOVIE_TAGGING.lampInput("a film about friends and their comedy story", List.of());
        SystemHarness.Answer answer = services.askUntilAdapter("ann", input);
        assertNotNull(answer.response().getAdapterVersion(), answer.printed());

        // The behaviors producer oversteps: each is refused by the authorizer.
        ClientConfig producer = b.clientConfig("oppu-behaviors", password("oppu-behaviors"));
        dev.oppu.schemas.UserCommand delete = dev.oppu.schemas.UserCommand.newBuilder().setCommandId("forged").setUserId("ann")
            .setAction(UserAction.DELETE).setRequestedAt(Instant.now()).setRequestedBy("oppu-admin").build();
        assertRefusedWrite(producer, topics.userCommands.name(), "ann",
            topics.userCommands.valueSerde().serializer().serialize(topics.userCommands.name(), delete));
        assertRefusedWrite(producer, topics.adapters.name(), Topics.adapterKey("ann", "LaMP_2M", "rag"), new byte[0]);
        assertRefusedRead(producer, topics.responses.name());
        assertRefusedRead(producer, appId + "-" + StoreNames.HISTORY_STORE + "-changelog");
        SystemHarness.Run forged = SystemHarness.run(new UserCommand(), concat(concat(new String[] {"delete"},
            behaviorsLogin), "--user", "ann", "--application-id", appId, "--timeout-ms", "20000"));
        assertNotEquals(0, forged.code(), forged.out());
        assertTrue(!forged.out().contains("delete command"), forged.out());
        assertTrue(forged.err().contains("Authorization") || forged.err().contains("authoriz")
            || forged.err().contains("could not read"), forged.err());

        // The administrator deletes the user; the command records who asked.
        SystemHarness.Run deleted = SystemHarness.run(new UserCommand(), concat(concat(new String[] {"delete"},
            login(b, tls, "oppu-admin")), "--user", "ann", "--application-id", appId, "--timeout-ms", "180000"));
        assertEquals(0, deleted.code(), deleted.out() + deleted.err() + services.logs());
        assertTrue(deleted.out().contains(" as oppu-admin "), deleted.out());
        assertTrue(deleted.out().contains("user ann deleted"), deleted.out());
      }
      List<dev.oppu.schemas.UserCommand> commands = readAll(b.clientConfig(), topics.userCommands);
      assertEquals(1, commands.size(), commands.toString());
      assertEquals("oppu-admin", commands.get(0).getRequestedBy());
    }
  }

  private static void assertRefusedWrite(ClientConfig client, String topic, String key, byte[] value) {
    Properties p = client.producer();
    p.setProperty("max.block.ms", "30000");
    p.setProperty("delivery.timeout.ms", "30000");
    p.setProperty("request.timeout.ms", "15000");
    try (KafkaProducer<String, byte[]> prod = new KafkaProducer<>(p, new StringSerializer(),
        new ByteArraySerializer())) {
      ExecutionException e = assertThrows(ExecutionException.class,
          () -> prod.send(new ProducerRecord<>(topic, key, value)).get(60, TimeUnit.SECONDS), topic);
      assertInstanceOf(TopicAuthorizationException.class, e.getCause(), topic);
    }
  }

  private static void assertRefusedRead(ClientConfig client, String topic) {
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(client.consumer(null), new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      c.assign(List.of(new TopicPartition(topic, 0)));
      assertThrows(TopicAuthorizationException.class, () -> {
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < giveUp) {
          c.poll(Duration.ofMillis(500));
        }
      }, topic);
    }
  }

  private static <V> List<V> readAll(ClientConfig client, Topics.Topic<String, V> t) {
    List<V> out = new ArrayList<>();
    try (KafkaConsumer<String, V> c = new KafkaConsumer<>(client.consumer(null), new StringDeserializer(),
        t.valueSerde().deserializer())) {
      List<TopicPartition> parts = c.partitionsFor(t.name(), Duration.ofSeconds(30)).stream()
          .map(pi -> new TopicPartition(pi.topic(), pi.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      var end = c.endOffsets(parts);
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.nanoTime() < giveUp) {
        c.poll(Duration.ofMillis(200)).forEach(r -> out.add(r.value()));
      }
    }
    return out;
  }
}
