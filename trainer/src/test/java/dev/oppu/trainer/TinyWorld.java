package dev.oppu.trainer;

import ai.djl.ndarray.NDManager;
import dev.oppu.lamp.Task;
import dev.oppu.model.LlamaConfig;
import dev.oppu.model.LlamaModel;
import dev.oppu.model.LoraConfig;
import dev.oppu.model.TextTokenizer;
import dev.oppu.trainer.examples.ModelTokenEncoder;
import dev.oppu.trainer.optim.AdamW;
import dev.oppu.trainer.pretrain.BpeTokenizerTrainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A tiny random Llama model with a BPE tokenizer trained on synthetic movie-tagging items, for fast tests. */
final class TinyWorld implements AutoCloseable {
  static final String[] WORDS = ("a robot learns to love in a city of glass while detectives chase the last"
      + " dragon across haunted islands and two friends open a bakery during the war of the stars").split(" ");

  final NDManager manager = NDManager.newBaseManager();
  final TextTokenizer tokenizer;
  final ModelTokenEncoder encoder;
  final LlamaModel model;
  final LlamaLoraLm lm;

  TinyWorld(Path dir) throws Exception {
    BpeTokenizerTrainer bpe = new BpeTokenizerTrainer(400);
    Random rnd = new Random(1);
    for (int u = 0; u < 4; u++) {
      for (UserAdapterUpdater.Item it : history("u" + u, 30, rnd.nextLong())) {
        bpe.add(Task.MOVIE_TAGGING.trainingExample(it.fields()).prompt() + " " + it.fields().get("tag"));
      }
    }
    bpe.trainAndSave(dir);
    LlamaConfig cfg = LlamaConfig.of(400, 32, 64, 2, 4, 2, 512, 10000.0, true);
    tokenizer = TextTokenizer.load(dir, cfg);
    encoder = new ModelTokenEncoder(tokenizer);
    model = LlamaModel.random(cfg, 7, manager);
    // A random init's 0.02-std tied embedding, seen through the final RMSNorm, keeps logits near uniform whatever the
    // adapter does; a trained model's embedding is far larger. Scale it so that a LoRA can move the output.
    model.weights().get("model.embed_tokens.weight").muli(8);
    lm = new LlamaLoraLm(model);
  }

  /** A user's movie history: each user prefers two tags, chosen by the seed. */
  static List<UserAdapterUpdater.Item> history(String user, int n, long seed) {
    Random rnd = new Random(seed);
    List<String> tags = Task.MOVIE_TAGGING.labels();
    String fav1 = tags.get(rnd.nextInt(tags.size()));
    String fav2 = tags.get(rnd.nextInt(tags.size()));
    List<UserAdapterUpdater.Item> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      StringBuilder d = new StringBuilder();
      int len = 5 + rnd.nextInt(10);
      for (int w = 0; w < len; w++) {
        d.append(w == 0 ? "" : " ").append(WORDS[rnd.nextInt(WORDS.length)]);
      }
      String tag = rnd.nextDouble() < 0.8 ? (rnd.nextBoolean() ? fav1 : fav2) : tags.get(rnd.nextInt(tags.size()));
      out.add(new UserAdapterUpdater.Item(i, 1_000L * i, Map.of("description", d.toString(), "tag", tag)));
    }
    return out;
  }

  static UserAdapterUpdater.Settings settings(double lr) {
    return new UserAdapterUpdater.Settings(new LoraConfig(8, 16, 0.05, List.of("q_proj", "v_proj"), false),
        new AdapterTraining.Config(2, 8, AdamW.Config.oppu(lr)), 1, 160, 24, 50, 0.1, 4, 10, 0.05, 42);
  }

  /** {@code n} items all tagged {@code tag}, seqs from {@code firstSeq}. */
  static List<UserAdapterUpdater.Item> tagged(String tag, int n, long firstSeq, long seed) {
    List<UserAdapterUpdater.Item> base = history("x", n, seed);
    List<UserAdapterUpdater.Item> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new UserAdapterUpdater.Item(firstSeq + i, 1_000L * (firstSeq + i),
          Map.of("description", base.get(i).fields().get("description"), "tag", tag)));
    }
    return out;
  }

  @Override
  public void close() {
    tokenizer.close();
    model.close();
    manager.close();
  }
}
