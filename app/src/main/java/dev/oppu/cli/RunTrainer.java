package dev.oppu.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.oppu.broker.TopicAdmin;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.system.OppuSystem;
import dev.oppu.system.TrainerPart;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.service.TrainerService;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code oppu run trainer}: the per-user adapter trainer, one member of consumer group oppu-trainer. */
@Command(name = "trainer", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Consume train triggers, train each user's LoRA (warm start + replay), validate it, and publish the"
        + " adapter version, its train result and the trigger's offset in one Kafka transaction.",
        "Scale out by starting more instances (distinct --instance) in the same group."})
public final class RunTrainer implements Callable<Integer> {

  @Mixin
  KafkaOptions kafka = new KafkaOptions();

  @Mixin
  ModelOptions model = new ModelOptions();

  @Mixin
  DeviceOptions device = new DeviceOptions();

  @Mixin
  AdapterStoreOptions adapterStore = new AdapterStoreOptions();

  @Option(names = "--inline-limit", defaultValue = "" + AdapterPayload.DEFAULT_INLINE_LIMIT,
      description = "largest adapter (bytes) sent inline in its record (default ${DEFAULT-VALUE})")
  int inlineLimit;

  @Option(names = "--instance", defaultValue = "0", description = "instance id: transactional id oppu-trainer-ID")
  String instance;

  @Mixin
  AdapterTrainingOptions training = new AdapterTrainingOptions();

  @Option(names = "--max-replay", description = "older items replayed per update (default 50)")
  Integer maxReplay;

  @Option(names = "--k", description = "retrieved items in rag examples (default 1)")
  Integer k;

  @Option(names = "--create-topics", description = "create missing topics first")
  boolean createTopics;

  @Spec
  CommandSpec spec;

  private final CountDownLatch started = new CountDownLatch(1);
  private volatile TrainerPart running;

  /** Stops a running {@link #call()} as Ctrl-C would (for callers that run the command in-process). */
  void stop() throws InterruptedException {
    started.await();
    if (running != null) {
      running.stop();
    }
  }

  @Override
  public Integer call() throws Exception {
    try {
      return runTrainer();
    } finally {
      started.countDown();
    }
  }

  private int runTrainer() throws Exception {
    device.check(); // refuse a device or dtype that cannot run before anything starts
    PrintWriter out = spec.commandLine().getOut();
    UserAdapterUpdater.Settings d = TrainerDefaults.user();
    UserAdapterUpdater.Settings s = d.withTraining(training.lora(d.lora()), training.training(d.training()))
        .withK(k != null ? k : d.k())
        .withMaxReplay(maxReplay != null ? maxReplay : d.maxReplay());
    OppuSystem system = OppuSystem.builder(kafka.clientConfig())
        .models(model.with(device))
        .adapterStore(adapterStore.given())
        .userTraining(s)
        .trainerInstance(instance)
        .inlineLimit(inlineLimit)
        .ensureTopics(createTopics ? TopicAdmin.DEFAULT_PARTITIONS : 0)
        .build();
    try (TrainerPart trainer = system.trainer()) {
      running = trainer;
      started.countDown();
      Thread main = Thread.currentThread();
      Thread hook = new Thread(() -> {
        try {
          trainer.stop();
          main.join(15_000);
        } catch (InterruptedException ignored) {
          Thread.currentThread().interrupt();
        }
      }, "oppu-trainer-shutdown");
      Runtime.getRuntime().addShutdownHook(hook);
      out.printf(Locale.ROOT, "trainer %s: base %s (%s), task adapters %s, adapter store %s, group %s%n",
          instance, system.models().model(), trainer.models().baseFingerprint().substring(0, 12),
          system.models().taskAdapters() == null ? "none" : system.models().taskAdapters(),
          system.serving().adapterStore(), TrainerService.GROUP_ID);
      out.flush();
      trainer.run();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is what stopped us
      }
      TrainerService.Stats st = trainer.stats();
      Map<String, Object> summary = new LinkedHashMap<>();
      summary.put("published", st.published.get());
      summary.put("rejected", st.rejected.get());
      summary.put("skipped", st.skipped.get());
      summary.put("failed", st.failed.get());
      summary.put("covered_items", st.lagsMillis().size());
      out.println(new ObjectMapper().writeValueAsString(summary));
      out.flush();
    }
    return 0;
  }
}
