package dev.oppu.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One {@code oppu run streams} instance of a failover run ({@link FailoverBench}), an OS process of its own: the
 * real command with its own state directory and client id, so that killing it ({@code destroyForcibly}, SIGKILL) is
 * a machine dying, not a clean shutdown.
 */
final class FailoverInstance {
  /** What {@code run streams} prints each time the application reaches RUNNING. */
  static final String RUNNING = "oppu streams: running";
  /** How long an instance may take to load its model and join the group. */
  static final Duration START_TIMEOUT = Duration.ofMinutes(5);

  final String name;
  final Path log;
  private final List<String> command;
  private Process process;

  private FailoverInstance(String name, Path log, List<String> command) {
    this.name = name;
    this.log = log;
    this.command = command;
  }

  /**
   * {@code java JVM_OPTS -cp CP dev.oppu.cli.Main run streams ARGS -X client.id=NAME}: the streams consumer of this
   * instance is then {@code NAME-StreamThread-<n>-consumer} in the group, which is how the bench finds its partitions.
   */
  static FailoverInstance of(String name, Path work, List<String> jvmOptions, List<String> runStreamsArgs) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String prop : List.of("ai.djl.offline", "ai.djl.pytorch.graph_optimizer", "java.io.tmpdir",
        "ai.djl.pytorch.num_threads", "ai.djl.pytorch.num_interop_threads")) {
      if (System.getProperty(prop) != null) {
        cmd.add("-D" + prop + "=" + System.getProperty(prop));
      }
    }
    cmd.addAll(jvmOptions); // after the inherited properties: an explicit option wins
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.oppu.cli.Main", "run", "streams"));
    cmd.addAll(runStreamsArgs);
    cmd.addAll(List.of("-X", "client.id=" + name));
    return new FailoverInstance(name, work.resolve(name + ".log"), cmd);
  }

  void start() throws IOException {
    process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  /** Waits until the instance printed that it runs; throws with its log's tail when it died or took too long. */
  void awaitRunning() throws Exception {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (!output().contains(RUNNING)) {
      if (!process.isAlive() || System.nanoTime() > deadline) {
        throw new IllegalStateException("streams instance " + name + " did not start; " + log + ":\n" + tail());
      }
      Thread.sleep(200);
    }
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  long pid() {
    return process.pid();
  }

  /** SIGKILL; returns the exit code (137 for a hard kill). */
  int kill() throws InterruptedException {
    process.destroyForcibly();
    return process.waitFor();
  }

  /** SIGTERM to every running instance at once (each command's shutdown hook closes its application), SIGKILL
   * to one still running after a minute. */
  static void stopAll(List<FailoverInstance> instances) throws InterruptedException {
    for (FailoverInstance i : instances) {
      if (i.alive()) {
        i.process.destroy();
      }
    }
    for (FailoverInstance i : instances) {
      if (i.process != null && !i.process.waitFor(60, TimeUnit.SECONDS)) {
        i.process.destroyForcibly().waitFor();
      }
    }
  }

  String output() throws IOException {
    return Files.exists(log) ? Files.readString(log) : "";
  }

  String tail() {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(unreadable)";
    }
  }
}
