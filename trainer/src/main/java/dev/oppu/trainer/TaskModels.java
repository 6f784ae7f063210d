package dev.oppu.trainer;

import ai.djl.ndarray.NDManager;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.TextTokenizer;
import dev.oppu.model.lora.AdapterPayload;
import dev.oppu.trainer.examples.ModelTokenEncoder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;

/**
 * The model each task's user adapters train on: the base model with that task's adapter (OPPU step 1) merged in,
 * loaded lazily, one per task. Task adapters live at {@code taskAdapters/<LaMP id>/} in PEFT layout; a task without
 * one uses the bare base (fingerprint {@link AdapterPayload#NO_TASK_ADAPTER}).
 */
public final class TaskModels implements AutoCloseable {

  /** A task's training model and the fingerprints adapters trained on it record. */
  public record TaskModel(Task task, LlamaLoraLm lm, String baseFingerprint, String taskFingerprint) {}

  private final Path baseDir;
  private final Path taskAdapters;
  private final NDManager manager;
  private final TextTokenizer tokenizer;
  private final ModelTokenEncoder encoder;
  private final String baseFingerprint;
  private final Map<Task, TaskModel> models = new EnumMap<>(Task.class);

  public TaskModels(Path baseDir, Path taskAdapters) throws IOException {
    this(baseDir, taskAdapters, "auto");
  }

  /** @param device {@code auto} (a GPU when DJL has one), {@code cpu} or {@code gpu} */
  public TaskModels(Path baseDir, Path taskAdapters, String device) throws IOException {
    this.manager = NDManager.newBaseManager(device(device));
    this.baseDir = baseDir;
    this.taskAdapters = taskAdapters;
    try (NDManager scratch = manager.newSubManager()) {
      LlamaModel probe = LlamaModel.load(baseDir, scratch);
      this.baseFingerprint = probe.fingerprint();
      this.tokenizer = TextTokenizer.load(baseDir, probe.config());
    }
    this.encoder = new ModelTokenEncoder(tokenizer);
  }

  /** The DJL device for a configured name. */
  public static ai.djl.Device device(String name) {
    return switch (name == null ? "auto" : name.toLowerCase(java.util.Locale.ROOT)) {
      case "auto" -> ai.djl.engine.Engine.getInstance().defaultDevice();
      case "cpu" -> ai.djl.Device.cpu();
      case "gpu" -> {
        if (ai.djl.engine.Engine.getInstance().getGpuCount() == 0) {
          throw new IllegalArgumentException("device gpu requested but DJL sees no GPU (CPU-only PyTorch native)");
        }
        yield ai.djl.Device.gpu();
      }
      default -> throw new IllegalArgumentException("unknown device '" + name + "' (auto, cpu or gpu)");
    };
  }

  public ModelTokenEncoder encoder() {
    return encoder;
  }

  public String baseFingerprint() {
    return baseFingerprint;
  }

  /** The PEFT directory of a task's adapter (it may not exist). */
  public static Path taskAdapterDir(Path root, Task task) {
    return root.resolve(task.id());
  }

  public synchronized TaskModel forTask(Task task) {
    return models.computeIfAbsent(task, t -> {
      try {
        Path dir = taskAdapters == null ? null : taskAdapterDir(taskAdapters, t);
        boolean hasAdapter = dir != null && Files.isRegularFile(dir.resolve(LoraAdapter.WEIGHTS_FILE));
        LlamaModel model = LlamaModel.load(baseDir, manager);
        String taskFp = AdapterPayload.NO_TASK_ADAPTER;
        if (hasAdapter) {
          LoraAdapter adapter = LoraAdapter.loadPeft(dir, model.config(), manager); // stays open: merged
          model.merge(adapter);
          taskFp = AdapterPayload.taskFingerprint(adapter.weightsBytes());
        }
        return new TaskModel(t, new LlamaLoraLm(model), baseFingerprint, taskFp);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot load the model for " + t.id(), e);
      }
    });
  }

  @Override
  public void close() {
    tokenizer.close();
    manager.close();
  }
}
