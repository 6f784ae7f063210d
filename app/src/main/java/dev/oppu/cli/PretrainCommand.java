package dev.oppu.cli;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.LampData;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.model.LlamaConfig;
import dev.oppu.trainer.pretrain.Pretrainer;
import dev.oppu.trainer.pretrain.SynthCorpus;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code oppu pretrain}: the default base model, trained from scratch on the non-evaluated users' text. */
@Command(name = "pretrain", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Train the default base model from scratch: a byte-level BPE tokenizer (tokenizer.json) and a small"
        + " Llama-family decoder (LlamaConfig.defaultSmall: vocab 4096, hidden 256, 4 layers, 8 heads, 4 KV heads,"
        + " tied embeddings) on the histories of the NON-evaluated users of `oppu synth` data for all 7 tasks, or of"
        + " a data set's: --data DIR (every task it has, or --task T) or --task T --questions F, so the base knows"
        + " that data's vocabulary (which users are not evaluated: see adapt-task).",
        "Saved in Hugging Face layout (config.json, model.safetensors, tokenizer.json, pretrain.json with the held-out"
            + " perplexity). Deterministic by --seed: the same command reproduces the committed models/default."})
public final class PretrainCommand implements Callable<Integer> {

  @Option(names = "--out", defaultValue = "models/default", description = "output directory (default ${DEFAULT-VALUE})")
  Path out;

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @picocli.CommandLine.Mixin
  DeviceOptions device = new DeviceOptions();

  @Option(names = "--steps", description = "optimizer steps (default: Pretrainer.Config.defaults)")
  Integer steps;

  @Option(names = "--lr", description = "peak learning rate (default: Pretrainer.Config.defaults)")
  Double lr;

  @Option(names = "--train-users",
      description = "non-evaluated users per task in the corpus (default: 40 synthetic ones; all of a data set's)")
  Integer trainUsers;

  @picocli.CommandLine.Mixin
  DataOptions data = new DataOptions();

  @Option(names = "--task", defaultValue = "all",
      description = "with --data or --questions: LaMP_1 ... LaMP_7, a task name, or all (default: every task found)")
  String task;

  @Option(names = "--quiet", description = "no progress bar")
  boolean quiet;

  @Override
  public Integer call() throws Exception {
    device.check();
    Pretrainer.Config d = Pretrainer.Config.defaults();
    Pretrainer.Config cfg = new Pretrainer.Config(LlamaConfig.defaultSmall(), d.blockTokens(), d.batchSize(),
        steps != null ? steps : d.steps(), lr != null ? lr : d.lr(), d.heldOutFraction(), seedOption.seed());
    List<String> docs;
    String from;
    if (data.given()) {
      boolean all = task.equalsIgnoreCase("all");
      Map<Task, LampData.Source> sources = data.sources(Task.list(task), !all);
      Map<Task, List<UserData>> users = new LinkedHashMap<>();
      int n = 0;
      for (LampData.Source s : sources.values()) {
        System.out.println(s.describe(data.mostActive()));
        List<UserData> u = s.nonEvaluated(data.mostActive(), trainUsers != null ? trainUsers : Integer.MAX_VALUE);
        users.put(s.task(), u);
        n += u.size();
      }
      docs = SynthCorpus.documents(users);
      from = String.format(Locale.ROOT, "%d non-evaluated users of %s", n,
          sources.keySet().stream().map(Task::id).toList());
    } else {
      if (!task.equalsIgnoreCase("all")) {
        throw new dev.oppu.lamp.LampInputException("--task goes with --data or --questions (synthetic pretraining"
            + " uses all 7 tasks)");
      }
      docs = SynthCorpus.documents(Synth.Params.defaults().withTrainUsers(trainUsers != null ? trainUsers : 40)
          .withSeed(seedOption.seed()));
      from = "non-evaluated users of 7 tasks";
    }
    if (docs.isEmpty()) {
      throw new dev.oppu.lamp.LampInputException("no text to pretrain on: the non-evaluated users have no history");
    }
    System.out.printf(Locale.ROOT, "pretraining on %d documents (%s) -> %s%n", docs.size(), from, out);
    Pretrainer.Report r = Pretrainer.run(docs, cfg, out, !quiet, device.djlDevice());
    System.out.println(JsonOut.object().put("dir", r.dir().toString()).put("fingerprint", r.fingerprint())
        .put("corpus_tokens", r.corpusTokens()).put("train_tokens", r.trainTokens()).put("first_loss", r.firstLoss(), 4)
        .put("last_loss", r.lastLoss(), 4).put("held_out_loss", r.heldOutLoss(), 4)
        .put("held_out_perplexity", r.heldOutPerplexity(), 3).put("seconds", r.millis() / 1000.0, 1));
    return 0;
  }
}
