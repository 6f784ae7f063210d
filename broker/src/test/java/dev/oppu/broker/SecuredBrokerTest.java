package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Security is client configuration: a SASL/PLAIN broker, clients configured only through a properties file. */
class SecuredBrokerTest {

  private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required "
      + "username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" user_alice=\"alice-secret\";";

  private static Path clientFile(Path dir, String user, String password) throws Exception {
    Path f = dir.resolve(user + "-" + password + ".properties");
    Files.writeString(f, String.join("\n",
        "security.protocol=SASL_PLAINTEXT",
        "sasl.mechanism=PLAIN",
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + user
            + "\" password=\"" + password + "\";"));
    return f;
  }

  @Test
  void saslClientsConfiguredFromAFileProduceAndConsumeAndWrongCredentialsAreRefused(@TempDir Path dir)
      throws Exception {
    Properties broker = new Properties();
    broker.setProperty("sasl.enabled.mechanisms", "PLAIN");
    broker.setProperty("sasl.mechanism.inter.broker.protocol", "PLAIN");
    broker.setProperty("listener.name.sasl_plaintext.plain.sasl.jaas.config", JAAS);
    try (EmbeddedKafkaBroker b = EmbeddedKafkaBroker.builder().clientListener("SASL_PLAINTEXT")
        .brokerProperties(broker)
        .clientProperties(ClientConfig.load(clientFile(dir, "admin", "admin-secret")))
        .build().start()) {
      Topics topics = Topics.defaults();
      b.createTopics(topics, 1);
      ClientConfig alice = ClientConfig.of(b.bootstrapServers(), clientFile(dir, "alice", "alice-secret"));
      var t = topics.behaviors;
      Behavior ev = Behavior.newBuilder().setEventId("e").setUserId("u").setTask("LaMP_2M").setEventTime(Instant.now())
          .setFields(Map.of("description", "d", "tag", "comedy")).build();
      try (KafkaProducer<String, Behavior> p = new KafkaProducer<>(alice.producer(), t.keySerde().serializer(),
          t.valueSerde().serializer())) {
        p.send(new ProducerRecord<>(t.name(), "u", ev)).get(30, TimeUnit.SECONDS);
      }
      List<ConsumerRecord<String, Behavior>> got = new ArrayList<>();
      try (KafkaConsumer<String, Behavior> c = new KafkaConsumer<>(alice.consumer("alice"),
          t.keySerde().deserializer(), t.valueSerde().deserializer())) {
        c.subscribe(List.of(t.name()));
        long giveUp = System.currentTimeMillis() + 30_000;
        while (got.isEmpty() && System.currentTimeMillis() < giveUp) {
          c.poll(Duration.ofMillis(200)).forEach(got::add);
        }
      }
      assertEquals(List.of(ev), got.stream().map(ConsumerRecord::value).toList());

      ClientConfig mallory = ClientConfig.of(b.bootstrapServers(), clientFile(dir, "alice", "wrong"));
      try (Admin admin = Admin.create(mallory.admin())) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> admin.listTopics().names().get(30, TimeUnit.SECONDS));
        assertInstanceOf(SaslAuthenticationException.class, e.getCause());
      }
    }
  }
}
