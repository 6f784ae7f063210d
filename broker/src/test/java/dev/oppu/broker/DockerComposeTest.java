package dev.oppu.broker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.Uuid;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docker-compose.yml cannot run here (no Docker engine): this checks its structure instead. The broker is KRaft,
 * the services run the oppu commands against an address the broker advertises, and the broker takes adapter-sized
 * records.
 */
class DockerComposeTest {

  static final Path ROOT = Path.of("").toAbsolutePath().getParent(); // surefire runs in the module dir
  static JsonNode compose;

  @BeforeAll
  static void parse() throws Exception {
    compose = new ObjectMapper(new YAMLFactory()).readTree(ROOT.resolve("docker-compose.yml").toFile());
  }

  private static JsonNode service(String name) {
    JsonNode s = compose.path("services").get(name);
    assertNotNull(s, "service " + name + " missing");
    return s;
  }

  private static String env(JsonNode service, String key) {
    JsonNode v = service.path("environment").get(key);
    assertNotNull(v, key + " missing");
    return v.asText();
  }

  @Test
  void namesTheBrokerAndTheServices() {
    List<String> names = new ArrayList<>();
    compose.path("services").fieldNames().forEachRemaining(names::add);
    assertTrue(names.containsAll(List.of("kafka", "streams", "trainer")), names.toString());
    assertFalse(names.stream().anyMatch(n -> n.toLowerCase().contains("zookeeper")), names.toString());
  }

  @Test
  void theBrokerIsASingleKraftNodeOnTheImageTheTestsUse() {
    JsonNode kafka = service("kafka");
    assertEquals(ContainerKafka.IMAGE, kafka.path("image").asText());
    String roles = env(kafka, "KAFKA_PROCESS_ROLES");
    assertTrue(roles.contains("broker") && roles.contains("controller"), roles);
    String voters = env(kafka, "KAFKA_CONTROLLER_QUORUM_VOTERS");
    assertTrue(voters.startsWith(env(kafka, "KAFKA_NODE_ID") + "@"), voters);
    assertTrue(env(kafka, "KAFKA_LISTENERS").contains("CONTROLLER://"));
    assertEquals("CONTROLLER", env(kafka, "KAFKA_CONTROLLER_LISTENER_NAMES"));
    assertFalse(kafka.path("environment").has("KAFKA_ZOOKEEPER_CONNECT"));
    assertTrue(Long.parseLong(env(kafka, "KAFKA_MESSAGE_MAX_BYTES")) >= ClientConfig.MAX_RECORD_BYTES);
    assertTrue(Long.parseLong(env(kafka, "KAFKA_REPLICA_FETCH_MAX_BYTES")) >= ClientConfig.MAX_RECORD_BYTES);
    assertEquals("1", env(kafka, "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"));
    // Published on the loopback interface only, unless OPPU_KAFKA_BIND says otherwise.
    for (var port : kafka.path("ports")) {
      assertTrue(port.asText().startsWith("${OPPU_KAFKA_BIND:-127.0.0.1}:")
          || port.asText().startsWith("127.0.0.1:"), "port published beyond the host: " + port.asText());
    }
    // kafka-storage format rejects a cluster id that is not a Kafka Uuid.
    assertEquals(env(kafka, "CLUSTER_ID"), Uuid.fromString(env(kafka, "CLUSTER_ID")).toString());
  }

  @Test
  void servicesRunOppuAgainstAnAdvertisedListenerAfterTheBroker() throws Exception {
    String advertised = env(service("kafka"), "KAFKA_ADVERTISED_LISTENERS");
    for (String name : List.of("streams", "trainer")) {
      JsonNode s = service(name);
      List<String> command = new ArrayList<>();
      s.path("command").forEach(c -> command.add(c.asText()));
      assertEquals(List.of("run", name), command.subList(0, 2), name + " command");
      assertEquals(".", s.path("build").asText(), name + " builds from the repository");
      String bootstrap = env(s, "KAFKA_BOOTSTRAP_SERVERS");
      assertTrue(advertised.contains("//" + bootstrap), name + ": " + bootstrap + " not in " + advertised);
      assertEquals("service_healthy", s.path("depends_on").path("kafka").path("condition").asText(), name);
      assertTrue(s.path("ports").isEmpty(), name + " publishes no port");
    }
    String dockerfile = Files.readString(ROOT.resolve("Dockerfile"));
    assertTrue(dockerfile.contains("ENTRYPOINT [\"./oppu\"]"), "the image's entry point is ./oppu");
  }
}
