package dev.oppu.broker;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.dockerclient.DockerClientProviderStrategy;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.utility.DockerImageName;

/**
 * Kafka in a container through Testcontainers, configured for adapter-sized records like the embedded broker. Only
 * loaded when Testcontainers is on the class path: it is an optional dependency of this module.
 *
 * <p>The image is the project's own ({@value #IMAGE}, built from the repository's Dockerfile) running
 * {@code oppu broker}, the same single-node KRaft broker as the embedded one, on the host network (its listener on
 * localhost, at a free port: no traffic leaves the machine). {@code OPPU_TEST_KAFKA_IMAGE} (or the system property
 * {@code oppu.test.kafka.image}) names another image: one whose name starts with {@code apache/kafka} runs as
 * Testcontainers' own {@link KafkaContainer}.
 *
 * <p>Nothing is ever pulled: {@link #unusableReason} says why the path cannot run here (no Docker engine, the image
 * not present locally, Ryuk on without its image, or, inside a container, no {@code TESTCONTAINERS_HOST_OVERRIDE}),
 * and the extension then falls back to the embedded broker.
 * It asks the engine with a client of its own, because Testcontainers' {@code DockerClientFactory.client()} starts
 * Ryuk, which pulls {@code testcontainers/ryuk} when that image is missing (and stalls where no registry answers).
 */
final class ContainerKafka implements AutoCloseable {

  /** The project's image, as {@code docker build -t oppu:latest .} (or .ci/docker-images) makes it. */
  static final String IMAGE = "oppu:latest";
  /**
   * The Ryuk image Testcontainers 1.21.3 (the pom's testcontainers.version) runs: its RyukContainer's (the
   * configuration's getRyukImage() answers with another tag). Check it again when Testcontainers is upgraded.
   */
  static final String RYUK_IMAGE = "testcontainers/ryuk:0.12.0";
  /** The official image, as docker-compose.yml runs it for users. */
  static final String OFFICIAL_IMAGE = "apache/kafka:4.1.1";

  private final GenericContainer<?> container;
  private final String bootstrap;

  private ContainerKafka(GenericContainer<?> container, String bootstrap) {
    this.container = container;
    this.bootstrap = bootstrap;
  }

  /** The image to run: {@code oppu.test.kafka.image} / {@code OPPU_TEST_KAFKA_IMAGE}, else {@value #IMAGE}. */
  static String image() {
    String v = System.getProperty("oppu.test.kafka.image");
    if (v == null || v.isBlank()) {
      v = System.getenv("OPPU_TEST_KAFKA_IMAGE");
    }
    return v == null || v.isBlank() ? IMAGE : v.trim();
  }

  /** True when Ryuk, Testcontainers' reaper container, is off ({@code TESTCONTAINERS_RYUK_DISABLED=true}). */
  static boolean ryukDisabled() {
    return Boolean.parseBoolean(System.getenv("TESTCONTAINERS_RYUK_DISABLED"));
  }

  /**
   * Null when a Docker engine answers and every image the container needs is present locally; else why not, in a
   * sentence. Never pulls, never starts a container, never throws.
   */
  static String unusableReason(String image) {
    DockerClient client;
    try {
      client = DockerClientProviderStrategy.getClientForConfig(DockerClientFactory.instance().getTransportConfig());
      client.pingCmd().exec();
    } catch (Throwable t) {
      return "no Docker engine answers (" + t.getClass().getSimpleName() + ": " + t.getMessage() + ")";
    }
    try (DockerClient c = client) {
      if (!present(c, image)) {
        return "the image " + image + " is not present locally (build it: docker build -t " + IMAGE
            + " . ; see README, Docker)";
      }
      if (!ryukDisabled()) {
        if (!present(c, RYUK_IMAGE)) {
          return "Testcontainers' Ryuk image " + RYUK_IMAGE + " is not present locally and TESTCONTAINERS_RYUK_DISABLED"
              + " is not true";
        }
      }
      // Inside a container (/.dockerenv), Testcontainers finds the engine's address by running its alpine image
      // (pulled when absent) unless TESTCONTAINERS_HOST_OVERRIDE names it (localhost: the broker is on the host
      // network).
      String host = System.getenv("TESTCONTAINERS_HOST_OVERRIDE");
      if (Files.exists(Path.of("/.dockerenv")) && (host == null || host.isBlank())) {
        return "this runs inside a container and TESTCONTAINERS_HOST_OVERRIDE is not set (set it to localhost;"
            + " else Testcontainers would run, and pull, its alpine image to find the Docker host)";
      }
      return null;
    } catch (Throwable t) {
      return "the Docker engine failed to answer about images (" + t.getClass().getSimpleName() + ": "
          + t.getMessage() + ")";
    }
  }

  private static boolean present(DockerClient c, String image) {
    try {
      c.inspectImageCmd(image).exec();
      return true;
    } catch (NotFoundException e) {
      return false;
    }
  }

  /** Starts {@link #image()}; call {@link #unusableReason} first: this never pulls. */
  static ContainerKafka start() {
    String image = image();
    String max = Integer.toString(ClientConfig.MAX_RECORD_BYTES);
    if (image.startsWith("apache/kafka")) {
      KafkaContainer c = new KafkaContainer(DockerImageName.parse(image))
          .withEnv("KAFKA_MESSAGE_MAX_BYTES", max)
          .withEnv("KAFKA_REPLICA_FETCH_MAX_BYTES", max)
          .withEnv("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0");
      c.withImagePullPolicy(name -> false);
      c.start();
      return new ContainerKafka(c, c.getBootstrapServers());
    }
    // `oppu broker` sets the same record limits as the embedded broker; the host network lets it advertise
    // localhost:<port> to clients on this machine, and only to them.
    int port = EmbeddedKafkaBroker.freePort();
    GenericContainer<?> c = new GenericContainer<>(DockerImageName.parse(image))
        .withNetworkMode("host")
        .withImagePullPolicy(name -> false)
        .withEnv("OPPU_JAVA_OPTS", "-Xmx1g")
        .withCommand("broker", "--temp", "--no-topics", "--host", "localhost", "--port", Integer.toString(port))
        .waitingFor(Wait.forLogMessage(".*bootstrap: .*", 1).withStartupTimeout(Duration.ofMinutes(3)));
    c.start();
    return new ContainerKafka(c, "localhost:" + port);
  }

  String bootstrapServers() {
    return bootstrap;
  }

  String imageName() {
    return container.getDockerImageName();
  }

  @Override
  public void close() {
    container.stop();
  }
}
