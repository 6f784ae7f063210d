package dev.oppu.bench;

import dev.oppu.lamp.Task;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.model.TaskModels;
import dev.oppu.system.ServingModels;
import dev.oppu.trainer.LlamaLoraLm;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.examples.ModelTokenEncoder;
import java.io.IOException;
import java.util.Map;
import dev.oppu.cli.DeviceOptions;
import dev.oppu.cli.ModelOptions;
import picocli.CommandLine.Mixin;

/** The offline benches' models (base + task adapters, on the CPU) and serving's generator over them. */
public final class OfflineModels {

  @Mixin
  ModelOptions model = new ModelOptions();

  @Mixin
  DeviceOptions device = new DeviceOptions();

  TaskModels open() throws IOException {
    return new TaskModels(model.model(), model.taskAdapters(), device.djlDevice());
  }

  /** The trainer's per-user updater over one task model (the recipe {@code settings}). */
  static UserAdapterUpdater updater(TaskModels models, TaskModels.TaskModel tm,
      UserAdapterUpdater.Settings settings) {
    return new UserAdapterUpdater(new LlamaLoraLm(tm.model()),
        new ModelTokenEncoder(models.tokenizer()), settings);
  }

  /** Serving's generator over one task model, greedy, as the streams application answers. */
  static ModelBatchGenerator generator(TaskModels models, TaskModels.TaskModel tm, Task task) {
    return new ModelBatchGenerator(Map.of(task, ServingModels.served(tm)), models.tokenizer(),
        ModelBatchGenerator.Options.greedy());
  }
}
