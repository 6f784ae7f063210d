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

  @Option(names = "--seed", defaultValue = "42", description = "seed of data, tokenizer, init and order (default ${DEFAULT-VALUE})")
  long seed;

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
    Pretrainer.Config d = Pretrainer.Config.defaults();
    Pretrainer.Config cfg = new Pretrainer.Config(LlamaConfig.defaultSmall(), d.blockTokens(), d.batchSize(),
        steps != null ? steps : d.steps(), lr != null ? lr : d.lr(), d.heldOutFraction(), seed);
    List<String> docs = SynthCorpus.documents(Synth.Params.defaults().withTrainUsers(trainUsers).withSeed(seed));
    System.out.printf(Locale.ROOT, "pretraining on %d documents (non-evaluated users of 7 tasks) -> %s%n",
        docs.size(), out);
    Pretrainer.Report r = Pretrainer.run(docs, cfg, out, !quiet);
    System.out.printf(Locale.ROOT, "{\"dir\": \"%s\", \"fingerprint\": \"%s\", \"corpus_tokens\": %d,"
            + " \"train_tokens\": %d, \"first_loss\": %.4f, \"last_loss\": %.4f, \"held_out_loss\": %.4f,"
            + " \"held_out_perplexity\": %.3f, \"seconds\": %.1f}%n", r.dir(), r.fingerprint(), r.corpusTokens(),
        r.trainTokens(), r.firstLoss(), r.lastLoss(), r.heldOutLoss(), r.heldOutPerplexity(), r.millis() / 1000.0);
    return 0;
  }
}
