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
 * The structure of docker-compose.yml and its test override (the app module's ComposeSystemTest runs them): the
 * broker is KRaft, the services run the oppu commands against an address the broker advertises, streams and the
 * trainer share the adapter store, the broker takes adapter-sized records, and the file parses with Debian's
 * docker-compose 1.29 (no top-level {@code name:}).
 */
class DockerComposeTest {

  static final Path ROOT = Path.of("").toAbsolutePath().getParent(); // surefire runs in the module dir
  static final List<String> SERVICES = List.of("streams-1", "streams-2", "trainer");
  static JsonNode compose;
  static JsonNode override;

  @BeforeAll
  static void parse() throws Exception {
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    compose = yaml.readTree(ROOT.resolve("docker-compose.yml").toFile());
    override = yaml.readTree(ROOT.resolve("docker-compose.test.yml").toFile());
  }

  private static JsonNode service(String name) {
    return service(compose, name);
  }

  private static JsonNode service(JsonNode file, String name) {
    JsonNode s = file.path("services").get(name);
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
    assertTrue(names.containsAll(List.of("kafka", "streams-1", "streams-2", "trainer")), names.toString());
    // docker-compose 1.29 (Debian's) refuses the Compose spec's top-level name.
    assertFalse(compose.has("name"), "no top-level name: docker-compose 1.29 refuses it");
    assertFalse(override.has("name"));
    assertFalse(names.stream().anyMatch(n -> n.toLowerCase().contains("zookeeper")), names.toString());
  }

  @Test
  void theBrokerIsASingleKraftNodeOnTheOfficialImage() {
    JsonNode kafka = service("kafka");
    assertEquals(ContainerKafka.OFFICIAL_IMAGE, kafka.path("image").asText());
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
    for (String name : SERVICES) {
      JsonNode s = service(name);
      List<String> command = new ArrayList<>();
      s.path("command").forEach(c -> command.add(c.asText()));
      assertEquals(List.of("run", name.replaceAll("-\\d+$", "")), command.subList(0, 2), name + " command");
      assertEquals("models/default", option(command, "--model"), name + ": the committed model");
      assertEquals(".", s.path("build").asText(), name + " builds from the repository");
      assertEquals(ContainerKafka.IMAGE, s.path("image").asText(), name);
      String bootstrap = env(s, "KAFKA_BOOTSTRAP_SERVERS");
      assertTrue(advertised.contains("//" + bootstrap), name + ": " + bootstrap + " not in " + advertised);
      assertEquals("service_healthy", s.path("depends_on").path("kafka").path("condition").asText(), name);
      assertTrue(s.path("ports").isEmpty(), name + " publishes no port");
    }
    String dockerfile = Files.readString(ROOT.resolve("Dockerfile"));
    assertTrue(dockerfile.contains("ENTRYPOINT [\"./oppu\"]"), "the image's entry point is ./oppu");
  }

  @Test
  void streamsAndTheTrainerShareTheAdapterStoreVolume() {
    for (String name : SERVICES) {
      JsonNode s = service(name);
      List<String> command = new ArrayList<>();
      s.path("command").forEach(c -> command.add(c.asText()));
      String store = option(command, "--adapter-store");
      assertNotNull(store, name + " names its adapter store");
      List<String> volumes = new ArrayList<>();
      s.path("volumes").forEach(v -> volumes.add(v.asText()));
      assertTrue(volumes.contains("adapter-store:" + store), name + ": " + volumes);
    }
    assertTrue(compose.path("volumes").has("adapter-store"), "a named volume");
    // The two replicas keep their RocksDB state apart.
    List<String> states = new ArrayList<>();
    for (String name : List.of("streams-1", "streams-2")) {
      List<String> command = new ArrayList<>();
      service(name).path("command").forEach(c -> command.add(c.asText()));
      String stateDir = option(command, "--state-dir");
      service(name).path("volumes").forEach(v -> {
        if (v.asText().endsWith(":" + stateDir)) {
          states.add(v.asText());
        }
      });
    }
    assertEquals(2, states.size(), states.toString());
    assertFalse(states.get(0).equals(states.get(1)), states.toString());
  }

  @Test
  void theTestOverrideRunsTheProjectsBrokerOnThisMachineOnly() {
    JsonNode kafka = service(override, "kafka");
    assertEquals(ContainerKafka.IMAGE, kafka.path("image").asText(), "the project's image, not a pulled one");
    assertEquals("broker", kafka.path("command").get(0).asText());
    assertFalse(kafka.has("ports"), "the base file's port, published on 127.0.0.1, is the only one");
    for (var svc : override.path("services")) {
      assertFalse(svc.has("ports"), "no port published beyond the base file's");
      assertFalse(svc.has("image") && !svc.path("image").asText().equals(ContainerKafka.IMAGE), svc.toString());
    }
  }

  @Test
  void dockerCompose129ParsesTheFileAndTheOverride() throws Exception {
    // `docker-compose config` validates without a Docker engine; Debian's 1.29 is the strictest one we have.
    List<String> cmd = List.of("docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.test.yml", "config",
        "-q");
    Process p;
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true);
      pb.environment().put("OPPU_TEST_BROKER_CONFIG", "/dev/null");
      p = pb.start();
    } catch (java.io.IOException e) {
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        throw new AssertionError("CI=true: docker-compose must be installed (.ci/run installs it)", e);
      }
      org.junit.jupiter.api.Assumptions.abort("docker-compose is not installed");
      return;
    }
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "docker-compose config hangs");
    assertEquals(0, p.exitValue(), out);
  }

  private static String option(List<String> command, String name) {
    int i = command.indexOf(name);
    return i < 0 || i + 1 >= command.size() ? null : command.get(i + 1);
  }
}
