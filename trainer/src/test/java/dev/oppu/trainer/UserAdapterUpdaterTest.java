package dev.oppu.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.model.LoraAdapter;
import dev.oppu.trainer.examples.Variant;
import dev.oppu.trainer.optim.AdamW;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UserAdapterUpdaterTest {
  static TinyWorld world;

  @BeforeAll
  static void setUp(@TempDir Path dir) throws Exception {
    world = new TinyWorld(dir);
  }

  @AfterAll
  static void tearDown() {
    world.close();
  }

  static UserAdapterUpdater updater(double lr) {
    return new UserAdapterUpdater(world.lm, world.encoder, TinyWorld.settings(lr));
  }

  @Test
  void lossGoesDownAndTheVersionCoversAllButTheHeldOutItems() {
    List<UserAdapterUpdater.Item> h = TinyWorld.history("alice", 40, 11);
    UserAdapterUpdater.Outcome o = updater(2e-2).update("alice", Task.MOVIE_TAGGING, Variant.PLAIN, h, 0, null,
        null, 1, null);
    try (LoraAdapter a = o.adapter()) {
      assertTrue(o.accepted(), o.reason());
      assertTrue(o.lossAfter() < o.lossBefore() - 0.5, o.lossBefore() + " -> " + o.lossAfter());
      assertEquals(4, o.heldOut());
      assertEquals(36, o.newItemsTrained());
      assertEquals(35, o.coveredSeq());
      assertEquals(36, o.newlyCovered().size());
      assertTrue(o.heldOutAfter() < o.heldOutBefore(), o.heldOutBefore() + " -> " + o.heldOutAfter());
    }
  }

  @Test
  void pagExamplesHoldTheProfileAndTheOneItemRetrievedBeforeEach() {
    // OPPU+PAG is OPPU's `--k 1 --add_profile`: every example is the profile, then the k = 1 item BM25 finds among
    // the user's earlier items, then the prompt (as serving's OPPU+PAG prompts are)
    List<UserAdapterUpdater.Item> h = TinyWorld.history("pat", 12, 21);
    List<java.util.Map<String, String>> fields = h.stream().map(UserAdapterUpdater.Item::fields).toList();
    String profile = dev.oppu.lamp.Profiles.fromHistory(Task.MOVIE_TAGGING, fields);
    List<String> encoded = new java.util.ArrayList<>();
    dev.oppu.trainer.examples.TokenEncoder recording = new dev.oppu.trainer.examples.TokenEncoder() {
      @Override
      public int[] encode(String text) {
        encoded.add(text);
        return world.encoder.encode(text);
      }

      @Override
      public int eosId() {
        return world.encoder.eosId();
      }

      @Override
      public int bosId() {
        return world.encoder.bosId();
      }

      @Override
      public int padId() {
        return world.encoder.padId();
      }
    };
    UserAdapterUpdater.Settings s = TinyWorld.settings(1e-2);
    UserAdapterUpdater.Outcome o = new UserAdapterUpdater(world.lm, recording, s)
        .update("pat", Task.MOVIE_TAGGING, Variant.PAG, h, 0, profile, null, 1, null);
    if (o.adapter() != null) {
      o.adapter().close();
    }
    assertEquals(12, o.itemsTrained() + o.heldOut(), "every item is an example");
    for (int i = 0; i < fields.size(); i++) {
      List<java.util.Map<String, String>> retrieved = new java.util.ArrayList<>();
      for (int d : dev.oppu.trainer.examples.ExampleBuilder.retrieveBefore(Task.MOVIE_TAGGING, fields, i, 1)) {
        retrieved.add(Task.MOVIE_TAGGING.cutRetrieved(fields.get(d), s.retrievedWords()));
      }
      assertEquals(i == 0 ? 0 : 1, retrieved.size(), "item " + i);
      String prompt = Task.MOVIE_TAGGING.buildInput(profile, retrieved,
          Task.MOVIE_TAGGING.trainingExample(fields.get(i)).prompt());
      assertTrue(encoded.contains(prompt), "item " + i + "'s example is profile + retrieved item + prompt:\n" + prompt);
    }
  }

  @Test
  void warmStartContinuesFromThePreviousAdapter() {
    List<UserAdapterUpdater.Item> h = TinyWorld.history("bob", 60, 12);
    UserAdapterUpdater u = updater(2e-2);
    UserAdapterUpdater.Outcome first = u.update("bob", Task.MOVIE_TAGGING, Variant.PLAIN, h.subList(0, 40), 0, null,
        null, 1, null);
    assertTrue(first.accepted(), first.reason());
    try (LoraAdapter v1 = first.adapter()) {
      UserAdapterUpdater.Outcome warm = u.update("bob", Task.MOVIE_TAGGING, Variant.PLAIN, h, first.coveredSeq() + 1,
          null, v1, 2, null);
      UserAdapterUpdater.Outcome cold = u.update("bob", Task.MOVIE_TAGGING, Variant.PLAIN, h, first.coveredSeq() + 1,
          null, null, 2, null);
      try (LoraAdapter v2 = warm.adapter(); LoraAdapter c2 = cold.adapter()) {
        // the warm start begins where v1 left off: far below a fresh adapter's starting loss on the same examples
        assertTrue(warm.lossBefore() < cold.lossBefore() - 0.3, warm.lossBefore() + " vs cold " + cold.lossBefore());
        assertFalse(java.util.Arrays.equals(v1.rawBytes(), v2.rawBytes()), "the update changed the adapter");
        // new items 36..59 minus 2 held out, plus a replay of the 36 older ones (at most 50)
        assertEquals(22, warm.newItemsTrained());
        assertEquals(22 + 36, warm.itemsTrained());
        assertEquals(36, warm.newlyCovered().get(0).seq());
        assertEquals(57, warm.coveredSeq());
      }
    }
  }

  @Test
  void aRunThatProducesNanPublishesNothing() {
    List<UserAdapterUpdater.Item> h = TinyWorld.history("carol", 30, 13);
    UserAdapterUpdater.Outcome o = updater(Double.NaN).update("carol", Task.MOVIE_TAGGING, Variant.PLAIN, h, 0, null,
        null, 1, null);
    assertFalse(o.accepted());
    assertNull(o.adapter());
    assertTrue(o.reason().contains("non-finite"), o.reason());
  }

  @Test
  void aWorseHeldOutLossIsRejected() {
    // v1 knows this user's "true story" items; the update trains only on "comedy" (no replay) and is held out on
    // newer "true story" items, on which it has become worse than v1
    UserAdapterUpdater.Settings s = TinyWorld.settings(1e-2);
    UserAdapterUpdater noReplay = new UserAdapterUpdater(world.lm, world.encoder, new UserAdapterUpdater.Settings(
        s.lora(), new AdapterTraining.Config(6, 8, s.training().optimizer()), s.k(), s.maxTokens(), s.retrievedWords(), 0, s.holdoutFraction(), s.holdoutMax(),
        s.holdoutMinNew(), 0.0, s.seed()));
    List<UserAdapterUpdater.Item> h = new java.util.ArrayList<>(TinyWorld.tagged("true story", 30, 0, 14));
    UserAdapterUpdater.Outcome v1 = noReplay.update("dave", Task.MOVIE_TAGGING, Variant.PLAIN, h, 0, null, null, 1,
        null);
    assertTrue(v1.accepted(), v1.reason());
    h.addAll(TinyWorld.tagged("comedy", 36, 30, 15));
    h.addAll(TinyWorld.tagged("true story", 4, 66, 16));
    try (LoraAdapter prev = v1.adapter()) {
      UserAdapterUpdater.Outcome o = noReplay.update("dave", Task.MOVIE_TAGGING, Variant.PLAIN, h,
          v1.coveredSeq() + 1, null, prev, 2, null);
      if (o.accepted()) {
        o.adapter().close();
      }
      assertFalse(o.accepted(), o.reason() + " " + o.heldOutBefore() + " -> " + o.heldOutAfter());
      assertTrue(o.reason().contains("held-out loss"), o.reason());
      assertTrue(o.lossAfter() < o.lossBefore(), "training itself went fine");
    }
  }

  @Test
  void aThinPreviousVersionIsNotTheReferenceTheTaskModelAlsoCounts() {
    // v1 stands for 3 items (fewer than holdoutMinNew, so it was never validated itself, like the version made as a
    // user's first event arrives): the next update is held to the larger of v1's and the task model's held-out loss,
    // so a refusal cannot strand the user on it; a previous version of holdoutMinNew or more items is the reference
    UserAdapterUpdater.Settings s = TinyWorld.settings(2e-2);
    UserAdapterUpdater u = new UserAdapterUpdater(world.lm, world.encoder, s);
    UserAdapterUpdater trusting = new UserAdapterUpdater(world.lm, world.encoder, new UserAdapterUpdater.Settings(
        s.lora(), s.training(), s.k(), s.maxTokens(), s.retrievedWords(), s.maxReplay(), s.holdoutFraction(),
        s.holdoutMax(), 2, s.tolerance(), s.seed()));
    List<UserAdapterUpdater.Item> h = TinyWorld.history("fay", 40, 31);
    UserAdapterUpdater.Outcome v1 = u.update("fay", Task.MOVIE_TAGGING, Variant.PLAIN, h.subList(0, 3), 0, null,
        null, 1, null);
    assertTrue(v1.accepted(), v1.reason());
    assertEquals(0, v1.heldOut(), "3 new items: too few to hold any out");
    try (LoraAdapter prev = v1.adapter()) {
      UserAdapterUpdater.Outcome bare = u.update("fay", Task.MOVIE_TAGGING, Variant.PLAIN, h, 3, null, null, 2, null);
      UserAdapterUpdater.Outcome asRef = trusting.update("fay", Task.MOVIE_TAGGING, Variant.PLAIN, h, 3, null, prev, 2,
          null);
      UserAdapterUpdater.Outcome thin = u.update("fay", Task.MOVIE_TAGGING, Variant.PLAIN, h, 3, null, prev, 2, null);
      for (UserAdapterUpdater.Outcome o : List.of(bare, asRef, thin)) {
        if (o.adapter() != null) {
          o.adapter().close();
        }
        assertEquals(4, o.heldOut());
      }
      double prevLoss = asRef.heldOutBefore();
      double taskModelLoss = bare.heldOutBefore();
      assertTrue(Math.abs(prevLoss - taskModelLoss) > 1e-4, prevLoss + " vs " + taskModelLoss);
      assertEquals(Math.max(prevLoss, taskModelLoss), thin.heldOutBefore(), 1e-6);
    }
  }

  @Test
  void aUsersAdapterIsBitIdenticalWhetherOrNotOtherUsersExist() {
    List<UserAdapterUpdater.Item> alice = TinyWorld.history("erin", 30, 21);
    UserAdapterUpdater u = updater(2e-2);
    byte[] alone;
    UserAdapterUpdater.Outcome o1 = u.update("erin", Task.MOVIE_TAGGING, Variant.RAG, alice, 0, null, null, 1, null);
    try (LoraAdapter a = o1.adapter()) {
      alone = a.weightsBytes();
    }
    // other users train in between (different data, same JVM, same model, same engine RNG)
    for (int i = 0; i < 2; i++) {
      UserAdapterUpdater.Outcome other = u.update("other" + i, Task.MOVIE_TAGGING, Variant.RAG,
          TinyWorld.history("other" + i, 25, 100 + i), 0, null, null, 1, null);
      if (other.adapter() != null) {
        other.adapter().close();
      }
    }
    UserAdapterUpdater.Outcome o2 = new UserAdapterUpdater(world.lm, world.encoder, TinyWorld.settings(2e-2))
        .update("erin", Task.MOVIE_TAGGING, Variant.RAG, alice, 0, null, null, 1, null);
    try (LoraAdapter a = o2.adapter()) {
      assertArrayEquals(alone, a.weightsBytes());
    }
  }

  @Test
  void afterAShiftOnlyItemsFromItsStartAreReplayed() {
    List<UserAdapterUpdater.Item> h = TinyWorld.history("carol", 60, 13);
    UserAdapterUpdater u = updater(1e-2);
    // 10 new items (seq 50-59): the newest one is held out, 9 are trained, plus replayed older ones
    UserAdapterUpdater.Outcome all = u.update("carol", Task.MOVIE_TAGGING, Variant.PLAIN, h, 50, null, null, 1, null);
    UserAdapterUpdater.Outcome since = u.update("carol", Task.MOVIE_TAGGING, Variant.PLAIN, h, 50, 45, null, null, 1,
        null);
    try (LoraAdapter a = all.adapter(); LoraAdapter b = since.adapter()) {
      assertTrue(all.accepted() && since.accepted(), all.reason() + " / " + since.reason());
      assertEquals(9 + 50, all.itemsTrained(), "without a shift: up to 50 older items");
      assertEquals(9 + 5, since.itemsTrained(), "after a shift at seq 45: only seqs 45-49 are replayed");
      assertEquals(58, since.coveredSeq());
    }
  }

  @Test
  void lossFromAnswerPositionsEqualsLossFromAllLogits() {
    java.util.Random rnd = new java.util.Random(5);
    List<dev.oppu.trainer.examples.TokenizedExample> ex = new java.util.ArrayList<>();
    for (int i = 0; i < 5; i++) {
      int[] tok = new int[6 + rnd.nextInt(10)];
      for (int j = 0; j < tok.length; j++) {
        tok[j] = 1 + rnd.nextInt(399);
      }
      ex.add(new dev.oppu.trainer.examples.TokenizedExample(tok, 2 + rnd.nextInt(tok.length - 2), i));
    }
    try (LoraAdapter a = LoraAdapter.create(world.lm.config(), TinyWorld.settings(1e-2).lora(), 3, world.manager);
        ai.djl.ndarray.NDManager scope = world.manager.newSubManager();
        dev.oppu.model.CausalLm.Batch b = dev.oppu.trainer.examples.TokenizedExample.batch(ex, 0, scope)) {
      // a non-zero B, so the adapter changes the logits
      a.parameters().values().forEach(p -> p.addi(0.05f));
      float all = dev.oppu.model.CausalLm.loss(world.lm.logits(b.inputIds(), a, false), b.labels()).getFloat();
      float at = dev.oppu.model.CausalLm.lossAt(world.lm.logitsAt(b.inputIds(), a, false, b.positions()), b)
          .getFloat();
      assertEquals(all, at, 1e-3 * Math.abs(all));
      assertEquals(b.targetCount(), b.positions().size());
    }
  }
}
