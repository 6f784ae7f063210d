package dev.oppu.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.lamp.data.HistoryItem;
import dev.oppu.lamp.data.UserData;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.trainer.optim.AdamW;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskAdaptationTest {

  @Test
  void trainsATaskLoraOnNonEvaluatedUsersWithRetrievalAndProfileAndSavesItInPeftLayout(@TempDir Path dir)
      throws Exception {
    try (TinyWorld w = new TinyWorld(dir.resolve("tok"))) {
      List<UserData> users = new ArrayList<>();
      for (int u = 0; u < 3; u++) {
        List<HistoryItem> items = new ArrayList<>();
        for (UserAdapterUpdater.Item it : TinyWorld.history("t" + u, 12, 50 + u)) {
          items.add(new HistoryItem("i" + it.seq(), null, it.fields()));
        }
        users.add(new UserData("t" + u, items, List.of()));
      }
      TaskAdaptation.Config cfg = new TaskAdaptation.Config(
          new LoraConfig(4, 8, 0.0, List.of("q_proj", "k_proj", "v_proj"), false),
          new AdapterTraining.Config(2, 8, AdamW.Config.oppu(2e-2)), 1, true, 200, 24, 3);
      TaskAdaptation.Report r = TaskAdaptation.run(w.lm, w.encoder, Task.MOVIE_TAGGING, users, cfg,
          dir.resolve("adapters"), null);
      assertEquals(36, r.examples());
      assertTrue(r.training().lossAfter() < r.training().lossBefore(), r.training().toString());
      assertEquals(dir.resolve("adapters").resolve("LaMP_2M"), r.dir());
      assertTrue(Files.isRegularFile(r.dir().resolve(LoraAdapter.CONFIG_FILE)));
      try (LoraAdapter a = LoraAdapter.loadPeft(r.dir(), w.model.config(), w.manager)) {
        assertEquals(List.of("q_proj", "k_proj", "v_proj"), a.config().targetModules());
      }
    }
  }

  @Test
  void mixedAdaptationRotatesServingsFourPromptFormsOneExamplePerItem(@TempDir Path dir) throws Exception {
    try (TinyWorld w = new TinyWorld(dir.resolve("tok"))) {
      List<UserData> users = new ArrayList<>();
      for (int u = 0; u < 2; u++) {
        List<HistoryItem> items = new ArrayList<>();
        for (UserAdapterUpdater.Item it : TinyWorld.history("m" + u, 7, 70 + u)) {
          items.add(new HistoryItem("i" + it.seq(), null, it.fields()));
        }
        users.add(new UserData("m" + u, items, List.of()));
      }
      TaskAdaptation.Config cfg = new TaskAdaptation.Config(
          new LoraConfig(4, 8, 0.0, List.of("q_proj", "v_proj"), false),
          new AdapterTraining.Config(1, 4, AdamW.Config.oppu(2e-2)), 1, false, 200, 24, 3, true);
      List<dev.oppu.trainer.examples.TokenizedExample> mixed =
          TaskAdaptation.mixedExamples(w.encoder, Task.MOVIE_TAGGING, users, cfg);
      assertEquals(14, mixed.size());
      for (int u = 0; u < 2; u++) {
        List<java.util.Map<String, String>> items =
            users.get(u).profile().stream().map(HistoryItem::fields).toList();
        String profile = dev.oppu.lamp.Profiles.fromHistory(Task.MOVIE_TAGGING, items);
        dev.oppu.trainer.examples.Variant[] variants = {dev.oppu.trainer.examples.Variant.PLAIN,
            dev.oppu.trainer.examples.Variant.RAG, dev.oppu.trainer.examples.Variant.PAG,
            dev.oppu.trainer.examples.Variant.PAG};
        int[] ks = {0, 1, 0, 1};
        for (int i = 0; i < items.size(); i++) {
          int f = (i + u) % 4;
          dev.oppu.trainer.examples.Variant v = variants[f];
          var o = new dev.oppu.trainer.examples.ExampleBuilder.Options(v, ks[f], 200, 24);
          var expected = new dev.oppu.trainer.examples.ExampleBuilder(Task.MOVIE_TAGGING, o, w.encoder)
              .build(items, profile, 0).get(i);
          org.junit.jupiter.api.Assertions.assertArrayEquals(expected.tokens(), mixed.get(u * 7 + i).tokens(),
              "user " + u + " item " + i + " form " + f);
        }
      }
      TaskAdaptation.Report r = TaskAdaptation.run(w.lm, w.encoder, Task.MOVIE_TAGGING, users, cfg,
          dir.resolve("adapters"), null);
      assertEquals(14, r.examples());
      assertTrue(r.training().finite());
    }
  }
}
