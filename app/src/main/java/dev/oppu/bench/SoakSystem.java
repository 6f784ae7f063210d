package dev.oppu.bench;

import dev.oppu.broker.ClientConfig;
import dev.oppu.evaluation.demo.DemoSystem;
import dev.oppu.evaluation.demo.InProcessSystem;
import dev.oppu.lamp.Task;
import dev.oppu.schemas.Topics;
import dev.oppu.trainer.AdapterTraining;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.service.TrainerService;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The process {@code bench soak} measures: the streams application (ingestion + serving) and the trainer, started by
 * {@link InProcessSystem} exactly as the demo runs them, in a JVM of their own so that its RSS is theirs alone (the
 * broker, the producer and the checker live in the parent). Protocol on stdout: {@code soak-ready}, then a
 * {@code soak-status} line every interval, then {@code soak-final} after the parent writes {@code stop} (or closes
 * stdin).
 */
@Command(name = "soak-system", mixinStandardHelpOptions = true,
    description = "Internal: the streams + trainer process of 'oppu bench soak'.")
public final class SoakSystem implements Callable<Integer> {

  @Option(names = "--settings", required = true, description = "Properties: bootstrap.servers, oppu.* settings.")
  Path settingsFile;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.ModelOptions model = new dev.oppu.cli.ModelOptions();

  @picocli.CommandLine.Mixin
  dev.oppu.cli.DeviceOptions device = new dev.oppu.cli.DeviceOptions();

  @Option(names = "--work", required = true)
  Path work;

  @Option(names = "--status-interval-ms", defaultValue = "2000")
  long statusIntervalMs;

  @Option(names = "--epochs", description = "Per-user training epochs (default: the trainer's).")
  Integer epochs;

  @Option(names = "--max-replay", description = "Older items replayed per update (default: the trainer's).")
  Integer maxReplay;

  public static void main(String[] args) {
    System.exit(new CommandLine(new SoakSystem()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    device.check();
    Properties all = ClientConfig.load(settingsFile);
    ClientConfig client = ClientConfig.of(all);
    Topics topics = Topics.from(all);
    Properties settings = new Properties();
    for (String k : all.stringPropertyNames()) {
      if (k.startsWith("oppu.") || k.equals("num.stream.threads")) {
        settings.setProperty(k, all.getProperty(k));
      }
    }
    UserAdapterUpdater.Settings d = TrainerDefaults.user();
    UserAdapterUpdater.Settings training = d.withTraining(d.lora(),
            epochs != null ? new AdapterTraining.Config(epochs, d.training().batchSize(), d.training().optimizer())
                : d.training())
        .withMaxReplay(maxReplay != null ? maxReplay : d.maxReplay());
    InProcessSystem.Models models = new InProcessSystem.Models(model.model(), model.taskAdapters(),
        "soak: " + model.model(), device.device());
    DemoSystem system = InProcessSystem.launcher(models, training).start(client, topics, settings,
        Map.of(Task.MOVIE_TAGGING, List.of()), work, null);
    TrainerService.Stats stats = ((InProcessSystem) system).trainerStats();
    System.out.println("soak-ready");
    System.out.flush();

    Thread status = new Thread(() -> {
      try {
        while (!Thread.currentThread().isInterrupted()) {
          System.out.println(statusLine("soak-status", stats));
          System.out.flush();
          Thread.sleep(statusIntervalMs);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "soak-status");
    status.setDaemon(true);
    status.start();

    // Runs until the parent says stop or goes away (stdin closes): the services must not outlive the bench.
    try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null && !line.strip().equals("stop")) {
        // ignore anything else
      }
    }
    status.interrupt();
    String fin = statusLine("soak-final", stats);
    system.close();
    System.out.println(fin);
    System.out.flush();
    return 0;
  }

  /**
   * Trainer counters, and the heap used after the last young collection (a progress figure only: it includes old-gen
   * garbage until a mixed collection, so it is not the live set).
   */
  private static String statusLine(String tag, TrainerService.Stats s) {
    return String.format(Locale.ROOT, "%s published=%d rejected=%d skipped=%d failed=%d heap_after_young_gc_mb=%d", tag,
        s.published.get(), s.rejected.get(), s.skipped.get(), s.failed.get(), heapAfterLastGc() >> 20);
  }

  private static long heapAfterLastGc() {
    long used = -1;
    for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      if (gc instanceof com.sun.management.GarbageCollectorMXBean g && g.getLastGcInfo() != null
          && g.getName().contains("Young")) {
        used = 0;
        for (MemoryUsage u : g.getLastGcInfo().getMemoryUsageAfterGc().values()) {
          used += u.getUsed();
        }
      }
    }
    return used;
  }
}
