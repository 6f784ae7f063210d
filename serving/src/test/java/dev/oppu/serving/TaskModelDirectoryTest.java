package dev.oppu.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.lora.AdapterPayload;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Task models laid out as the trainer lays them out: base + task adapters merged per task, with fingerprints. */
class TaskModelDirectoryTest {
  private static final Path FIX = Path.of(System.getProperty("oppu.fixtures", "../fixtures"),
      "hf-llama-mha");

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
        a.savePeft(tasks.resolve("LaMP_2M"));
        taskWeights = a.weightsBytes();
      }
    }
    try (TaskModelDirectory d = new TaskModelDirectory(base, tasks, EnumSet.of(Task.MOVIE_TAGGING, Task.NEWS_HEADLINE))) {
      ModelBatchGenerator.TaskModel movie = d.get(Task.MOVIE_TAGGING);
      ModelBatchGenerator.TaskModel headline = d.get(Task.NEWS_HEADLINE);
      assertEquals(baseFp, movie.baseFingerprint());
      assertEquals(baseFp, headline.baseFingerprint());
      assertEquals(AdapterPayload.taskFingerprint(taskWeights), movie.taskFingerprint());
      assertEquals(AdapterPayload.NO_TASK_ADAPTER, headline.taskFingerprint());
      assertNotEquals(movie.model().fingerprint(), headline.model().fingerprint(), "task LoRA merged into LaMP_2M");
      assertEquals(baseFp, headline.model().fingerprint(), "LaMP_4 runs the bare base");
      assertNull(d.get(Task.CITATION), "a task not served");
      ModelBatchGenerator gen = new ModelBatchGenerator(d::get, d.tokenizer(), ModelBatchGenerator.Options.greedy());
      assertEquals(new BatchGenerator.Fingerprint(baseFp, AdapterPayload.taskFingerprint(taskWeights)),
          gen.fingerprint(Task.MOVIE_TAGGING));
      assertNull(gen.fingerprint(Task.CITATION));
    }
  }
}
