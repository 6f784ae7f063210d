package dev.oppu.cli;

import dev.oppu.system.OppuSystem;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The model a command runs ({@code @Mixin ModelOptions model}): a base checkpoint and the task adapters merged into it
 * per task. One default for every command: {@value OppuSystem#DEFAULT_MODEL}, with its {@code task-adapters/} folder
 * when it has one, the folder {@code oppu adapt-task} writes and the trainer and serving both read.
 */
public final class ModelOptions {

  @Option(names = {"--model", "--base-model"}, paramLabel = "DIR", defaultValue = OppuSystem.DEFAULT_MODEL,
      description = "Base model checkpoint directory, any Llama-family Hugging Face checkpoint (config.json, "
          + "model.safetensors, tokenizer.json); --base-model is the same option (default: ${DEFAULT-VALUE}).")
  Path model;

  @Option(names = "--task-adapters", paramLabel = "DIR",
      description = "Task adapters in PEFT layout at DIR/<LaMP id>/, merged into the base per task; a task without "
          + "one uses the bare base (default: MODEL/" + OppuSystem.TASK_ADAPTERS + " when it exists).")
  Path taskAdapters;

  public Path model() {
    return model;
  }

  /** The task adapters folder: the one given, else the model's own when it exists, else null (the bare base). */
  public Path taskAdapters() {
    return OppuSystem.taskAdapters(model, taskAdapters);
  }

  /** The models with {@code device}, as the assembly takes them. */
  public OppuSystem.Models with(DeviceOptions device) {
    return new OppuSystem.Models(model, taskAdapters(), device.device());
  }
}
