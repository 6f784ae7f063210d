package dev.oppu.cli.bench;

import dev.oppu.lamp.Task;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.trainer.TaskModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/** The offline benches' models (base + task adapters, on the CPU) and serving's generator over them. */
public final class OfflineModels {

  @Option(names = "--base-model", defaultValue = "models/default", paramLabel = "DIR")
  Path base;

  @Option(names = "--task-adapters", paramLabel = "DIR", description = "default: BASE/task-adapters")
  Path taskAdapters;

  TaskModels open() throws IOException {
    return new TaskModels(base, taskAdapters != null ? taskAdapters : base.resolve("task-adapters"), "cpu");
  }

  /** Serving's generator over one task model, greedy, as the streams application answers. */
  static ModelBatchGenerator generator(TaskModels models, TaskModels.TaskModel tm, Task task) {
    return new ModelBatchGenerator(Map.of(task, new ModelBatchGenerator.TaskModel(tm.lm().model(),
        tm.baseFingerprint(), tm.taskFingerprint())), models.encoder().tokenizer(),
        ModelBatchGenerator.Options.greedy());
  }
}
