package dev.oppu.trainer.pretrain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.model.LlamaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PretrainerTest {

  static List<String> corpus() {
    String[] subjects = {"the robot", "a detective", "the dragon", "two friends"};
    String[] verbs = {"finds", "loses", "builds", "paints"};
    String[] objects = {"a city of glass", "the last bakery", "a haunted island", "the stars"};
    Random rnd = new Random(3);
    List<String> docs = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      docs.add(subjects[rnd.nextInt(4)] + " " + verbs[rnd.nextInt(4)] + " " + objects[rnd.nextInt(4)] + ".");
    }
    return docs;
  }

  @Test
  void lossGoesDownAndTheRunIsReproducibleBySeed(@TempDir Path dir) throws Exception {
    Pretrainer.Config cfg = new Pretrainer.Config(LlamaConfig.of(300, 32, 64, 2, 4, 2, 128, 10000.0, true), 32, 8,
        40, 1e-2, 0.1, 5);
    Pretrainer.Report a = Pretrainer.run(corpus(), cfg, dir.resolve("a"), false);
    Pretrainer.Report b = Pretrainer.run(corpus(), cfg, dir.resolve("b"), false);
    assertTrue(a.lastLoss() < a.firstLoss() - 1.0, a.firstLoss() + " -> " + a.lastLoss());
    assertTrue(a.heldOutPerplexity() < 300 / 4.0, "held-out perplexity " + a.heldOutPerplexity());
    assertEquals(a.fingerprint(), b.fingerprint(), "same seed, same weights");
    assertEquals(Files.readString(dir.resolve("a/tokenizer.json")), Files.readString(dir.resolve("b/tokenizer.json")));
    assertTrue(Files.isRegularFile(dir.resolve("a/model.safetensors")));
  }
}
