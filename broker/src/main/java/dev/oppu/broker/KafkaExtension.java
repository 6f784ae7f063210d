package dev.oppu.broker;

import java.nio.file.Path;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way tests get Kafka. {@code @ExtendWith(KafkaExtension.class)} on a test class, then take a
 * {@link SharedKafka} parameter (in a test, a {@code @BeforeAll} or a constructor) or call {@link #kafka()}.
 *
 * <p>The broker is chosen once per test JVM, in this order:
 * <ol>
 *   <li>an external broker, when the environment variable {@code KAFKA_BOOTSTRAP_SERVERS} is set (client settings
 *       such as SASL/SSL from the properties file named by {@code KAFKA_CLIENT_PROPERTIES}, if set);</li>
 *   <li>Testcontainers' Kafka ({@link ContainerKafka}: the project's image running {@code oppu broker}), when
 *       Testcontainers is on the test class path, a Docker engine answers and every image it needs is present
 *       locally (nothing is pulled; Ryuk needs its image or {@code TESTCONTAINERS_RYUK_DISABLED=true}); otherwise
 *       a warning says why and the next one is used;</li>
 *   <li>the in-process {@link EmbeddedKafkaBroker}.</li>
 * </ol>
 * The system property or environment variable {@code oppu.test.kafka} / {@code OPPU_TEST_KAFKA}
 * ({@code external}, {@code testcontainers}, {@code embedded}) forces one. The broker lives in the root extension
 * store, so every test class of the JVM (a Maven module's test run) shares it; JUnit closes it after the last test.
 */
public final class KafkaExtension implements BeforeAllCallback, ParameterResolver {

  private static final Logger LOG = LoggerFactory.getLogger(KafkaExtension.class);
  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(KafkaExtension.class);
  private static final String KEY = "shared-kafka";

  private static volatile SharedKafka current;

  @Override
  public void beforeAll(ExtensionContext context) {
    shared(context);
  }

  @Override
  public boolean supportsParameter(ParameterContext pc, ExtensionContext ec) throws ParameterResolutionException {
    return pc.getParameter().getType() == SharedKafka.class;
  }

  @Override
  public Object resolveParameter(ParameterContext pc, ExtensionContext ec) throws ParameterResolutionException {
    return shared(ec);
  }

  /** The shared cluster; only valid in a test class that uses this extension. */
  public static SharedKafka kafka() {
    SharedKafka k = current;
    if (k == null) {
      throw new IllegalStateException("no Kafka yet: annotate the test class with @ExtendWith(KafkaExtension.class)");
    }
    return k;
  }

  /** Shortcut for {@code kafka().bootstrapServers()}. */
  public static String bootstrapServers() {
    return kafka().bootstrapServers();
  }

  private static SharedKafka shared(ExtensionContext context) {
    SharedKafka k = context.getRoot().getStore(NS)
        .getOrComputeIfAbsent(KEY, key -> startKafka(), SharedKafka.class);
    current = k;
    return k;
  }

  private static SharedKafka startKafka() {
    String forced = setting("oppu.test.kafka", "OPPU_TEST_KAFKA");
    String external = System.getenv("KAFKA_BOOTSTRAP_SERVERS");
    if ("external".equalsIgnoreCase(forced) || (forced == null && external != null && !external.isBlank())) {
      if (external == null || external.isBlank()) {
        throw new IllegalStateException("oppu.test.kafka=external but KAFKA_BOOTSTRAP_SERVERS is not set");
      }
      String propsFile = System.getenv("KAFKA_CLIENT_PROPERTIES");
      ClientConfig cfg = ClientConfig.of(external, propsFile == null || propsFile.isBlank() ? null : Path.of(propsFile));
      LOG.info("tests use the external Kafka at {}", cfg.bootstrapServers());
      return new SharedKafka(SharedKafka.Source.EXTERNAL, cfg, null);
    }
    boolean forcedContainers = "testcontainers".equalsIgnoreCase(forced);
    if (forcedContainers || (forced == null && testcontainersOnClassPath())) {
      if (!testcontainersOnClassPath()) {
        throw new IllegalStateException("oppu.test.kafka=testcontainers but Testcontainers is not on the class path");
      }
      String image = ContainerKafka.image();
      String why = ContainerKafka.unusableReason(image);
      if (why == null) {
        ContainerKafka c = ContainerKafka.start();
        LOG.info("tests use Testcontainers' Kafka ({}) at {}", c.imageName(), c.bootstrapServers());
        return new SharedKafka(SharedKafka.Source.TESTCONTAINERS, ClientConfig.of(c.bootstrapServers()), c);
      }
      if (forcedContainers) {
        throw new IllegalStateException("oppu.test.kafka=testcontainers, but " + why);
      }
      LOG.warn("Testcontainers' Kafka is not used, the embedded broker is: {}", why);
    }
    if (forced != null && !"embedded".equalsIgnoreCase(forced)) {
      throw new IllegalStateException("oppu.test.kafka must be external, testcontainers or embedded, got " + forced);
    }
    EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.create().start();
    LOG.info("tests use the embedded Kafka at {} (started in {} ms)", broker.bootstrapServers(), broker.startupMillis());
    return new SharedKafka(SharedKafka.Source.EMBEDDED, broker.clientConfig(), broker);
  }

  /** Testcontainers on the class path (an optional dependency). */
  private static boolean testcontainersOnClassPath() {
    try {
      Class.forName("org.testcontainers.DockerClientFactory", false, KafkaExtension.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  private static String setting(String property, String env) {
    String v = System.getProperty(property);
    if (v == null || v.isBlank()) {
      v = System.getenv(env);
    }
    return v == null || v.isBlank() ? null : v.trim();
  }
}
