package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.schemas.Behavior;
import dev.oppu.schemas.Topics;
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
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.errors.SaslAuthenticationException;
import org.apache.kafka.common.errors.SslAuthenticationException;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The secured embedded broker: SASL_SSL with SCRAM-SHA-512 logins, TLS with certificates made by the test, KRaft's
 * StandardAuthorizer. A login works only with its password and over TLS trusting the broker's certificate, and a
 * login can do only what an ACL grants it.
 */
class SaslSslBrokerTest {

  @Test
  void scramOverTlsWithTheStandardAuthorizer(@TempDir Path dir) throws Exception {
    TlsMaterial tls = TlsMaterial.generate(dir.resolve("tls"), "localhost", "test-secret");
    try (EmbeddedKafkaBroker b = EmbeddedKafkaBroker.builder().secured(tls, "admin", "admin-secret")
        .scramUser("alice", "alice-secret").build().start()) {
      Topics topics = Topics.defaults();
      b.createTopics(topics, 1);
      var t = topics.behaviors;
      ClientConfig alice = b.clientConfig("alice", "alice-secret");
      Behavior ev = Behavior.newBuilder().setEventId("e").setUserId("u").setTask("LaMP_2M").setEventTime(Instant.now())
          .setFields(Map.of("description", "d", "tag", "comedy")).build();

      // No ACL yet: alice is authenticated but may not write.
      Properties once = alice.producer();
      once.setProperty("max.block.ms", "20000");
      once.setProperty("delivery.timeout.ms", "20000");
      once.setProperty("request.timeout.ms", "10000");
      try (KafkaProducer<String, Behavior> p = new KafkaProducer<>(once, t.keySerde().serializer(),
          t.valueSerde().serializer())) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> p.send(new ProducerRecord<>(t.name(), "u", ev)).get(30, TimeUnit.SECONDS));
        assertInstanceOf(TopicAuthorizationException.class, e.getCause());
      }

      try (Admin admin = Admin.create(b.clientConfig().admin())) {
        String who = "User:alice";
        admin.createAcls(List.of(
            new AclBinding(new ResourcePattern(ResourceType.TOPIC, t.name(), PatternType.LITERAL),
                new AccessControlEntry(who, "*", AclOperation.WRITE, AclPermissionType.ALLOW)),
            new AclBinding(new ResourcePattern(ResourceType.TOPIC, t.name(), PatternType.LITERAL),
                new AccessControlEntry(who, "*", AclOperation.READ, AclPermissionType.ALLOW)),
            new AclBinding(new ResourcePattern(ResourceType.GROUP, "alice", PatternType.LITERAL),
                new AccessControlEntry(who, "*", AclOperation.READ, AclPermissionType.ALLOW))))
            .all().get(30, TimeUnit.SECONDS);
      }
      try (KafkaProducer<String, Behavior> p = new KafkaProducer<>(alice.producer(), t.keySerde().serializer(),
          t.valueSerde().serializer())) {
        p.send(new ProducerRecord<>(t.name(), "u", ev)).get(60, TimeUnit.SECONDS);
      }
      List<ConsumerRecord<String, Behavior>> got = new ArrayList<>();
      try (KafkaConsumer<String, Behavior> c = new KafkaConsumer<>(alice.consumer("alice"),
          t.keySerde().deserializer(), t.valueSerde().deserializer())) {
        c.subscribe(List.of(t.name()));
        long giveUp = System.currentTimeMillis() + 60_000;
        while (got.isEmpty() && System.currentTimeMillis() < giveUp) {
          c.poll(Duration.ofMillis(200)).forEach(got::add);
        }
      }
      assertEquals(List.of(ev), got.stream().map(ConsumerRecord::value).toList());

      // Wrong password: refused.
      try (Admin admin = Admin.create(b.clientConfig("alice", "wrong").admin())) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> admin.listTopics().names().get(30, TimeUnit.SECONDS));
        assertInstanceOf(SaslAuthenticationException.class, e.getCause());
      }
      // Right password but a client that does not trust the broker's certificate: the TLS handshake fails.
      Properties untrusting = b.clientConfig("alice", "alice-secret").admin();
      untrusting.remove("ssl.truststore.location");
      untrusting.remove("ssl.truststore.password");
      untrusting.remove("ssl.truststore.type");
      try (Admin admin = Admin.create(untrusting)) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> admin.listTopics().names().get(30, TimeUnit.SECONDS));
        assertInstanceOf(SslAuthenticationException.class, e.getCause());
      }
      // Plaintext to the TLS port: no answer a client accepts.
      Properties plain = new Properties();
      plain.setProperty("bootstrap.servers", b.bootstrapServers());
      plain.setProperty("request.timeout.ms", "3000");
      plain.setProperty("default.api.timeout.ms", "5000");
      try (Admin admin = Admin.create(plain)) {
        ExecutionException e = assertThrows(ExecutionException.class,
            () -> admin.listTopics().names().get(30, TimeUnit.SECONDS));
        assertTrue(e.getCause() != null);
      }
    }
  }
}
