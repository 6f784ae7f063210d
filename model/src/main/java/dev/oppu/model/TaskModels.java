package dev.oppu.model;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import dev.oppu.model.lora.AdapterPayload;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The task models the trainer trains user adapters on and serving serves: a base checkpoint directory (config.json,
 * safetensors, tokenizer.json) and task adapters (OPPU step 1) at {@code <taskAdapters>/<task id>/} in PEFT layout,
 * each merged into its own copy of the base, loaded on first use. Tasks are keyed by their LaMP id (e.g.
 * {@code LaMP_2M}); this module does not know the task enum.
 *
 * <p>Fingerprints, recorded by every adapter the trainer publishes and checked by serving: the base model's
 * {@link LlamaModel#fingerprint()}, the SHA-256 of the task adapter's safetensors
 * ({@link AdapterPayload#taskFingerprint}), or {@link AdapterPayload#NO_TASK_ADAPTER} for a task run by the bare base.
 *
 * <p>The tokenizer is owned here and closed with the models.
 */
public final class TaskModels implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TaskModels.class);

  /** A task's model (base with the task adapter merged in) and the fingerprints adapters trained on it record. */
  public record TaskModel(String task, LlamaModel model, String baseFingerprint, String taskFingerprint) {}

  private final Path baseDir;
  private final Path taskAdapters;
  private final Set<String> tasks;
  private final NDManager manager;
  private final TextTokenizer tokenizer;
  private final String baseFingerprint;
  private final Map<String, TaskModel> loaded = new HashMap<>();

  /**
   * @param taskAdapters may be null (every task run by the bare base)
   * @param tasks        the task ids served; null: every task; {@link #get} returns null for the others
   * @param device       null: the engine's default device (see {@link #device(String)})
   */
  public TaskModels(Path baseDir, Path taskAdapters, Set<String> tasks, Device device) throws IOException {
    this.manager = device == null ? NDManager.newBaseManager() : NDManager.newBaseManager(device);
    this.baseDir = baseDir;
    this.taskAdapters = taskAdapters;
    this.tasks = tasks == null ? null : Set.copyOf(tasks);
    try (NDManager scratch = manager.newSubManager(); LlamaModel probe = LlamaModel.load(baseDir, scratch)) {
      this.baseFingerprint = probe.fingerprint();
      this.tokenizer = TextTokenizer.load(baseDir, probe.config());
    } catch (IOException | RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /** Every task, on {@code device} (null: the engine's default device). */
  public TaskModels(Path baseDir, Path taskAdapters, Device device) throws IOException {
    this(baseDir, taskAdapters, null, device);
  }

  /** The DJL device for a configured name: {@code auto} or null (a GPU when DJL has one), {@code cpu} or {@code gpu}. */
  public static Device device(String name) {
    return switch (name == null ? "auto" : name.toLowerCase(Locale.ROOT)) {
      case "auto" -> Engine.getInstance().defaultDevice();
      case "cpu" -> Device.cpu();
      case "gpu" -> {
        if (Engine.getInstance().getGpuCount() == 0) {
          throw new IllegalArgumentException("device gpu requested but DJL sees no GPU (CPU-only PyTorch native)");
        }
        yield Device.gpu();
      }
      default -> throw new IllegalArgumentException("unknown device '" + name + "' (auto, cpu or gpu)");
    };
  }

  /** The PEFT directory of a task's adapter under a task-adapters root (it may not exist). */
  public static Path taskAdapterDir(Path root, String task) {
    return root.resolve(task);
  }

  /** The base checkpoint's tokenizer, owned by this object. */
  public TextTokenizer tokenizer() {
    return tokenizer;
  }

  public String baseFingerprint() {
    return baseFingerprint;
  }

  /** Whether {@link #get} gives a model for this task id. */
  public boolean serves(String task) {
    return tasks == null || tasks.contains(task);
  }

  /**
   * The task model, loaded on first use; null for a task not served. A task without a task adapter (no
   * {@code adapter_model.safetensors} in its directory) runs the bare base.
   *
   * @throws UncheckedIOException when the base or the task adapter cannot be read
   */
  public synchronized TaskModel get(String task) {
    if (!serves(task)) {
      return null;
    }
    return loaded.computeIfAbsent(task, t -> {
      try {
        LlamaModel model = LlamaModel.load(baseDir, manager);
        Path dir = taskAdapters == null ? null : taskAdapterDir(taskAdapters, t);
        String taskFp = AdapterPayload.NO_TASK_ADAPTER;
        if (dir != null && Files.isRegularFile(dir.resolve(LoraAdapter.WEIGHTS_FILE))) {
          LoraAdapter adapter = LoraAdapter.loadPeft(dir, model.config(), model.manager()); // stays: merged
          model.merge(adapter);
          taskFp = AdapterPayload.taskFingerprint(adapter.weightsBytes());
        }
        LOG.info("task model for {} loaded (base {}, task adapter {})", t, abbrev(baseFingerprint), abbrev(taskFp));
        return new TaskModel(t, model, baseFingerprint, taskFp);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot load the task model of " + t, e);
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
