package dev.oppu.evaluation.demo;

import ai.djl.ndarray.NDManager;
import dev.oppu.evaluation.replay.Progress;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.TextTokenizer;
import dev.oppu.trainer.LlamaLoraLm;
import dev.oppu.trainer.TaskAdaptation;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.examples.ModelTokenEncoder;
import dev.oppu.trainer.pretrain.Pretrainer;
import dev.oppu.trainer.pretrain.SynthCorpus;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Makes sure the demo's model exists: the base checkpoint (the committed {@code models/default}, or trained here
 * once with {@code oppu pretrain}'s defaults) and a task adapter per task ({@code <model>/task-adapters/<LaMP id>},
 * trained once with {@code oppu adapt-task}'s defaults on the non-evaluated users). Both are cached on disk, so only
 * the first run pays for them.
 */
public final class ModelPrep {

  private ModelPrep() {}

  /** What was prepared, for the report. */
  public record Prepared(InProcessSystem.Models models, List<String> notes) {}

  public static Prepared prepare(Path modelDir, List<Task> tasks, Map<Task, List<UserData>> trainUsers,
      String device, Progress progress, PrintStream log) throws Exception {
    return prepare(modelDir, null, tasks, trainUsers, device, progress, log);
  }

  /** @param taskAdapters where the task adapters are (made when missing); null: {@code <model>/task-adapters} */
  public static Prepared prepare(Path modelDir, Path taskAdapters, List<Task> tasks,
      Map<Task, List<UserData>> trainUsers, String device, Progress progress, PrintStream log) throws Exception {
    List<String> notes = new java.util.ArrayList<>();
    if (!Files.isRegularFile(modelDir.resolve("config.json"))) {
      log.println("demo: no base model in " + modelDir + ": pretraining the default one (once; `oppu pretrain`)");
      Pretrainer.Report r = Pretrainer.run(
          SynthCorpus.documents(Synth.Params.defaults().withTrainUsers(40).withSeed(42)), Pretrainer.Config.defaults(),
          modelDir, true);
      notes.add(String.format(Locale.ROOT, "base model pretrained in this run (%.0f s, held-out perplexity %.2f)",
          r.millis() / 1000.0, r.heldOutPerplexity()));
    }
    Path adapters = taskAdapters != null ? taskAdapters : modelDir.resolve(dev.oppu.system.OppuSystem.TASK_ADAPTERS);
    LlamaConfig config = LlamaConfig.load(modelDir);
    for (Task t : tasks) {
      Path dir = dev.oppu.model.TaskModels.taskAdapterDir(adapters, t.id());
      if (Files.isRegularFile(dir.resolve("adapter_model.safetensors"))) {
        continue;
      }
      if (trainUsers.getOrDefault(t, List.of()).isEmpty()) {
        notes.add(t.id() + ": no task adapter in " + adapters + " and no non-evaluated users to train one: the bare"
            + " base model serves (run `oppu adapt-task` to make one)");
        continue;
      }
      log.println("demo: no task adapter for " + t.id() + ": training it (once; `oppu adapt-task`)");
      try (NDManager manager = NDManager.newBaseManager(dev.oppu.model.TaskModels.device(device))) {
        LlamaModel model = LlamaModel.load(modelDir, manager);
        try (TextTokenizer tok = TextTokenizer.load(modelDir, model.config())) {
          List<UserData> users = trainUsers.getOrDefault(t, List.of());
          Progress.Bar[] bar = new Progress.Bar[1];
          try {
            TaskAdaptation.Report r = TaskAdaptation.run(new LlamaLoraLm(model), new ModelTokenEncoder(tok), t, users,
                TrainerDefaults.task(0, false), adapters, (step, total, loss) -> {
                  if (bar[0] == null) {
                    bar[0] = progress.start("adapt " + t.id(), total);
                  }
                  bar[0].stepTo(step);
                  bar[0].message(String.format(Locale.ROOT, "loss %.3f", loss));
                });
            notes.add(String.format(Locale.ROOT, "%s task adapter trained in this run on %d non-evaluated users"
                + " (%d examples, loss %.3f -> %.3f, %.0f s)", t.id(), r.users(), r.examples(),
                r.training().lossBefore(), r.training().lossAfter(), r.training().millis() / 1000.0));
          } finally {
            if (bar[0] != null) {
              bar[0].close();
            }
          }
        }
      }
    }
    String description = String.format(Locale.ROOT, "our small default Llama-family decoder trained from scratch"
        + " on synthetic text (%s: vocab %d, hidden %d, %d layers, %d heads, %d KV heads, %.1fM parameters, float32,"
        + " CPU), with a task LoRA per task merged in; not the paper's Llama-2-7b", modelDir, config.vocabSize(),
        config.hiddenSize(), config.numLayers(), config.numHeads(), config.numKvHeads(),
        config.parameterCount() / 1e6);
    return new Prepared(new InProcessSystem.Models(modelDir, adapters, description, device), notes);
  }
}
