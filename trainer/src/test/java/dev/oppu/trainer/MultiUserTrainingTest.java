package dev.oppu.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.oppu.lamp.Task;
import dev.oppu.model.LoraAdapter;
import dev.oppu.model.LoraConfig;
import dev.oppu.trainer.examples.Variant;
import dev.oppu.trainer.optim.AdamW;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A user's adapter trained in a multi-user batch equals the one its own update trains (LoRA dropout 0). */
class MultiUserTrainingTest {
  static TinyWorld world;

  @BeforeAll
  static void setUp(@TempDir Path dir) throws Exception {
    world = new TinyWorld(dir);
  }

  @AfterAll
  static void tearDown() {
    world.close();
  }

  /** TinyWorld's settings with LoRA dropout off: the one-at-a-time and the batched runs then draw no masks. */
  static UserAdapterUpdater.Settings settings() {
    UserAdapterUpdater.Settings s = TinyWorld.settings(2e-2);
    return s.withTraining(new LoraConfig(8, 16, 0.0, List.of("q_proj", "v_proj"), false),
        // at least 6 steps, up to 4 epochs: the users below train 2, 3 and 4 epochs
        new AdapterTraining.Config(2, 8, AdamW.Config.oppu(2e-2), 6, 4)).withTolerance(10);
  }

  @Test
  void epochsGrowToTheMinimumStepsWithinTheirBounds() {
    AdapterTraining.Config c = new AdapterTraining.Config(2, 4, AdamW.Config.oppu(1e-2), 24, 6);
    assertEquals(6, c.epochsFor(1), "one item: capped at max epochs");
    assertEquals(6, c.epochsFor(12), "3 steps an epoch: 18 steps, capped");
    assertEquals(3, c.epochsFor(36), "9 steps an epoch: 3 epochs reach 24 steps");
    assertEquals(2, c.epochsFor(50), "13 steps an epoch: the minimum of 2 epochs already reaches 24");
    assertEquals(2, c.epochsFor(400));
    assertEquals(2, new AdapterTraining.Config(2, 4, AdamW.Config.oppu(1e-2)).epochsFor(1), "fixed epochs");
  }

  @Test
  void batchedUpdatesEqualTheOneAtATimeUpdates() {
    UserAdapterUpdater updater = new UserAdapterUpdater(world.lm, world.encoder, settings());
    // different sizes (so users drop out of the later steps), a warm start, a replay and one with nothing new
    List<UserAdapterUpdater.Request> requests = new ArrayList<>();
    requests.add(new UserAdapterUpdater.Request("ann", Task.MOVIE_TAGGING, Variant.PLAIN,
        TinyWorld.history("ann", 30, 1), 0, Long.MIN_VALUE, null, null, 1));
    requests.add(new UserAdapterUpdater.Request("bob", Task.MOVIE_TAGGING, Variant.PLAIN,
        TinyWorld.history("bob", 13, 2), 0, Long.MIN_VALUE, null, null, 1));
    requests.add(new UserAdapterUpdater.Request("cy", Task.MOVIE_TAGGING, Variant.PLAIN,
        TinyWorld.history("cy", 5, 3), 0, Long.MIN_VALUE, null, null, 1));
    requests.add(new UserAdapterUpdater.Request("none", Task.MOVIE_TAGGING, Variant.PLAIN,
        TinyWorld.history("none", 6, 4), 6, Long.MIN_VALUE, null, null, 2));
    try (LoraAdapter warm = LoraAdapter.create(world.model.config(), settings().lora(), 9, world.manager)) {
      warm.parameters().values().forEach(p -> p.addi(0.01f)); // B non-zero: a trained previous version
      requests.add(new UserAdapterUpdater.Request("dee", Task.MOVIE_TAGGING, Variant.PLAIN,
          TinyWorld.history("dee", 24, 5), 12, Long.MIN_VALUE, null, warm, 3));

      List<UserAdapterUpdater.Outcome> alone = new ArrayList<>();
      for (UserAdapterUpdater.Request q : requests) {
        alone.add(updater.update(q.userId(), q.task(), q.variant(), q.history(), q.newFromSeq(), q.replayFromSeq(),
            q.profile(), q.previous(), q.version(), null));
      }
      List<UserAdapterUpdater.Outcome> batched = updater.updateMany(requests);
      double worst = 0;
      try {
        assertEquals(requests.size(), batched.size());
        for (int i = 0; i < requests.size(); i++) {
          UserAdapterUpdater.Outcome a = alone.get(i);
          UserAdapterUpdater.Outcome b = batched.get(i);
          String who = requests.get(i).userId();
          assertEquals(a.accepted(), b.accepted(), who + ": " + a.reason() + " / " + b.reason());
          assertEquals(a.reason(), b.reason(), who);
          assertEquals(a.coveredSeq(), b.coveredSeq(), who);
          assertEquals(a.itemsTrained(), b.itemsTrained(), who);
          assertEquals(a.heldOut(), b.heldOut(), who);
          assertEquals(a.tokens(), b.tokens(), who);
          assertEquals(a.targetTokens(), b.targetTokens(), who);
          close(a.lossBefore(), b.lossBefore(), who + " loss before");
          close(a.lossAfter(), b.lossAfter(), who + " loss after");
          close(a.heldOutBefore(), b.heldOutBefore(), who + " held-out before");
          close(a.heldOutAfter(), b.heldOutAfter(), who + " held-out after");
          if (a.adapter() == null) {
            continue;
          }
          assertNotNull(b.adapter(), who);
          assertTrue(a.lossAfter() < a.lossBefore(), who + " trained: " + a.lossBefore() + " -> " + a.lossAfter());
          double d = relativeDifference(a.adapter(), b.adapter());
          System.out.printf("%s: %d items, max |batched - alone| / max |alone| = %.3g%n", who, a.itemsTrained(), d);
          worst = Math.max(worst, d);
          assertTrue(d <= 1e-4, who + ": adapters differ by " + d + " of the largest entry");
        }
        System.out.printf("multi-user training: worst relative difference %.3g%n", worst);
      } finally {
        alone.stream().map(UserAdapterUpdater.Outcome::adapter).filter(a -> a != null).forEach(LoraAdapter::close);
        batched.stream().map(UserAdapterUpdater.Outcome::adapter).filter(a -> a != null).forEach(LoraAdapter::close);
      }
    }
  }

  private static void close(double a, double b, String what) {
    if (Double.isNaN(a)) {
      assertTrue(Double.isNaN(b), what + ": " + b);
      return;
    }
    assertEquals(a, b, 1e-4 * Math.max(1, Math.abs(a)), what);
  }

  /** max |x - y| over every entry of every tensor, over the largest |x| entry. */
  static double relativeDifference(LoraAdapter x, LoraAdapter y) {
    double diff = 0;
    double largest = 0;
    Map<String, ai.djl.ndarray.NDArray> py = y.parameters();
    for (Map.Entry<String, ai.djl.ndarray.NDArray> e : x.parameters().entrySet()) {
      float[] a = e.getValue().toFloatArray();
      float[] b = py.get(e.getKey()).toFloatArray();
      for (int i = 0; i < a.length; i++) {
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
        largest = Math.max(largest, Math.abs(a[i]));
      }
    }
    return diff / largest;
  }
}
