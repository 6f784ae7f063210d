package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.schemas.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The broker's own life cycle (the extension's shared broker covers producing and consuming). */
class EmbeddedKafkaBrokerTest {

  @Test
  void aNamedLogDirKeepsItsTopicsAcrossRestarts(@TempDir Path dir) throws Exception {
    Path logDir = dir.resolve("kafka-logs");
    Topics topics = Topics.defaults();
    try (EmbeddedKafkaBroker b = EmbeddedKafkaBroker.builder().logDir(logDir).build().start()) {
      b.createTopics(topics, 2);
      assertTrue(Files.exists(logDir.resolve("meta.properties")));
    }
    assertTrue(Files.exists(logDir), "a named log dir must survive close");
    // Restarted on other free ports: the formatted dir is reused, not reformatted.
    try (EmbeddedKafkaBroker b = EmbeddedKafkaBroker.builder().logDir(logDir).build().start();
         Admin admin = Admin.create(b.clientConfig().admin())) {
      Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
      assertTrue(names.contains(topics.behaviors.name()) && names.contains(topics.adapters.name()), names.toString());
      assertTrue(b.createTopics(topics, 2).created().isEmpty());
    }
  }

  @Test
  void aTemporaryLogDirIsDeletedOnClose() {
    Path logDir;
    EmbeddedKafkaBroker b = EmbeddedKafkaBroker.create().start();
    try {
      logDir = b.logDir();
      assertTrue(Files.isDirectory(logDir));
    } finally {
      b.close();
    }
    assertFalse(Files.exists(logDir));
    b.close(); // idempotent
  }
}
