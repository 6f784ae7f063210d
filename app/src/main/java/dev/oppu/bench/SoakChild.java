package dev.oppu.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** The streams + trainer JVM ({@link SoakSystem}) of a soak; its stderr goes to a log file in the work folder. */
final class SoakChild {
  final Process process;
  final Path log;
  volatile String lastStatus = "";
  private final List<long[]> statuses = new ArrayList<>(); // {nanoTime, published}
  private final CountDownLatch ready = new CountDownLatch(1);
  private final CountDownLatch finished = new CountDownLatch(1);
  private volatile String finalLine = "";

  private SoakChild(Process process, Path log) {
    this.process = process;
    this.log = log;
  }

  static SoakChild start(SoakBench b, Path settings, Path modelDir, Path work) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String o : b.childJvmOpts.trim().split("\\s+")) {
      if (!o.isEmpty()) {
        cmd.add(o);
      }
    }
    for (String prop : List.of("ai.djl.offline", "ai.djl.pytorch.graph_optimizer", "java.io.tmpdir",
        "ai.djl.pytorch.num_threads", "ai.djl.pytorch.num_interop_threads")) {
      if (System.getProperty(prop) != null) {
        cmd.add("-D" + prop + "=" + System.getProperty(prop));
      }
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), SoakSystem.class.getName(),
        "--settings", settings.toString(), "--model", modelDir.toString(), "--device", b.device.device(),
        "--dtype", b.device.dtype(),
        "--work", work.resolve("system").toString(),
        "--status-interval-ms", "2000"));
    if (b.model.taskAdapters() != null) {
      cmd.addAll(List.of("--task-adapters", b.model.taskAdapters().toAbsolutePath().toString()));
    }
    if (b.epochs != null) {
      cmd.addAll(List.of("--epochs", b.epochs.toString()));
    }
    if (b.maxReplay != null) {
      cmd.addAll(List.of("--max-replay", b.maxReplay.toString()));
    }
    Path log = work.resolve("streams-trainer.log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
    pb.environment().putAll(b.childEnv);
    Process p = pb.start();
    SoakChild c = new SoakChild(p, log);
    Thread reader = new Thread(c::readStdout, "soak-child-stdout");
    reader.setDaemon(true);
    reader.start();
    long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
    while (!c.ready.await(1, TimeUnit.SECONDS)) {
      if (!p.isAlive() || System.nanoTime() > deadline) {
        p.destroyForcibly();
        throw new IllegalStateException("the streams + trainer process did not start; see " + log + ":\n"
            + tail(log));
      }
    }
    System.out.println("streams + trainer process " + p.pid() + " ready (log: " + log + ")");
    return c;
  }

  private void readStdout() {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
        StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        if (line.equals("soak-ready")) {
          ready.countDown();
        } else if (line.startsWith("soak-status ")) {
          lastStatus = line.substring("soak-status ".length());
          synchronized (statuses) {
            statuses.add(new long[] {System.nanoTime(), field(line, "published")});
          }
        } else if (line.startsWith("soak-final ")) {
          finalLine = line.substring("soak-final ".length());
          finished.countDown();
        }
      }
    } catch (IOException e) {
      // the process ended
    } finally {
      finished.countDown();
    }
  }

  private static long field(String line, String name) {
    for (String part : line.split(" ")) {
      if (part.startsWith(name + "=")) {
        return Long.parseLong(part.substring(name.length() + 1));
      }
    }
    return -1;
  }

  /** Adapters published before {@code mid} and from {@code mid} on. */
  long[] publishedByHalf(long mid) {
    long atMid = 0;
    long last = 0;
    synchronized (statuses) {
      for (long[] s : statuses) {
        if (s[0] < mid) {
          atMid = s[1];
        }
        last = s[1];
      }
    }
    return new long[] {atMid, last - atMid};
  }

  /** Asks the process to close its services; returns its final status line. */
  String stop() throws Exception {
    try (Writer w = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8)) {
      w.write("stop\n");
    } catch (IOException alreadyGone) {
      // reported below
    }
    finished.await(2, TimeUnit.MINUTES);
    if (!process.waitFor(1, TimeUnit.MINUTES)) {
      process.destroyForcibly();
    }
    return finalLine.isEmpty() ? "(no final status; see " + log + ")" : finalLine;
  }

  void destroy() {
    if (process.isAlive()) {
      process.destroyForcibly();
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(unreadable)";
    }
  }
}
