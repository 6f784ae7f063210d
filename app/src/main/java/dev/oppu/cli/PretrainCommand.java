package dev.oppu.cli;

import dev.oppu.lamp.synth.Synth;
import dev.oppu.model.LlamaConfig;
import dev.oppu.trainer.pretrain.Pretrainer;
import dev.oppu.trainer.pretrain.SynthCorpus;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code oppu pretrain}: the default base model, trained from scratch on the non-evaluated users' text. */
@Command(name = "pretrain", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Train the default base model from scratch: a byte-level BPE tokenizer (tokenizer.json) and a small"
        + " Llama-family decoder (LlamaConfig.defaultSmall: vocab 4096, hidden 256, 4 layers, 8 heads, 4 KV heads,"
        + " tied embeddings) on the histories of the NON-evaluated users of `oppu synth` data for all 7 tasks.",
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

  @Option(names = "--train-users", defaultValue = "40",
      description = "non-evaluated synthetic users per task in the corpus (default ${DEFAULT-VALUE})")
  int trainUsers;

  @Option(names = "--quiet", description = "no progress bar")
  boolean quiet;

  @Override
  public Integer call() throws Exception {
    device.check();
    Pretrainer.Config d = Pretrainer.Config.defaults();
    Pretrainer.Config cfg = new Pretrainer.Config(LlamaConfig.defaultSmall(), d.blockTokens(), d.batchSize(),
        steps != null ? steps : d.steps(), lr != null ? lr : d.lr(), d.heldOutFraction(), seedOption.seed());
    List<String> docs = SynthCorpus.documents(Synth.Params.defaults().withTrainUsers(trainUsers).withSeed(seedOption.seed()));
    System.out.printf(Locale.ROOT, "pretraining on %d documents (non-evaluated users of 7 tasks) -> %s%n",
        docs.size(), out);
    Pretrainer.Report r = Pretrainer.run(docs, cfg, out, !quiet, device.djlDevice());
    System.out.println(JsonOut.object().put("dir", r.dir().toString()).put("fingerprint", r.fingerprint())
        .put("corpus_tokens", r.corpusTokens()).put("train_tokens", r.trainTokens()).put("first_loss", r.firstLoss(), 4)
        .put("last_loss", r.lastLoss(), 4).put("held_out_loss", r.heldOutLoss(), 4)
        .put("held_out_perplexity", r.heldOutPerplexity(), 3).put("seconds", r.millis() / 1000.0, 1));
    return 0;
  }
}
