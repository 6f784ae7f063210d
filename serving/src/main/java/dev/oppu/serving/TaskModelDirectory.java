package dev.oppu.serving;

import ai.djl.ndarray.NDManager;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.TextTokenizer;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.serving.ModelBatchGenerator.TaskModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The task models serving runs, laid out as the trainer lays them out: a base checkpoint directory (config.json,
 * safetensors, tokenizer.json) and task adapters at {@code <taskAdapters>/<LaMP id>/} in PEFT layout, merged into a
 * copy of the base per task, loaded on first use. Fingerprints as the trainer records them: the base model's
 * {@link LlamaModel#fingerprint()}, the SHA-256 of the task adapter's safetensors, or {@code none} for a task served
 * by the bare base.
 */
public final class TaskModelDirectory implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskModelDirectory.class);
  /** Task fingerprint of a task without a task adapter. */
  public static final String NO_TASK_ADAPTER = AdapterPayload.NO_TASK_ADAPTER;

  private final Path baseDir;
  private final Path taskAdapters;
  private final Set<Task> tasks;
  private final NDManager manager;
  private final TextTokenizer tokenizer;
  private final String baseFingerprint;
  private final Map<Task, TaskModel> loaded = new EnumMap<>(Task.class);

  /**
   * @param taskAdapters may be null (every task served by the bare base)
   * @param tasks        the tasks served; requests of other tasks get an error response
   */
  public TaskModelDirectory(Path baseDir, Path taskAdapters, Set<Task> tasks) throws IOException {
    this(baseDir, taskAdapters, tasks, null);
  }

  /** As above, the models on {@code device} (null: the engine's default device). */
  public TaskModelDirectory(Path baseDir, Path taskAdapters, Set<Task> tasks, ai.djl.Device device)
      throws IOException {
    this.manager = device == null ? NDManager.newBaseManager() : NDManager.newBaseManager(device);
    this.baseDir = baseDir;
    this.taskAdapters = taskAdapters;
    this.tasks = tasks.isEmpty() ? EnumSet.noneOf(Task.class) : EnumSet.copyOf(tasks);
    try (NDManager scratch = manager.newSubManager(); LlamaModel probe = LlamaModel.load(baseDir, scratch)) {
      this.baseFingerprint = probe.fingerprint();
      this.tokenizer = TextTokenizer.load(baseDir, probe.config());
    }
  }

  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  public String baseFingerprint() {
    return baseFingerprint;
  }

  /** The task model, loaded on first use; null for a task this server does not serve. */
  public synchronized TaskModel get(Task task) {
    if (!tasks.contains(task)) {
      return null;
    }
    return loaded.computeIfAbsent(task, t -> {
      try {
        LlamaModel model = LlamaModel.load(baseDir, manager);
        Path dir = taskAdapters == null ? null : taskAdapters.resolve(t.id());
        String taskFp = NO_TASK_ADAPTER;
        if (dir != null && Files.isRegularFile(dir.resolve(LoraAdapter.WEIGHTS_FILE))) {
          LoraAdapter adapter = LoraAdapter.loadPeft(dir, model.config(), model.manager()); // stays: merged
          model.merge(adapter);
          taskFp = AdapterPayload.taskFingerprint(adapter.weightsBytes());
        }
        LOG.info("task model for {} loaded (base {}, task adapter {})", t.id(), abbrev(baseFingerprint),
            abbrev(taskFp));
        return new TaskModel(model, baseFingerprint, taskFp);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot load the task model of " + t.id(), e);
      }
    });
  }

  private static String abbrev(String fp) {
    return fp.length() > 12 ? fp.substring(0, 12) : fp;
  }

  @Override
  public synchronized void close() {
    loaded.clear();
    tokenizer.close();
    manager.close();
  }
}
