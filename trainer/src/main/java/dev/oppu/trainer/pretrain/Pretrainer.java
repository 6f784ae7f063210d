package dev.oppu.trainer.pretrain;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.oppu.model.CausalLm;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.TextTokenizer;
import dev.oppu.trainer.TrainStep;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.optim.AdamW;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Trains the default base model from scratch (no weights can be downloaded here): a byte-level BPE tokenizer on the
 * corpus, then every weight of a Llama-family decoder with AdamW on next-token prediction over the corpus packed into
 * fixed-length blocks (documents separated by EOS). Deterministic by seed: the tokenizer, the init, the held-out
 * split and the block order all derive from it, and training runs a fixed number of steps.
 */
public final class Pretrainer {

  /** Hyperparameters of a pretraining run. */
  public record Config(LlamaConfig model, int blockTokens, int batchSize, int steps, double lr, double heldOutFraction,
      long seed) {
    /** The defaults the committed {@code models/default} was trained with (see TRAINING.md). */
    public static Config defaults() {
      return new Config(LlamaConfig.defaultSmall(), 128, 16, 600, 3e-3, 0.05, 42);
    }
  }

  /** What a run produced: where, its fingerprint, and the held-out perplexity. */
  public record Report(Path dir, String fingerprint, long corpusTokens, long trainTokens, double heldOutLoss,
      double heldOutPerplexity, double firstLoss, double lastLoss, long millis) {}

  private Pretrainer() {}

  /** Trains and saves a checkpoint (config.json, model.safetensors, tokenizer.json) into {@code out}. */
  public static Report run(List<String> documents, Config cfg, Path out, boolean progress) throws IOException {
    return run(documents, cfg, out, progress, null);
  }

  /** As {@link #run(List, Config, Path, boolean)} on {@code device} (null: DJL's default device). */
  public static Report run(List<String> documents, Config cfg, Path out, boolean progress, ai.djl.Device device)
      throws IOException {
    long start = System.nanoTime();
    List<String> docs = new ArrayList<>(documents);
    Collections.shuffle(docs, new Random(cfg.seed()));
    int held = Math.max(1, (int) Math.round(docs.size() * cfg.heldOutFraction()));
    List<String> heldDocs = docs.subList(0, held);
    List<String> trainDocs = docs.subList(held, docs.size());

    Files.createDirectories(out);
    BpeTokenizerTrainer bpe = new BpeTokenizerTrainer(cfg.model().vocabSize());
    trainDocs.forEach(bpe::add);
    bpe.trainAndSave(out);
    LlamaConfig mc = cfg.model();
    try (NDManager manager = device == null ? NDManager.newBaseManager() : NDManager.newBaseManager(device);
        TextTokenizer tok = TextTokenizer.load(out, mc)) {
      int[] train = pack(trainDocs, tok);
      int[] heldIds = pack(heldDocs, tok);
      LlamaModel model = LlamaModel.random(mc, cfg.seed(), manager);
      List<NDArray> params = new ArrayList<>(model.weights().values());
      Random order = new Random(cfg.seed() + 1);
      int blocks = train.length / (cfg.blockTokens() + 1);
      if (blocks < cfg.batchSize()) {
        throw new IllegalArgumentException("corpus too small: " + train.length + " tokens");
      }
      double first = Double.NaN;
      double last = Double.NaN;
      long trainTokens = 0;
      CausalLm.GRADIENT_LOCK.lock();
      try (TrainStep trainStep = new TrainStep((ids, at) -> model.forwardAt(ids, null, true, at), params,
          new AdamW.Config(cfg.lr(), 0.01, 0.9, 0.95, 1e-8, 1.0, 0.05), cfg.steps(), manager, tok.padId());
          ProgressBar pb = progress ? new ProgressBarBuilder().setTaskName("pretrain").setInitialMax(cfg.steps())
              .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(1000).build() : null) {
        Engine.getInstance().setRandomSeed((int) cfg.seed());
        List<Integer> perm = new ArrayList<>();
        for (int step = 0; step < cfg.steps(); step++) {
          List<TokenizedExample> batch = new ArrayList<>();
          for (int b = 0; b < cfg.batchSize(); b++) {
            if (perm.isEmpty()) {
              for (int i = 0; i < blocks; i++) {
                perm.add(i);
              }
              Collections.shuffle(perm, order);
            }
            int at = perm.remove(perm.size() - 1) * (cfg.blockTokens() + 1);
            int[] block = java.util.Arrays.copyOfRange(train, at, at + cfg.blockTokens() + 1);
            batch.add(new TokenizedExample(block, 1, -1)); // every next token counts
          }
          double loss = trainStep.step(batch).loss();
          trainTokens += (long) cfg.batchSize() * cfg.blockTokens();
          first = Double.isNaN(first) ? loss : first;
          last = loss;
          if (pb != null) {
            pb.step();
            pb.setExtraMessage(String.format(java.util.Locale.ROOT, "loss %.3f", loss));
          }
        }
      } finally {
        CausalLm.GRADIENT_LOCK.unlock();
      }
      double heldLoss = heldOutLoss(model, heldIds, cfg.blockTokens(), tok.padId(), manager);
      model.save(out);
      Files.writeString(out.resolve("pretrain.json"), String.format(java.util.Locale.ROOT,
          "{\"seed\": %d, \"steps\": %d, \"block_tokens\": %d, \"batch_size\": %d, \"lr\": %s, \"documents\": %d,"
              + " \"corpus_tokens\": %d, \"held_out_loss\": %.5f, \"held_out_perplexity\": %.4f}%n",
          cfg.seed(), cfg.steps(), cfg.blockTokens(), cfg.batchSize(), cfg.lr(), docs.size(),
          train.length + heldIds.length, heldLoss, Math.exp(heldLoss)), StandardCharsets.UTF_8);
      return new Report(out, model.fingerprint(), train.length + heldIds.length, trainTokens, heldLoss,
          Math.exp(heldLoss), first, last, (System.nanoTime() - start) / 1_000_000);
    }
  }

  /** Mean next-token loss over held-out blocks. */
  public static double heldOutLoss(LlamaModel model, int[] ids, int blockTokens, int padId, NDManager manager) {
    List<TokenizedExample> blocks = new ArrayList<>();
    // at most 64 blocks (~8k tokens): enough for a perplexity to 2 digits, cheap on 2 cores
    for (int at = 0; at + blockTokens + 1 <= ids.length && blocks.size() < 64; at += blockTokens + 1) {
      blocks.add(new TokenizedExample(java.util.Arrays.copyOfRange(ids, at, at + blockTokens + 1), 1, -1));
    }
    dev.oppu.trainer.optim.GradMode.off();
    double sum = 0;
    long n = 0;
    for (int i = 0; i < blocks.size(); i += 16) {
      try (NDManager scope = manager.newSubManager();
          CausalLm.Batch b = TokenizedExample.batch(blocks.subList(i, Math.min(blocks.size(), i + 16)), padId, scope)) {
        sum += CausalLm.summedLossAt(model.forwardAt(b.inputIds(), null, false, b.positions()), b).getFloat();
        n += b.targetCount();
      }
    }
    return sum / n;
  }

  /** Documents as one token stream, each followed by EOS. */
  static int[] pack(List<String> docs, TextTokenizer tok) {
    List<int[]> parts = new ArrayList<>();
    int total = 0;
    for (String d : docs) {
      int[] ids = tok.encode(d);
      parts.add(ids);
      total += ids.length + 1;
    }
    int[] out = new int[total];
    int at = 0;
    for (int[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
      out[at++] = tok.eosId();
    }
    return out;
  }
}
