package dev.oppu.bench;

import ai.djl.ndarray.NDManager;
import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.UserData;
import dev.oppu.lamp.synth.Synth;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.TextTokenizer;
import dev.oppu.trainer.AdapterTraining;
import dev.oppu.trainer.LlamaLoraLm;
import dev.oppu.trainer.TrainStep;
import dev.oppu.trainer.TrainerDefaults;
import dev.oppu.trainer.UserAdapterUpdater;
import dev.oppu.trainer.examples.ExampleBuilder;
import dev.oppu.trainer.examples.ModelTokenEncoder;
import dev.oppu.trainer.examples.TokenizedExample;
import dev.oppu.trainer.examples.Variant;
import dev.oppu.trainer.pretrain.BpeTokenizerTrainer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code oppu bench train}: seconds per incremental per-user update (the trainer service's whole update: examples,
 * losses, training, held-out validation) on the default model, LaMP_2M, plain variant, 2 epochs, for 50 and for 200
 * new items plus at most 50 replayed older ones; training tokens/s over both, against the raw forward+backward tokens/s
 * of the same model on the same examples and batches in the same JVM (so the service's overhead shows).
 */
@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Per-user incremental update time (50 and 200 new items) and training throughput vs raw fwd+bwd.")
public final class TrainBench implements Callable<Integer> {

  @Option(names = "--base-model", defaultValue = "models/default",
      description = "base checkpoint (default ${DEFAULT-VALUE}; a random default-size model if it does not exist)")
  Path base;

  /** Where and in what precision the model computes (one default for every command). */
  @picocli.CommandLine.Mixin
  dev.oppu.cli.DeviceOptions device = new dev.oppu.cli.DeviceOptions();

  @picocli.CommandLine.Mixin
  dev.oppu.cli.SeedOptions seedOption = new dev.oppu.cli.SeedOptions();

  @Option(names = "--lr-sweep", split = ",", description = "instead of the benchmark: one 50-new-item update per"
      + " learning rate, printing training and held-out losses (how TrainerDefaults.USER_LR was chosen)")
  List<Double> sweep;

  @Override
  public Integer call() throws Exception {
    device.check();
    // 250 LaMP_2M history items in time order: 50 older ones (covered by the previous version) + up to 200 new
    List<Map<String, String>> pool = new ArrayList<>();
    for (UserData u : Synth.generate(Task.MOVIE_TAGGING, Synth.Params.defaults().withSeed(seedOption.seed())).trainUsers()) {
      for (HistoryItem h : u.profile()) {
        pool.add(h.fields());
      }
    }
    if (pool.size() < 250) {
      throw new IllegalStateException("synthetic pool too small: " + pool.size());
    }
    try (NDManager manager = NDManager.newBaseManager(device.djlDevice())) {
      Path dir = base;
      String what = "pretrained " + base;
      if (!Files.isRegularFile(base.resolve("config.json"))) {
        dir = Files.createTempDirectory("oppu-bench-train");
        BpeTokenizerTrainer bpe = new BpeTokenizerTrainer(LlamaConfig.defaultSmall().vocabSize());
        pool.forEach(f -> bpe.add(Task.MOVIE_TAGGING.renderItem(f)));
        bpe.trainAndSave(dir);
        LlamaModel.random(LlamaConfig.defaultSmall(), seedOption.seed(), manager).save(dir);
        what = "random LlamaConfig.defaultSmall (no " + base + "; speed does not depend on the weights)";
      }
      LlamaModel model = LlamaModel.load(dir, manager);
      try (TextTokenizer tok = TextTokenizer.load(dir, model.config())) {
        ModelTokenEncoder enc = new ModelTokenEncoder(tok);
        LlamaLoraLm lm = new LlamaLoraLm(model);
        modelConfig = model.config();
        UserAdapterUpdater.Settings s = TrainerDefaults.user();
        UserAdapterUpdater updater = new UserAdapterUpdater(lm, enc, s);
        System.out.println("model: " + what + "; " + s.training().describe() + ", max tokens " + s.maxTokens());
        if (sweep != null) {
          for (double lr : sweep) {
            UserAdapterUpdater.Settings t = new UserAdapterUpdater.Settings(s.lora(), new AdapterTraining.Config(
                s.training().epochs(), s.training().batchSize(), dev.oppu.trainer.optim.AdamW.Config.oppu(lr),
                s.training().minSteps(), s.training().maxEpochs()), s.k(),
                s.maxTokens(), s.retrievedWords(), s.maxReplay(), 0.2, 10, 10, s.tolerance(), s.seed());
            double[] r = run(new UserAdapterUpdater(lm, enc, t), pool, 50, "lr " + lr);
            System.out.println(dev.oppu.cli.JsonOut.object().put("lr", lr).put("loss_before", r[2], 4)
                .put("loss_after", r[3], 4).put("held_out_before", r[4], 4).put("held_out_after", r[5], 4));
          }
          return 0;
        }
        run(updater, pool, 20, "warm-up");
        // the baseline runs right before each update, on that update's items: the machine's load drifts
        ExampleBuilder b = new ExampleBuilder(Task.MOVIE_TAGGING, ExampleBuilder.Options.defaults(Variant.PLAIN), enc);
        double[] raw50 = rawTokensPerSecond(lm, b.build(pool.subList(0, 100), null, 0), s.training().batchSize(),
            enc.padId(), s.lora(), seedOption.seed());
        double[] u50 = run(updater, pool, 50, "50 new");
        double[] raw200 = rawTokensPerSecond(lm, b.build(pool.subList(0, 250), null, 0), s.training().batchSize(),
            enc.padId(), s.lora(), seedOption.seed());
        double[] u200 = run(updater, pool, 200, "200 new");
        double tokensPerS = (u50[1] + u200[1]) / (u50[0] + u200[0]);
        double raw = (raw50[1] + raw200[1]) / (raw50[0] + raw200[0]);
        System.out.printf(Locale.ROOT, "update 50: %.2f s, update 200: %.2f s, training %.0f tokens/s,"
            + " raw fwd+bwd %.0f tokens/s%n", u50[0], u200[0], tokensPerS, raw);
        String threads = System.getProperty("ai.djl.pytorch.num_threads");
        System.out.println(dev.oppu.cli.JsonOut.object().put("bench", "train").put("update_s_50", u50[0], 3)
            .put("update_s_200", u200[0], 3).put("tokens_per_s", tokensPerS, 1).put("raw_tokens_per_s", raw, 1)
            .put("ratio", tokensPerS / raw, 3).put("threads", threads == null ? "default" : threads));
      }
    }
    return 0;
  }

  /** One update with {@code fresh} new items after 50 older ones; returns {seconds, training tokens}. */
  private double[] run(UserAdapterUpdater updater, List<Map<String, String>> pool, int fresh, String label) {
    List<UserAdapterUpdater.Item> h = new ArrayList<>();
    for (int i = 0; i < 50 + fresh; i++) {
      h.add(new UserAdapterUpdater.Item(i, i, pool.get(i)));
    }
    try (NDManager m = NDManager.newBaseManager(device.djlDevice());
        LoraAdapter previous = LoraAdapter.create(modelConfig, updater.settings().lora(), seedOption.seed(), m)) {
      long t0 = System.nanoTime();
      UserAdapterUpdater.Outcome o = updater.update("bench", Task.MOVIE_TAGGING, Variant.PLAIN, h, 50, null,
          previous, 2, null);
      double sec = (System.nanoTime() - t0) / 1e9;
      if (o.adapter() != null) {
        o.adapter().close();
      }
      System.out.printf(Locale.ROOT, "%s: %.2f s (%d examples, %d tokens, %s)%n", label, sec, o.itemsTrained(),
          o.tokens(), o.reason());
      return new double[] {sec, o.tokens(), o.lossBefore(), o.lossAfter(), o.heldOutBefore(), o.heldOutAfter()};
    }
  }

  private LlamaConfig modelConfig;

  /** Forward+backward only, 2 epochs, same batch size: returns {seconds, tokens}. */
  private static double[] rawTokensPerSecond(LlamaLoraLm lm, List<TokenizedExample> examples, int batch, int pad,
      dev.oppu.model.LoraConfig lora, long seed) {
    try (LoraAdapter adapter = LoraAdapter.create(lm.config(), lora, seed, lm.manager());
        TrainStep step = new TrainStep((ids, at) -> lm.logitsAt(ids, adapter, true, at),
            new ArrayList<>(adapter.parameters().values()), dev.oppu.trainer.optim.AdamW.Config.oppu(1e-4), 1,
            lm.manager(), pad)) {
      List<TokenizedExample> order = new ArrayList<>(examples);
      Collections.shuffle(order, new Random(seed));
      long tokens = 0;
      long t0 = System.nanoTime();
      for (int epoch = 0; epoch < 2; epoch++) {
        for (int i = 0; i < order.size(); i += batch) {
          List<TokenizedExample> chunk = order.subList(i, Math.min(order.size(), i + batch));
          step.backward(chunk); // the trainer's own step without the optimizer: LM head at answer positions only
          step.zeroGradients();
          tokens += chunk.stream().mapToInt(e -> e.tokens().length).sum();
        }
      }
      return new double[] {(System.nanoTime() - t0) / 1e9, tokens};
    }
  }
}
