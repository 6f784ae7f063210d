package dev.oppu.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.oppu.lamp.Task;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docker-compose.yml for real: the broker, two streams replicas and the trainer come up in containers (with
 * docker-compose.test.yml, which swaps the official broker image, not pullable where the tests run, for the
 * project's own image running {@code oppu broker}); a user's behaviors are published from this JVM to the broker's
 * port on 127.0.0.1; the trainer trains the user's adapter; {@code ask} gets an answer from it (mode OPPU+RAG, the
 * adapter's version named); {@code down -v} removes everything.
 *
 * <p>Needs a Docker engine, docker-compose (1.29) or {@code docker compose} (v2), and the image {@code oppu:latest}
 * (the repository's Dockerfile; .ci/docker-images builds it in CI). Without them it is skipped, except under
 * {@code CI=true}, where it fails: a green CI means it ran.
 */
@Tag("docker")
class ComposeSystemTest {
  static final Path ROOT = Path.of("").toAbsolutePath().getParent(); // surefire runs in the module dir
  static final String IMAGE = "oppu:latest";

  @TempDir
  Path dir;

  record Result(int code, String out) {}

  static Result exec(Map<String, String> env, Duration timeout, List<String> command) {
    try {
      ProcessBuilder pb = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true);
      pb.environment().putAll(env);
      Process p = pb.start();
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      Thread reader = new Thread(() -> {
        try (InputStream in = p.getInputStream()) {
          in.transferTo(buf);
        } catch (IOException ignored) {
          // the process is gone
        }
      });
      reader.start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        reader.join(5000);
        return new Result(-1, "timed out after " + timeout + ": " + command + "\n" + buf);
      }
      reader.join(5000);
      return new Result(p.exitValue(), buf.toString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      return new Result(-2, command + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static Result exec(Duration timeout, String... command) {
    return exec(Map.of(), timeout, List.of(command));
  }

  /** docker-compose (1.29) when installed, else Compose v2's {@code docker compose}; null when neither answers. */
  static List<String> composeCommand() {
    if (exec(Duration.ofSeconds(30), "docker-compose", "version").code() == 0) {
      return List.of("docker-compose");
    }
    if (exec(Duration.ofSeconds(30), "docker", "compose", "version").code() == 0) {
      return List.of("docker", "compose");
    }
    return null;
  }

  /** Why this cannot run here, or null. */
  static String missing(List<String> compose) {
    Result info = exec(Duration.ofSeconds(30), "docker", "info");
    if (info.code() != 0) {
      return "no Docker engine answers (docker info: " + info.out().strip() + ")";
    }
    if (compose == null) {
      return "neither docker-compose nor docker compose is installed";
    }
    if (exec(Duration.ofSeconds(30), "docker", "image", "inspect", IMAGE).code() != 0) {
      return "the image " + IMAGE + " is not present (docker build -t " + IMAGE + " . ; .ci/docker-images)";
    }
    return null;
  }

  @Test
  void composeUpPublishTrainAskDown() throws Exception {
    List<String> compose = composeCommand();
    String why = missing(compose);
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      if (why != null) {
        fail("CI=true: the compose test must run, but " + why);
      }
    } else {
      assumeTrue(why == null, "docker-compose cannot run here: " + why);
    }

    int port = dev.oppu.broker.EmbeddedKafkaBroker.freePort();
    // The broker's listeners as in docker-compose.yml: kafka:29092 for the services, localhost:<port> (published on
    // 127.0.0.1 only) for this JVM.
    Path brokerConfig = dir.resolve("broker.properties");
    Files.writeString(brokerConfig, String.join("\n",
        "listeners=PLAINTEXT://0.0.0.0:29092,EXTERNAL://0.0.0.0:9092,CONTROLLER://kafka:9093",
        "advertised.listeners=PLAINTEXT://kafka:29092,EXTERNAL://localhost:" + port,
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT", ""));
    Map<String, String> env = Map.of("OPPU_KAFKA_PORT", Integer.toString(port),
        "OPPU_TEST_BROKER_CONFIG", brokerConfig.toString(), "OPPU_KAFKA_BIND", "127.0.0.1");
    String project = "oppu-compose-test-" + UUID.randomUUID().toString().substring(0, 8);
    List<String> base = new ArrayList<>(compose);
    base.addAll(List.of("-p", project, "-f", ROOT.resolve("docker-compose.yml").toString(),
        "-f", ROOT.resolve("docker-compose.test.yml").toString()));
    String bootstrap = "localhost:" + port;
    String[] cluster = {"--bootstrap", bootstrap};

    long t0 = System.nanoTime();
    try {
      Result up = exec(env, Duration.ofMinutes(6), concat(base, "up", "-d", "--no-build"));
      assertEquals(0, up.code(), "compose up: " + up.out());
      phase("compose up", t0);

      // Both streams replicas and the trainer running.
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
      List<String> waiting = new ArrayList<>(List.of("streams-1", "streams-2", "trainer"));
      while (!waiting.isEmpty() && System.nanoTime() < deadline) {
        Result logs = exec(env, Duration.ofMinutes(1), concat(base, "logs", "--no-color", waiting.get(0)));
        String needed = waiting.get(0).startsWith("streams") ? "oppu streams: running" : "group oppu-trainer";
        if (logs.out().contains(needed)) {
          waiting.remove(0);
        } else {
          Thread.sleep(2000);
        }
      }
      assertTrue(waiting.isEmpty(), "not running: " + waiting + logs(env, base));
      phase("streams-1, streams-2 and trainer running", t0);

      Path behaviors = SystemHarness.movieBehaviors(dir.resolve("behaviors.jsonl"), "ann", 14);
      SystemHarness.Run published =
          SystemHarness.run(new PublishCommand(), SystemHarness.concat(cluster, "--file", behaviors.toString()));
      assertEquals(0, published.code(), published.err());
      assertTrue(published.out().contains("published 14 behaviors"), published.out());
      phase("behaviors published", t0);

      String input = Task.MOVIE_TAGGING.lampInput("a film about friends and their comedy story", List.of());
      SystemHarness.Run answer = null;
      AskCommand ask = null;
      deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(6);
      while (System.nanoTime() < deadline) {
        ask = new AskCommand();
        answer = SystemHarness.run(ask, SystemHarness.concat(cluster, "--user", "ann", "--task", "LaMP_2M",
            "--mode", "OPPU+RAG", "--input", input, "--timeout-ms", "60000"));
        if (answer.code() == 0 && ask.response() != null && ask.response().getAdapterVersion() != null) {
          break;
        }
        Thread.sleep(3000);
      }
      assertNotNull(answer);
      phase("asked until answered by an adapter", t0);
      assertEquals(0, answer.code(), answer.err() + logs(env, base));
      assertNotNull(ask.response().getAdapterVersion(), "still answered cold: " + answer.out() + logs(env, base));
      String printed = answer.out();
      assertTrue(printed.contains("adapter: v" + ask.response().getAdapterVersion() + " | mode: OPPU+RAG | "),
          printed);
      assertFalse(printed.contains("cold start"), printed);
      Result trainer = exec(env, Duration.ofMinutes(1), concat(base, "logs", "--no-color", "trainer"));
      assertTrue(trainer.out().contains("ann|LaMP_2M|rag v" + ask.response().getAdapterVersion() + ": published"),
          trainer.out());
    } finally {
      Result down = exec(env, Duration.ofMinutes(3), concat(base, "down", "-v", "-t", "5"));
      assertEquals(0, down.code(), "compose down: " + down.out());
      phase("compose down", t0);
    }
  }

  private static void phase(String what, long t0) {
    System.out.printf("ComposeSystemTest: %s at %.0f s%n", what, (System.nanoTime() - t0) / 1e9);
  }

  private static String logs(Map<String, String> env, List<String> base) {
    return "\n--- compose logs ---\n" + exec(env, Duration.ofMinutes(1), concat(base, "logs", "--no-color",
        "--tail", "40")).out();
  }

  private static List<String> concat(List<String> base, String... more) {
    List<String> all = new ArrayList<>(base);
    all.addAll(List.of(more));
    return all;
  }
}
