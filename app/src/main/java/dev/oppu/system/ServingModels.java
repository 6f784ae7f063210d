package dev.oppu.system;

import dev.oppu.lamp.Task;
import dev.oppu.model.TaskModels;
import dev.oppu.serving.ModelBatchGenerator;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Serving's copy of the task models (base + merged task adapter per served task, loaded as the trainer loads them, on
 * first use) and the mixed-adapter batch generator over them. One instance may serve several streams applications in
 * turn (a restart, a benchmark's runs); its owner closes it after them.
 */
public final class ServingModels implements AutoCloseable {
  private final TaskModels models;
  private final ModelBatchGenerator generator;

  private ServingModels(TaskModels models, ModelBatchGenerator generator) {
    this.models = models;
    this.generator = generator;
  }

  /** @param adapterStore where adapters too large to inline are read from (null: inline adapters only) */
  public static ServingModels load(OppuSystem.Models m, Set<Task> tasks, ModelBatchGenerator.Options generation,
      Path adapterStore) throws IOException {
    TaskModels dir = new TaskModels(m.model(), m.taskAdapters(),
        tasks.stream().map(Task::id).collect(Collectors.toUnmodifiableSet()), TaskModels.device(m.device()));
    return new ServingModels(dir, new ModelBatchGenerator(byTask(dir), dir.tokenizer(), generation, adapterStore));
  }

  /** The generator's view of the task models: a served task's model, loaded on first use (null: not served). */
  public static Function<Task, ModelBatchGenerator.TaskModel> byTask(TaskModels models) {
    return task -> served(models.get(task.id()));
  }

  /** A task model as the generator runs it (null for null). */
  public static ModelBatchGenerator.TaskModel served(TaskModels.TaskModel m) {
    return m == null ? null : new ModelBatchGenerator.TaskModel(m.model(), m.baseFingerprint(), m.taskFingerprint());
  }

  public ModelBatchGenerator generator() {
    return generator;
  }

  /** A served task's model, loaded now if it was not (null: a task not served). */
  public ModelBatchGenerator.TaskModel load(Task task) {
    return served(models.get(task.id()));
  }

  @Override
  public void close() {
    generator.close();
    models.close();
  }
}
