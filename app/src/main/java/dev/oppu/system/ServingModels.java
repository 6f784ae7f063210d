package dev.oppu.system;

import dev.oppu.lamp.Task;
import dev.oppu.serving.ModelBatchGenerator;
import dev.oppu.serving.TaskModelDirectory;
import dev.oppu.trainer.TaskModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/**
 * Serving's copy of the task models (base + merged task adapter per served task, loaded as the trainer loads them, on
 * first use) and the mixed-adapter batch generator over them. One instance may serve several streams applications in
 * turn (a restart, a benchmark's runs); its owner closes it after them.
 */
public final class ServingModels implements AutoCloseable {
  private final TaskModelDirectory models;
  private final ModelBatchGenerator generator;

  private ServingModels(TaskModelDirectory models, ModelBatchGenerator generator) {
    this.models = models;
    this.generator = generator;
  }

  /** @param adapterStore where adapters too large to inline are read from (null: inline adapters only) */
  public static ServingModels load(OppuSystem.Models m, Set<Task> tasks, ModelBatchGenerator.Options generation,
      Path adapterStore) throws IOException {
    TaskModelDirectory dir = new TaskModelDirectory(m.model(), m.taskAdapters(), tasks, TaskModels.device(m.device()));
    return new ServingModels(dir, new ModelBatchGenerator(dir::get, dir.tokenizer(), generation, adapterStore));
  }

  public ModelBatchGenerator generator() {
    return generator;
  }

  /** A served task's model, loaded now if it was not (null: a task not served). */
  public ModelBatchGenerator.TaskModel load(Task task) {
    return models.get(task);
  }

  @Override
  public void close() {
    generator.close();
    models.close();
  }
}
