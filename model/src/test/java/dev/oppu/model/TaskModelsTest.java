package dev.oppu.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.oppu.model.lora.AdapterPayload;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Task models as the trainer trains on them and serving serves them: base + task adapter merged per task. */
class TaskModelsTest {
  private static final Path FIX = Path.of(System.getProperty("oppu.fixtures", "../fixtures"),
      "hf-llama-mha");
  private static final Path DEFAULT_MODEL = Path.of("../models/default");

  @Test
  void mergesTheTaskAdapterAndRecordsTheFingerprintsTheTrainerRecords(@TempDir Path dir) throws Exception {
    Path base = dir.resolve("base");
    Path tasks = dir.resolve("tasks");
    String baseFp;
    byte[] taskWeights;
    try (NDManager m = NDManager.newBaseManager();
        LlamaModel model = LlamaModel.random(LlamaConfig.of(512, 64, 172, 2, 4, 2, 128, 10000.0, false), 3, m)) {
      model.save(base);
      Files.copy(FIX.resolve("tokenizer.json"), base.resolve("tokenizer.json"));
      baseFp = model.fingerprint();
      LoraConfig taskLora = new LoraConfig(8, 8, 0.05, List.of("q_proj", "k_proj", "v_proj"), false);
      try (LoraAdapter a = LoraAdapter.create(model.config(), taskLora, 1, m)) {
        for (String p : a.modulePaths()) {
          NDArray b = a.b(p);
          b.addi(m.randomNormal(0, 1f, b.getShape(), DataType.FLOAT32));
        }
        a.savePeft(TaskModels.taskAdapterDir(tasks, "LaMP_2M"));
        taskWeights = a.weightsBytes();
      }
    }
    try (TaskModels d = new TaskModels(base, tasks, Set.of("LaMP_2M", "LaMP_4"), null)) {
      TaskModels.TaskModel movie = d.get("LaMP_2M");
      TaskModels.TaskModel headline = d.get("LaMP_4");
      assertEquals("LaMP_2M", movie.task());
      assertEquals(baseFp, d.baseFingerprint());
      assertEquals(baseFp, movie.baseFingerprint());
      assertEquals(baseFp, headline.baseFingerprint());
      assertEquals(AdapterPayload.taskFingerprint(taskWeights), movie.taskFingerprint());
      assertEquals(AdapterPayload.NO_TASK_ADAPTER, headline.taskFingerprint());
      assertNotEquals(movie.model().fingerprint(), headline.model().fingerprint(), "task LoRA merged into LaMP_2M");
      assertEquals(baseFp, headline.model().fingerprint(), "LaMP_4 runs the bare base");
      assertNull(d.get("LaMP_5"), "a task not served");
      assertEquals(movie, d.get("LaMP_2M"), "loaded once");
      assertNotNull(d.tokenizer());
    }
    try (TaskModels all = new TaskModels(base, null, Device.cpu())) {
      assertEquals(AdapterPayload.NO_TASK_ADAPTER, all.get("LaMP_2M").taskFingerprint(), "no task-adapters root");
      assertNotNull(all.get("LaMP_5"), "no task set: every task served");
    }
  }

  /**
   * The fingerprints of the committed default model must not change: its task adapters and every adapter recorded
   * against it carry them. Expected values were printed by the two loaders this class replaced (trainer's
   * {@code dev.oppu.trainer.TaskModels} and serving's {@code dev.oppu.serving.TaskModelDirectory}, which agreed) on
   * models/default at commit ed7fff1, on cpu; the task fingerprints equal {@code sha256sum} of
   * {@code task-adapters/<task>/adapter_model.safetensors}, recorded with {@code sha256sum} when the seven task adapters
   * were committed (2026-12-06; LaMP_2M's remade with the rank-64 recipe the same day). Remaking a task adapter changes its value here, and strands the user adapters made on
   * the old one (they are retrained from scratch).
   */
  @Test
  void theDefaultModelsFingerprintsAreTheOnesRecordedBefore() throws Exception {
    try (TaskModels d = new TaskModels(DEFAULT_MODEL, DEFAULT_MODEL.resolve("task-adapters"),
        Set.of("LaMP_2M", "LaMP_7", "LaMP_4"), Device.cpu())) {
      String base = "74bca9048c3c3094b2b1f4fd56901aa3eacd91eb9b2bf30870b132c7c044bcab";
      assertEquals(base, d.baseFingerprint());
      assertEquals(base, d.get("LaMP_2M").baseFingerprint());
      assertEquals("e743d6be8e92060326239d58742a79c63149244f342f1f7fe65308b68eee69de",
          d.get("LaMP_2M").taskFingerprint());
      assertEquals("ed07d29051d3dbc58507f51c4eae948264642f92c5346b8ad4a4252e701f759b",
          d.get("LaMP_7").taskFingerprint());
      assertEquals("ede14aa8d7ddebb0c784a05c1d8d0b11d7b36e0a899837afb5705664ae6b6229",
          d.get("LaMP_4").taskFingerprint());
    }
  }

  @Test
  void devices() {
    assertEquals(Device.cpu(), TaskModels.device("CPU"));
    assertThrows(IllegalArgumentException.class, () -> TaskModels.device("tpu"));
  }
}
