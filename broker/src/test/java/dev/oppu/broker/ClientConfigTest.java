package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClientConfigTest {

  @Test
  void securitySettingsPassThroughToEveryClientAndProjectKeysDoNot(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("client.properties");
    Files.writeString(file, String.join("\n",
        "bootstrap.servers=file-host:9093",
        "security.protocol=SASL_SSL",
        "sasl.mechanism=SCRAM-SHA-512",
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";",
        "ssl.truststore.location=/etc/kafka/truststore.jks",
        "client.dns.lookup=use_all_dns_ips",
        "acks=1",
        "oppu.topic.behaviors=my-behaviors",
        "oppu.behaviors.retention.ms=1000"));
    ClientConfig c = ClientConfig.of("cli-host:9092", file);
    assertEquals("cli-host:9092", c.bootstrapServers(), "an explicit bootstrap wins over the file's");
    for (Properties p : new Properties[] {c.admin(), c.producer(), c.consumer("g"), c.streams("app")}) {
      assertEquals("SASL_SSL", p.getProperty("security.protocol"));
      assertEquals("SCRAM-SHA-512", p.getProperty("sasl.mechanism"));
      assertTrue(p.getProperty("sasl.jaas.config").contains("ScramLoginModule"));
      assertEquals("/etc/kafka/truststore.jks", p.getProperty("ssl.truststore.location"));
      assertEquals("use_all_dns_ips", p.getProperty("client.dns.lookup"));
      assertEquals("cli-host:9092", p.getProperty("bootstrap.servers"));
      assertFalse(p.stringPropertyNames().stream().anyMatch(k -> k.startsWith("oppu.")), p.toString());
    }
    assertEquals("1", c.producer().getProperty("acks"), "the file may override the producer defaults");
    assertEquals("my-behaviors", c.raw().getProperty("oppu.topic.behaviors"));
    assertEquals("app", c.streams("app").getProperty("application.id"));
    assertEquals("g", c.consumer("g").getProperty("group.id"));
    assertFalse(c.toString().contains("password"), "toString must not leak secrets");
  }

  @Test
  void principalNameIsTheSaslUserNameElseAnonymous() {
    java.util.Properties p = new java.util.Properties();
    assertEquals("anonymous", ClientConfig.of(p).principalName());
    p.setProperty("security.protocol", "SASL_SSL");
    p.setProperty("sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"oppu-admin\" password=\"x\";");
    assertEquals("oppu-admin", ClientConfig.of(p).principalName());
    p.setProperty("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required "
        + "password=\"username=mallory\" username=alice;");
    assertEquals("alice", ClientConfig.of(p).principalName());
    p.setProperty("security.protocol", "PLAINTEXT");
    assertEquals("anonymous", ClientConfig.of(p).principalName());
  }

  @Test
  void defaults() {
    ClientConfig c = ClientConfig.of(null, null);
    assertEquals(ClientConfig.DEFAULT_BOOTSTRAP, c.bootstrapServers());
    Properties p = c.producer();
    assertEquals("all", p.getProperty("acks"));
    assertEquals("true", p.getProperty("enable.idempotence"));
    assertEquals(Integer.toString(ClientConfig.MAX_RECORD_BYTES), p.getProperty("max.request.size"));
    assertEquals(null, c.consumer(null).getProperty("group.id"));
    Properties burst = c.burstProducer();
    assertEquals("1", burst.getProperty("max.in.flight.requests.per.connection"));
    assertEquals("true", burst.getProperty("enable.idempotence"));
    assertEquals("all", burst.getProperty("acks"));
    assertEquals(null, p.getProperty("max.in.flight.requests.per.connection"), "other producers keep Kafka's default");
  }

  @Test
  void aMissingFileIsAClearError(@TempDir Path dir) {
    UncheckedIOException e = assertThrows(UncheckedIOException.class,
        () -> ClientConfig.of("h:1", dir.resolve("nope.properties")));
    assertTrue(e.getMessage().contains("nope.properties"));
  }
}
