package dev.oppu.cli;

import dev.oppu.broker.TopicAdmin;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.trainer.TaskModels;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.service.TrainerService;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code oppu run trainer}: the per-user adapter trainer, one member of consumer group oppu-trainer. */
@Command(name = "trainer", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Consume train triggers, train each user's LoRA (warm start + replay), validate it, and publish the"
        + " adapter version, its train result and the trigger's offset in one Kafka transaction.",
        "Scale out by starting more instances (distinct --instance) in the same group."})
public final class RunTrainer implements Callable<Integer> {

  @Mixin
  KafkaOptions kafka;

  @Option(names = "--base-model", defaultValue = "models/default", description = "base checkpoint (default ${DEFAULT-VALUE})")
  Path base;

  @Option(names = "--task-adapters", description = "task adapter root (default: BASE/task-adapters)")
  Path taskAdapters;

  @Option(names = "--adapter-store", defaultValue = "adapter-store",
      description = "shared directory for adapters too large to inline (default ${DEFAULT-VALUE})")
  Path store;

  @Option(names = "--inline-limit", defaultValue = "" + AdapterPayload.DEFAULT_INLINE_LIMIT,
      description = "largest adapter (bytes) sent inline in its record (default ${DEFAULT-VALUE})")
  int inlineLimit;

  @Option(names = "--instance", defaultValue = "0", description = "instance id: transactional id oppu-trainer-ID")
  String instance;

  @Option(names = "--device", defaultValue = "auto", description = "auto, cpu or gpu (default ${DEFAULT-VALUE})")
  String device;

  @Mixin
  AdapterTrainingOptions training;

  @Option(names = "--max-replay", description = "older items replayed per update (default 50)")
  Integer maxReplay;

  @Option(names = "--k", description = "retrieved items in rag examples (default 1)")
  Integer k;

  @Option(names = "--create-topics", description = "create missing topics first")
  boolean createTopics;

  @Override
  public Integer call() throws Exception {
    UserAdapterUpdater.Settings d = TrainerDefaults.user();
    UserAdapterUpdater.Settings s = d.withTraining(training.lora(d.lora()), training.training(d.training()))
        .withK(k != null ? k : d.k())
        .withMaxReplay(maxReplay != null ? maxReplay : d.maxReplay());
    if (createTopics) {
      TopicAdmin.ensureTopics(kafka.clientConfig().admin(), kafka.topics(), TopicAdmin.DEFAULT_PARTITIONS);
    }
    try (TaskModels models = new TaskModels(base, taskAdapters != null ? taskAdapters : base.resolve("task-adapters"),
        device)) {
      TrainerService service = new TrainerService(kafka.clientConfig(), kafka.topics(), models, s,
          new TrainerService.Settings(TrainerService.GROUP_ID, "oppu-trainer-" + instance, inlineLimit, store, null));
      Thread main = Thread.currentThread();
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          service.close();
          main.join(15_000);
        } catch (InterruptedException ignored) {
          Thread.currentThread().interrupt();
        }
      }));
      System.out.printf(Locale.ROOT, "trainer %s: base %s (%s), group %s%n", instance, base,
          models.baseFingerprint().substring(0, 12), TrainerService.GROUP_ID);
      service.run();
      List<Long> lags = service.stats().lagsMillis();
      System.out.printf(Locale.ROOT, "{\"published\": %d, \"rejected\": %d, \"skipped\": %d, \"failed\": %d,"
          + " \"covered_items\": %d}%n", service.stats().published.get(), service.stats().rejected.get(),
          service.stats().skipped.get(), service.stats().failed.get(), lags.size());
    }
    return 0;
  }
}
