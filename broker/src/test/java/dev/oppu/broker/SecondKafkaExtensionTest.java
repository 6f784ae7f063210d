package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** A second class on the same extension: it must get the broker the first class got, not a new one. */
@ExtendWith(KafkaExtension.class)
class SecondKafkaExtensionTest {

  @Test
  void getsTheSameBroker(SharedKafka kafka) throws Exception {
    SharedBrokerRegistry.SEEN.add(kafka);
    assertEquals(1, SharedBrokerRegistry.SEEN.size(), "every test class must get the same broker");
    Properties p = kafka.clientConfig().admin();
    try (Admin admin = Admin.create(p)) {
      assertTrue(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS).size() >= 1);
    }
  }

  @Test
  void freshTopicsDoNotCollide(SharedKafka kafka) throws Exception {
    var a = kafka.freshTopics("second", 1);
    var b = kafka.freshTopics("second", 1);
    assertTrue(!a.behaviors.name().equals(b.behaviors.name()));
    try (Admin admin = Admin.create(kafka.clientConfig().admin())) {
      Set<String> names = admin.listTopics().names().get(30, TimeUnit.SECONDS);
      assertTrue(names.contains(a.adapters.name()) && names.contains(b.adapters.name()));
    }
  }
}
